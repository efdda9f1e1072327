/**
 * The terminal client across a server restart: the real client (`statechat client`, piped stdin)
 * against the real server *process*, which is stopped and started again on the same port and data
 * dir. Every wait is bounded by an event (a line printed, a process exited); the bounds are hang
 * guards for a broken build on a loaded machine, not assertions about speed.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN, CliProcess, REPO } from '../support/cli-process.js';
import { withHangGuard } from '../support/waiting.js';
import { startServerProcess } from '../hostile/server-process.js';
import { makeDataDir, signIn } from './harness.js';

/** A cheap scrypt: these tests are about connections, not password hashing. */
const FAST = ['--scrypt-cost', '1024'];
/** Stopping a server process (history flush, lock release) on a loaded machine. */
const STOP_MS = 20_000;

function startServer(dataDir: string, port = 0): CliProcess {
  return startServerProcess(['--port', String(port), '--data-dir', dataDir, ...FAST], onTestFinished);
}

/** `statechat client <args>` with piped stdin, killed when the test finishes. */
function startClient(args: string[]): CliProcess {
  const child = spawn(process.execPath, [BIN, 'client', ...args], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const client = new CliProcess(child);
  onTestFinished(() => client.kill());
  return client;
}

async function stop(server: CliProcess, how: 'console' | 'SIGTERM'): Promise<void> {
  if (how === 'console') server.type('shutdown');
  else server.signal('SIGTERM');
  const { code } = await withHangGuard(server.exited, STOP_MS, 'the server process to stop');
  expect(code).toBe(0);
}

/** Registers `login` by answering each prompt once it is shown (a line typed ahead of its prompt may be dropped). */
async function register(client: CliProcess, login: string, password: string): Promise<void> {
  await client.waitForStdout(/Enter your login:/);
  client.type(login);
  await client.waitForStdout(/Choose a password/);
  client.type(password);
  await client.waitForStdout(/Repeat the password:/);
  client.type(password);
  await client.waitForStdout(new RegExp(`Welcome, ${login}!`));
}

/** What the client printed after `marker` (its last occurrence), for patterns that must come after it. */
function after(client: CliProcess, marker: string): string {
  const at = client.stdout.lastIndexOf(marker);
  return at === -1 ? '' : client.stdout.slice(at);
}

describe('statechat client across a server restart (real server process)', { timeout: 90_000 }, () => {
  it('says the connection was lost, reconnects when the server is back, sends --login itself, and chats again', async () => {
    const dataDir = await makeDataDir();
    const first = startServer(dataDir);
    const port = await first.port();
    const client = startClient(['--port', String(port), '--login', 'alice']);

    // first session: --login answers the login prompt, the user registers
    await client.waitForStdout(/Enter your login:\nalice \(--login\)\n[\s\S]*Choose a password/);
    client.type('secret1');
    await client.waitForStdout(/Repeat the password:/);
    client.type('secret1');
    await client.waitForStdout(/Welcome, alice!/);

    await stop(first, 'console');
    await client.waitForStdout(/The server is shutting down\. Bye!\nconnection to the server lost — reconnecting…/);
    expect(client.running).toBe(true);

    const second = startServer(dataDir, port);
    expect(await second.port()).toBe(port);

    // a new session: the login prompt again, answered by --login; the password is typed again
    await client.waitForStdout(/reconnecting…[^\n]*\n(?:[^\n]*\n)*?connected to 127\.0\.0\.1:\d+\n[\s\S]*Enter your login:\nalice \(--login\)\nPassword:/);
    client.type('secret1');
    await client.waitForStdout(/reconnecting…[\s\S]*Welcome back, alice!/);
    const bob = await signIn(port, 'bob', 'secret2');
    client.type('hello again');
    expect(await bob.expect(/alice: hello again$/)).toMatch(/alice: hello again$/);
    bob.close();

    client.type('/quit');
    const { code } = await withHangGuard(client.exited, STOP_MS, 'the client to exit after /quit');
    expect(code).toBe(0);
    expect(client.stdout.match(/connection to the server lost/g)).toHaveLength(1);
    expect(client.stdout.match(/alice \(--login\)/g)).toHaveLength(2);
    expect(after(client, 'reconnecting…')).not.toContain('waiting for server');
  });

  it('without --login: the login prompt again after the restart (SIGTERM), and the user signs in by hand', async () => {
    const dataDir = await makeDataDir();
    const first = startServer(dataDir);
    const port = await first.port();
    const client = startClient(['--port', String(port)]);
    await register(client, 'carol', 'secret3');

    await stop(first, 'SIGTERM');
    await client.waitForStdout(/connection to the server lost — reconnecting…/);
    startServer(dataDir, port);

    await client.waitForStdout(/reconnecting…[\s\S]*Enter your login:/);
    client.type('carol');
    await client.waitForStdout(/reconnecting…[\s\S]*Password:/);
    client.type('secret3');
    await client.waitForStdout(/reconnecting…[\s\S]*Welcome back, carol!/);
    expect(after(client, 'reconnecting…')).not.toContain('carol (--login)');
  });

  it('exits at once, code 0, on Ctrl-C while waiting for the server to come back', async () => {
    const dataDir = await makeDataDir();
    const server = startServer(dataDir);
    const port = await server.port();
    const client = startClient(['--port', String(port)]);
    await client.waitForStdout(/Enter your login:/);

    await stop(server, 'console');
    await client.waitForStdout(/reconnecting…/);
    client.signal('SIGINT');

    const { code } = await withHangGuard(client.exited, STOP_MS, 'the client to exit on SIGINT');
    expect(code).toBe(0);
  });

  it('with --no-reconnect, exits 0 when the server stops, as before', async () => {
    const dataDir = await makeDataDir();
    const server = startServer(dataDir);
    const port = await server.port();
    const client = startClient(['--port', String(port), '--no-reconnect']);
    await register(client, 'dave', 'secret4');

    await stop(server, 'console');

    const { code } = await withHangGuard(client.exited, STOP_MS, 'the client to exit when the server stopped');
    expect(code).toBe(0);
    expect(client.stdout).toMatch(/The server is shutting down\. Bye!\nconnection closed by server\n$/);
    expect(client.stdout).not.toContain('reconnecting');
  });
});
