/**
 * TLS: `--tls-cert` / `--tls-key` make the server speak TLS; the terminal client's `--tls`
 * verifies the server's certificate (against `--ca` for a self-signed one). A throwaway
 * certificate for 127.0.0.1 and localhost is made with openssl for this file.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/actors/server.js';
import { DEFAULTS, parseServerArgs } from '../../src/io/config.js';
import { ConfigError, TlsSetupError } from '../../src/io/errors.js';
import { text } from '../../src/machines/protocol.js';
import { eventually, withHangGuard } from '../support/waiting.js';
import { TestClient, useTestServers } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const start = useTestServers();

let dir: string;
let certFile: string;
let keyFile: string;
let ca: Buffer;
/** The key of another certificate; a file that is not PEM. */
let otherKeyFile: string;
let notPem: string;

function makeCertificate(name: string, san: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.cert.pem`);
  const key = path.join(dir, `${name}.key.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-days', '1',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-tls-'));
  ({ cert: certFile, key: keyFile } = makeCertificate('localhost', 'IP:127.0.0.1,DNS:localhost'));
  ({ key: otherKeyFile } = makeCertificate('elsewhere.invalid', 'DNS:elsewhere.invalid'));
  notPem = path.join(dir, 'not.pem');
  await fs.writeFile(notPem, 'this is not a certificate\n');
  ca = await fs.readFile(certFile);
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

const tlsServer = (overrides = {}) => start({ tls: { certFile, keyFile }, ...overrides });

// ───────────────────────────── the terminal client as a process ─────────────────────────────

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function runClient(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/client-main.ts', ...args], { cwd: ROOT, stdio: 'pipe' });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    type: (...lines: string[]) => child.stdin.write(lines.map((l) => `${l}\n`).join('')),
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    /** Resolves when the client's output matches; fails if it ends first, or after 15 s (a hang guard). */
    waitFor(pattern: RegExp): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(stdout)) done(resolve);
        };
        const fail = () => done(() => reject(new Error(`client did not print ${pattern}:\n${stdout}\nstderr:\n${stderr}`)));
        const guard = setTimeout(fail, 15_000);
        const done = (settle: () => void) => {
          clearTimeout(guard);
          child.stdout.off('data', check);
          child.off('close', fail);
          settle();
        };
        child.stdout.on('data', check);
        child.once('close', fail); // after its output has all been read, unlike 'exit'
        check();
      });
    },
  };
}

describe('a TLS server', () => {
  it('runs the whole sign-in and chat over TLS with a client that verifies its certificate', async () => {
    const t = await tlsServer();
    const alice = await TestClient.connectTls(t.port, { ca });
    const bob = await TestClient.connectTls(t.port, { ca, servername: 'localhost' });

    expect((alice.socket as import('node:tls').TLSSocket).authorized).toBe(true);
    alice.send('alice', 'secret1', 'secret1');
    bob.send('bob', 'secret2', 'secret2');
    expect(await alice.expect(/welcome/i)).toBe(text.welcomeNew('alice'));
    await bob.expect(/welcome/i);
    alice.send('hello over TLS');
    expect(await bob.expect('hello over TLS')).toMatch(/ alice: hello over TLS$/);
    alice.send('/quit');
    expect(await alice.expect('Bye')).toBe(text.bye);
    await alice.expectClosed();
  });

  it('is refused by a client that does not trust its certificate, and by one that expects another name', async () => {
    const t = await tlsServer();

    const untrusted = await TestClient.connectTls(t.port).catch((err: NodeJS.ErrnoException) => err);
    const otherName = await TestClient.connectTls(t.port, { ca, servername: 'elsewhere.invalid' }).catch(
      (err: NodeJS.ErrnoException) => err,
    );

    expect(untrusted).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(otherName).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    // Neither got as far as a connection actor; the next client is served as usual.
    const fine = await TestClient.connectTls(t.port, { ca });
    expect(await fine.expect(/login/)).toBe(text.greeting);
    expect(t.server.connections.size).toBe(1);
  });

  it('closes a plain-TCP client, and one that never finishes its handshake, without serving either', async () => {
    const t = await tlsServer({ loginTimeoutMs: 500 });
    const plain = await TestClient.connect(t.port);
    plain.send('alice');
    const silent = await TestClient.connect(t.port);

    await plain.expectClosed();
    // The handshake timeout is the login timeout (500 ms), not Node's default of 120 s: a hang
    // guard of 3 s tells them apart without measuring anything.
    await silent.expectClosed(3000);

    expect(plain.lines.join('')).not.toContain('login'); // never greeted in clear
    expect(t.output()).toMatch(/TLS handshake failed from=127\.0\.0\.1: .*(wrong version|http request|ERR_SSL)/i);
    expect(t.output()).toMatch(/TLS handshake failed from=127\.0\.0\.1: .*ERR_TLS_HANDSHAKE_TIMEOUT/);
    expect(t.server.connections.size).toBe(0);
  });

  it('holds a TLS client while listening is stopped: handshake done, no byte of the chat, then greeted on start listen', async () => {
    const t = await tlsServer();
    await t.ask('stop listen', /listening paused/);

    const held = await TestClient.connectTls(t.port, { ca }); // resolves after the handshake
    held.send('alice', 'secret1', 'secret1', 'typed while held');
    await t.waitForOutput(/connection held conn=\w+ .*1 waiting/);
    const bob = await TestClient.connectTls(t.port, { ca });
    await t.waitForOutput(/2 waiting/);
    expect(await t.ask('status', /listener: .*/)).toMatch(/^listener: paused on .* \(2 waiting\)$/m);
    expect(held.bytesReceived).toBe(0);

    await t.ask('start listen', /listening resumed/);

    expect(await held.expect(/welcome/i)).toBe(text.welcomeNew('alice'));
    expect(held.lines[0]).toBe(text.greeting);
    await bob.expect(/^Enter your login:/);
    bob.send('bob', 'secret2', 'secret2');
    await bob.expect(/welcome/i);
    held.send('and now');
    expect(await bob.expect('and now')).toMatch(/ alice: and now$/);
  });

  it('disconnects a TLS client that never reads once its unread output passes the bound', async () => {
    const t = await tlsServer({ maxSendBufferBytes: 64 * 1024 });
    const [alice, eve] = await Promise.all([TestClient.connectTls(t.port, { ca }), TestClient.connectTls(t.port, { ca })]);
    alice.send('alice', 'secret1', 'secret1');
    eve.send('eve', 'secret5', 'secret5');
    await Promise.all([alice.expect(/welcome/i), eve.expect(/welcome/i)]);
    eve.socket.pause();

    for (let round = 0; round < 400 && !/slow consumer/.test(t.output()); round++) {
      alice.send(...Array.from({ length: 20 }, (_, i) => `${round}.${i} ${'z'.repeat(4000)}`));
      await alice.sync();
    }

    await t.waitForOutput(/slow consumer conn=\w+: more than 65536 bytes unread, disconnected/);
    // The notice may come inside one of alice's syncs above: looked for among every line she got.
    await eventually(() => alice.lines.includes('* eve left the chat'), 'alice is told eve left');
  });

  it('does not wait at shutdown for a connection still in its handshake', async () => {
    const t = await tlsServer(); // the default 60 s handshake timeout
    const stalled = await TestClient.connect(t.port); // TCP, no ClientHello
    await eventually(() => t.server.listener.handshaking === 1, 'the server to be waiting for the handshake');

    // Waiting for the handshake would take its 60 s timeout: 10 s is a hang guard, not a measure.
    await withHangGuard(t.server.shutdown(), 10_000, 'the shutdown (it waited for the stalled handshake)');

    await stalled.expectClosed();
  });
});

