import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  KEY_FILE_NAME,
  OWASP_SCRYPT,
  hashPassword,
  keyringFromKey,
  loadKeyring,
  verifyPassword,
} from '../../src/io/crypto.js';
import { InsecureKeyFileError, InvalidKeyError, KeyMismatchError, KeyMissingError } from '../../src/io/errors.js';

const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

/** Flips one bit in byte `index` of part `part` (1 = IV, 2 = tag, 3 = ciphertext) of a token. */
function tamper(token: string, part: number, index = 0): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[index] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('keyring', () => {
  const keyring = keyringFromKey(randomBytes(32));

  it('round-trips unicode, commas and the empty string', () => {
    for (const plain of ['Alice', '', 'Zoë, "the" 😀', '127.0.0.1', '::ffff:10.0.0.1']) {
      expect(keyring.decrypt(keyring.encrypt(plain))).toBe(plain);
    }
  });

  it('produces a single ASCII token without CSV-special characters', () => {
    expect(keyring.encrypt('Alice, "x"\n')).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/);
  });

  it('uses a fresh IV for every encryption', () => {
    expect(keyring.encrypt('Alice')).not.toBe(keyring.encrypt('Alice'));
  });

  it.each([
    ['IV', 1],
    ['tag', 2],
    ['ciphertext', 3],
  ])('rejects a token with one flipped bit in its %s', (_name, part) => {
    const token = keyring.encrypt('Alice');
    expect(() => keyring.decrypt(tamper(token, part))).toThrow(KeyMismatchError);
  });

  it('rejects malformed tokens', () => {
    const token = keyring.encrypt('Alice');
    const junk = [
      '',
      'v1',
      'v2' + token.slice(2),
      token + '.',
      token.replace(/\.[^.]*$/, '.!!!'),
      token + '!', // Node's base64 decoder would skip this; a damaged token must not decrypt
      'v1.a.b.c',
    ];
    for (const bad of junk) {
      expect(() => keyring.decrypt(bad)).toThrow(KeyMismatchError);
    }
  });

  it('refuses to decrypt with another key', () => {
    const other = keyringFromKey(randomBytes(32));
    expect(() => other.decrypt(keyring.encrypt('Alice'))).toThrow(KeyMismatchError);
  });

  it('derives the login key case-insensitively and NFC-normalized', () => {
    expect(keyring.loginKey('Alice')).toMatch(/^[0-9a-f]{64}$/);
    expect(keyring.loginKey('ALICE')).toBe(keyring.loginKey('alice'));
    expect(keyring.loginKey('Zo\u00EB')).toBe(keyring.loginKey('ZO\u0045\u0308'));
    expect(keyring.loginKey('alice')).not.toBe(keyring.loginKey('alicf'));
  });

  it('derives a different login key under a different master key', () => {
    expect(keyringFromKey(randomBytes(32)).loginKey('alice')).not.toBe(keyring.loginKey('alice'));
  });

  it('rejects a master key that is not 32 bytes', () => {
    expect(() => keyringFromKey(randomBytes(16))).toThrow(InvalidKeyError);
  });
});

