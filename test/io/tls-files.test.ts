/**
 * The TLS private key is a secret like the master key: a key file that group or others can read
 * is refused (ssh's rule) unless --allow-insecure-key says otherwise.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsecureKeyFileError, TlsSetupError } from '../../src/io/errors.js';
import { loadTlsCredentials } from '../../src/io/tls-files.js';

let dir: string;
let certFile: string;
let keyFile: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-tls-files-'));
  certFile = path.join(dir, 'cert.pem');
  keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/CN=localhost', '-days', '1', '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('loadTlsCredentials', () => {
  it('loads a 0600 key with its certificate, even when the certificate is world-readable', async () => {
    await fs.chmod(keyFile, 0o600);
    await fs.chmod(certFile, 0o644);
    const { cert, key } = await loadTlsCredentials({ certFile, keyFile });
    expect(cert.toString()).toMatch(/BEGIN CERTIFICATE/);
    expect(key.toString()).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('refuses a key file that group or others can read, telling the user to chmod 600 it', async () => {
    await fs.chmod(keyFile, 0o640);
    try {
      const attempt = loadTlsCredentials({ certFile, keyFile });
      await expect(attempt).rejects.toThrow(InsecureKeyFileError);
      await expect(attempt).rejects.toThrow(`run "chmod 600 ${keyFile}"`);
      expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o640);
    } finally {
      await fs.chmod(keyFile, 0o600);
    }
  });

  it('uses such a key file when allowed', async () => {
    await fs.chmod(keyFile, 0o644);
    try {
      const { key } = await loadTlsCredentials({ certFile, keyFile }, true);
      expect(key.toString()).toMatch(/BEGIN PRIVATE KEY/);
    } finally {
      await fs.chmod(keyFile, 0o600);
    }
  });

  it('still says a missing key file cannot be read', async () => {
    await expect(loadTlsCredentials({ certFile, keyFile: path.join(dir, 'absent.pem') })).rejects.toThrow(TlsSetupError);
  });

  it('says which file cannot be read, the certificate or the key, and why', async () => {
    const absent = path.join(dir, 'absent.pem');
    const noCert = loadTlsCredentials({ certFile: absent, keyFile });
    await expect(noCert).rejects.toThrow(TlsSetupError);
    await expect(noCert).rejects.toThrow(`the TLS certificate ${absent} cannot be read (ENOENT: `);
    await expect(noCert).rejects.toMatchObject({ cause: { code: 'ENOENT' } });
    await expect(loadTlsCredentials({ certFile, keyFile: dir })).rejects.toThrow(`the TLS key ${dir} cannot be read (EISDIR: `);
  });

  it('refuses a certificate that is not PEM, or a key that is not the certificate\'s, naming both files', async () => {
    const junk = path.join(dir, 'junk.pem');
    await fs.writeFile(junk, 'not a certificate\n');
    const because = "both must be PEM, and the key must be the certificate's.";
    const notPem = loadTlsCredentials({ certFile: junk, keyFile });
    await expect(notPem).rejects.toThrow(TlsSetupError);
    await expect(notPem).rejects.toThrow(new RegExp(`^cannot use ${junk} with ${keyFile} \\(.+\\): ${because}$`));
    await expect(notPem).rejects.toMatchObject({ cause: expect.any(Error) });

    const otherKey = path.join(dir, 'other-key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey], { stdio: 'ignore' });
    await fs.chmod(otherKey, 0o600);
    await expect(loadTlsCredentials({ certFile, keyFile: otherKey })).rejects.toThrow(
      new RegExp(`^cannot use ${certFile} with ${otherKey} \\(.+\\): ${because}$`),
    );
  });

  it('closes every file it opened, whether it loads the credentials or refuses the key', async () => {
    const openFds = async () => (await fs.readdir('/proc/self/fd')).length;
    await fs.chmod(keyFile, 0o600);
    await loadTlsCredentials({ certFile, keyFile }); // warm up: whatever Node opens once
    const before = await openFds();
    for (let i = 0; i < 5; i++) await loadTlsCredentials({ certFile, keyFile });
    await fs.chmod(keyFile, 0o644);
    try {
      for (let i = 0; i < 5; i++) await expect(loadTlsCredentials({ certFile, keyFile })).rejects.toThrow(InsecureKeyFileError);
    } finally {
      await fs.chmod(keyFile, 0o600);
    }
    expect(await openFds()).toBe(before);
  });
});