describe('TLS set-up errors', () => {
  it.each([
    ['a certificate file that does not exist', () => ({ certFile: path.join(dir, 'missing.pem'), keyFile }), /the TLS certificate .*missing\.pem cannot be read/],
    ['a key that is not the certificate’s', () => ({ certFile, keyFile: otherKeyFile }), /cannot use .* with .*: both must be PEM, and the key must be the certificate's/],
    ['a certificate that is not PEM', () => ({ certFile: notPem, keyFile }), /cannot use .*not\.pem/],
  ])('refuses to start on %s, before touching the data dir', async (_, files, message) => {
    const dataDir = path.join(dir, `never-created-${Math.random().toString(36).slice(2)}`);

    const started = createServer({ ...DEFAULTS, port: 0, dataDir, envKey: undefined, tls: files() }, { stdout: process.stdout });

    const err = await started.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TlsSetupError);
    expect((err as Error).message).toMatch(message);
    await expect(fs.access(dataDir)).rejects.toThrow();
  });

  it('wants --tls-cert and --tls-key together', () => {
    expect(() => parseServerArgs(['--tls-cert', certFile], 'chat')).toThrow(ConfigError);
    expect(() => parseServerArgs(['--tls-key', keyFile], 'chat')).toThrow(/go together/);
    const parsed = parseServerArgs(['--tls-cert', certFile, '--tls-key', keyFile], 'chat');
    expect(parsed.help === false && parsed.config.tls).toEqual({ certFile, keyFile });
  });
});

describe('the terminal client with --tls (a child process)', () => {
  it('signs in and chats with --tls --ca, then /quit exits 0', async () => {
    const t = await tlsServer();
    const bob = await TestClient.connectTls(t.port, { ca });
    bob.send('bob', 'secret2', 'secret2');
    await bob.expect(/welcome/i);
    const client = runClient(['--port', String(t.port), '--tls', '--ca', certFile]);

    client.type('alice', 'secret1', 'secret1');
    await client.waitFor(/Welcome, alice!/);
    client.type('typed in the real client');
    expect(await bob.expect('typed in the real client')).toMatch(/ alice: typed in the real client$/);
    client.type('/quit');

    expect(await client.exited).toBe(0);
    expect(client.stdout()).toMatch(/Bye!/);
  });

  it('refuses a server whose certificate it cannot verify (no --ca): says why and exits 1', async () => {
    const t = await tlsServer();
    const client = runClient(['--port', String(t.port), '--tls']);

    expect(await client.exited).toBe(1);
    expect(client.stdout()).toMatch(
      new RegExp(`cannot connect to 127\\.0\\.0\\.1:${t.port}: DEPTH_ZERO_SELF_SIGNED_CERT .*not trusted — pass --ca`),
    );
  });

  it('connects without verifying with --insecure, and says loudly that it is insecure', async () => {
    const t = await tlsServer();
    const client = runClient(['--port', String(t.port), '--insecure']);

    client.type('carol', 'secret3', 'secret3');
    await client.waitFor(/Welcome, carol!/);
    client.type('/quit');

    expect(await client.exited).toBe(0);
    expect(client.stderr()).toMatch(/WARNING: --insecure: the server's certificate is NOT verified/);
  });

  it('says a plain server does not speak TLS', async () => {
    const t = await start();
    const client = runClient(['--port', String(t.port), '--tls', '--ca', certFile]);

    expect(await client.exited).toBe(1);
    expect(client.stdout()).toMatch(/does not seem to speak TLS/);
  });
});