describe('loadKeyring', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-crypto-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const keyFile = () => path.join(dir, KEY_FILE_NAME);

  it('creates a key file with mode 0600 and reads it back next time', async () => {
    const first = await loadKeyring({ dataDir: dir, mayCreate: true });
    expect(first.source).toBe('created');
    const stat = await fs.stat(keyFile());
    expect(stat.mode & 0o777).toBe(0o600);
    expect(await fs.readFile(keyFile(), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);

    const second = await loadKeyring({ dataDir: dir, mayCreate: false });
    expect(second.source).toBe('file');
    expect(second.keyring.decrypt(first.keyring.encrypt('Alice'))).toBe('Alice');
    expect((await fs.readdir(dir)).sort()).toEqual([KEY_FILE_NAME]); // no temp file left
  });

  it('gives two processes starting together the same key', async () => {
    const [a, b] = await Promise.all([
      loadKeyring({ dataDir: dir, mayCreate: true }),
      loadKeyring({ dataDir: dir, mayCreate: true }),
    ]);
    expect(b.keyring.loginKey('alice')).toBe(a.keyring.loginKey('alice'));
    expect([a.source, b.source].sort()).toEqual(['created', 'file']);
  });

  it.for([0o644, 0o640, 0o604, 0o660])('refuses a key file of mode %o, telling the user to chmod 600 it, and leaves it as it was', async (mode) => {
    await fs.writeFile(keyFile(), `${randomBytes(32).toString('hex')}\n`);
    await fs.chmod(keyFile(), mode);
    const before = await fs.readFile(keyFile());
    const attempt = loadKeyring({ dataDir: dir, mayCreate: true });
    await expect(attempt).rejects.toThrow(InsecureKeyFileError);
    await expect(attempt).rejects.toThrow(`chmod 600 ${keyFile()}`);
    expect((await fs.stat(keyFile())).mode & 0o777).toBe(mode);
    expect(await fs.readFile(keyFile())).toEqual(before);
  });

  it('uses a key file readable by others when allowed, and says its mode', async () => {
    const key = randomBytes(32);
    await fs.writeFile(keyFile(), `${key.toString('hex')}\n`);
    await fs.chmod(keyFile(), 0o644);
    const { keyring, insecureMode } = await loadKeyring({ dataDir: dir, mayCreate: false, allowInsecureKey: true });
    expect(keyring.loginKey('a')).toBe(keyringFromKey(key).loginKey('a'));
    expect(insecureMode! & 0o777).toBe(0o644);
    expect((await fs.stat(keyFile())).mode & 0o777).toBe(0o644);
  });

  it('reports no insecure mode for a 0600 key file', async () => {
    await fs.writeFile(keyFile(), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    expect((await loadKeyring({ dataDir: dir, mayCreate: false })).insecureMode).toBeUndefined();
  });

  it('accepts a key file without a trailing newline', async () => {
    const key = randomBytes(32);
    await fs.writeFile(keyFile(), key.toString('hex'), { mode: 0o600 });
    const { keyring } = await loadKeyring({ dataDir: dir, mayCreate: false });
    expect(keyring.loginKey('a')).toBe(keyringFromKey(key).loginKey('a'));
  });

  it('rejects a key file that does not hold a key', async () => {
    await fs.writeFile(keyFile(), 'not a key\n', { mode: 0o600 });
    await expect(loadKeyring({ dataDir: dir, mayCreate: true })).rejects.toThrow(InvalidKeyError);
  });

  it('refuses to invent a key when records exist but no key does', async () => {
    const attempt = loadKeyring({ dataDir: dir, mayCreate: false });
    await expect(attempt).rejects.toThrow(KeyMissingError);
    await expect(attempt).rejects.toThrow(/STATECHAT_KEY.*statechat\.key/);
    await expect(fs.stat(keyFile())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ['hex', (key: Buffer) => key.toString('hex')],
    ['upper-case hex', (key: Buffer) => key.toString('hex').toUpperCase()],
    ['base64', (key: Buffer) => key.toString('base64')],
    ['base64url', (key: Buffer) => key.toString('base64url')],
  ])('takes STATECHAT_KEY in %s over any key file', async (_name, encode) => {
    const key = randomBytes(32);
    const { keyring, source } = await loadKeyring({ dataDir: dir, envKey: encode(key), mayCreate: true });
    expect(source).toBe('env');
    expect(keyring.loginKey('alice')).toBe(keyringFromKey(key).loginKey('alice'));
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it.each([
    ['too short hex', randomBytes(31).toString('hex')],
    ['base64 of 48 bytes', randomBytes(48).toString('base64')],
    ['empty', ''],
    ['garbage', 'correct horse battery staple'],
  ])('rejects a STATECHAT_KEY that is %s, without echoing it', async (_name, envKey) => {
    const attempt = loadKeyring({ dataDir: dir, envKey, mayCreate: true });
    await expect(attempt).rejects.toThrow(InvalidKeyError);
    const message = await attempt.catch((err: Error) => err.message);
    if (envKey) expect(message).not.toContain(envKey);
  });
});

describe('passwords', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const stored = await hashPassword('s3cret, "quoted" ü', FAST_SCRYPT);
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('s3cret, "quoted" ü', stored)).toBe(true);
    expect(await verifyPassword('s3cret, "quoted" u', stored)).toBe(false);
  });

  it('handles the empty password', async () => {
    const stored = await hashPassword('', FAST_SCRYPT);
    expect(await verifyPassword('', stored)).toBe(true);
    expect(await verifyPassword(' ', stored)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('pw', FAST_SCRYPT)).not.toBe(await hashPassword('pw', FAST_SCRYPT));
  });

  it('answers false for a malformed stored hash', async () => {
    const stored = await hashPassword('pw', FAST_SCRYPT);
    const parts = stored.split('$');
    const variants = [
      '',
      'bcrypt$x',
      `scrypt$${stored.slice('scrypt'.length)}`, // an empty field
      [...parts.slice(0, 1), '1000', ...parts.slice(2)].join('$'), // N not a power of two
      [...parts.slice(0, 1), String(2 ** 30), ...parts.slice(2)].join('$'), // absurd cost
      [...parts.slice(0, 5), ''].join('$'),
    ];
    for (const variant of variants) expect(await verifyPassword('pw', variant)).toBe(false);
  });

  it('defaults to the OWASP scrypt parameters', () => {
    expect(OWASP_SCRYPT).toEqual({ N: 131072, r: 8, p: 1 });
  });
});
