/**
 * The `statechat` executable as a user runs it: `node bin/statechat.js server|echo …` (and
 * `npm start -- …`) in a child process, with a temp data dir, talking to it over stdin, stdout,
 * stderr, signals and TCP.
 *
 * Every process a test spawns is killed by the `spawn` fixture's teardown, which vitest runs
 * after the test whether it passed or failed. The tests run concurrently (each one pays for
 * starting Node and tsx); a fixture, unlike a shared afterEach, only kills its own test's processes.
 */
import { spawn as spawnChild } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it as base } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { BIN, CliProcess as Cli, REPO } from '../support/cli-process.js';
import { makeDataDir, register, startTestServer, TestClient } from './harness.js';

const FAST = ['--scrypt-cost', '1024'];

interface SpawnOptions {
  stdin?: 'pipe' | 'ignore';
  env?: Record<string, string>;
  /** Run through `npm start --`, as the README says, instead of bin/statechat.js. */
  viaNpm?: boolean;
}

const it = base.extend<{ spawn: (args: string[], options?: SpawnOptions) => Cli; dataDir: string }>({
  // eslint-disable-next-line no-empty-pattern
  spawn: async ({}, use) => {
    const started: Cli[] = [];
    await use((args, options = {}) => {
      const env = { ...process.env, ...options.env };
      if (!options.env?.STATECHAT_KEY) delete env.STATECHAT_KEY;
      const [command, argv] = options.viaNpm
        ? ['npm', ['start', '--silent', '--', ...args]]
        : [process.execPath, [BIN, ...args]];
      const child = spawnChild(command, argv, {
        cwd: REPO,
        env,
        stdio: [options.stdin ?? 'pipe', 'pipe', 'pipe'],
        // npm runs the server in a child of its own: kill the whole group.
        detached: options.viaNpm === true,
      });
      const cli = new Cli(child, options.viaNpm === true);
      started.push(cli);
      return cli;
    });
    await Promise.all(started.map((cli) => cli.kill()));
  },
  // eslint-disable-next-line no-empty-pattern
  dataDir: async ({}, use) => {
    const dir = await makeDataDir();
    await use(dir);
    await fs.rm(dir, { recursive: true, force: true });
  },
});

/** Every file in a directory, by name, with its bytes. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await fs.readdir(dir)).sort()) files[name] = (await fs.readFile(path.join(dir, name))).toString('hex');
  return files;
}

describe.concurrent('statechat server', () => {
  it('prints where it listens, with the real port, and serves a client there', async ({ spawn, dataDir, expect }) => {
    const server = spawn(['server', '--port', '0', '--data-dir', dataDir, ...FAST]);

    const port = await server.port();

    expect(port).toBeGreaterThan(0);
    expect(server.stdout).toMatch(new RegExp(`statechat chat server listening on 127\\.0\\.0\\.1:${port} `));
    const client = await TestClient.connect(port);
    expect(await client.expect(/login/)).toBe(text.greeting);
  });

  it('prints its usage on --help, listing --port, and exits 0', async ({ spawn, expect }) => {
    const server = spawn(['server', '--help']);

    const { code } = await server.exited;

    expect(code).toBe(0);
    expect(server.stdout).toMatch(/--port <n>/);
  });

  it.for([
    ['an unknown flag', ['--bogus'], /Unknown option '--bogus'/],
    ['a port that is not a number', ['--port', 'nine'], /--port must be/],
  ] as const)('exits 2 with a message on %s', async ([, flags, message], { spawn, dataDir, expect }) => {
    const server = spawn(['server', ...flags, '--data-dir', dataDir]);

    const { code } = await server.exited;

    expect(code).toBe(2);
    expect(server.stderr).toMatch(message);
    expect(server.stdout).toBe('');
  });

  it('says so once when it makes a new data dir, with its absolute path', async ({ spawn, dataDir, expect }) => {
    const fresh = path.join(dataDir, 'not-yet');
    const server = spawn(['server', '--port', '0', '--data-dir', fresh, ...FAST]);

    await server.port();

    expect(server.stdout).toContain(`data dir: created a new data dir at ${path.resolve(fresh)} with a new key`);
    expect(await fs.readdir(fresh)).toContain('statechat.key');
  });

  it('does not say so on a data dir it used before', async ({ spawn, dataDir, expect }) => {
    const first = spawn(['server', '--port', '0', '--data-dir', dataDir, ...FAST]);
    await first.port();
    first.type('shutdown');
    expect((await first.exited).code).toBe(0);

    const again = spawn(['server', '--port', '0', '--data-dir', dataDir, '--no-create', ...FAST]);
    await again.port();

    expect(again.stdout).not.toContain('created a new data dir');
  });

  it('refuses with --no-create a data dir that does not exist (a typo), and makes nothing', async ({ spawn, dataDir, expect }) => {
    const typo = path.join(dataDir, 'dat');
    const server = spawn(['server', '--port', '0', '--data-dir', typo, '--no-create', ...FAST]);
    const { code } = await server.exited;

    expect(code).toBe(1);
    expect(server.stderr).toContain(`no data dir at ${path.resolve(typo)} (it does not exist or is empty), and --no-create was given`);
    expect(await fs.readdir(dataDir)).toEqual([]);
  });

  it('exits non-zero with "in use" when the port is taken', async ({ spawn, dataDir, expect, onTestFinished }) => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const { port } = blocker.address() as net.AddressInfo;

    const server = spawn(['server', '--port', String(port), '--data-dir', dataDir, ...FAST]);
    const { code } = await server.exited;

    expect(code).not.toBe(0);
    expect(server.stderr).toMatch(/in use/);
  });

  it('refuses to start on a corrupt clients.csv, naming the file and line, and leaves it as it was', async ({
    spawn,
    dataDir,
    expect,
  }) => {
    const clients = path.join(dataDir, 'clients.csv');
    await fs.writeFile(clients, 'login_key,login,address,password,registered_at\nonly,three,columns\n');
    const before = await snapshot(dataDir);

    const server = spawn(['server', '--port', '0', '--data-dir', dataDir, ...FAST], {
      env: { STATECHAT_KEY: 'ab'.repeat(32) }, // a key, so that the CSV itself is what is wrong
    });
    const { code } = await server.exited;

    expect(code).not.toBe(0);
    expect(server.stderr).toContain(`${clients}, line 2`);
    expect(await snapshot(dataDir)).toEqual(before);
  });

  it('refuses to start when clients.csv has records but the key is missing, and changes no file', async ({
    spawn,
    dataDir,
    expect,
  }) => {
    const t = await startTestServer({ dataDir });
    await register(t.port, 'alice', 'secret1');
    await t.stop();
    await fs.rm(path.join(dataDir, 'statechat.key'));
    const before = await snapshot(dataDir);

    const server = spawn(['server', '--port', '0', '--data-dir', dataDir, ...FAST]);
    const { code } = await server.exited;

    expect(code).not.toBe(0);
    expect(server.stderr).toMatch(/no key was found: set STATECHAT_KEY or restore .*statechat\.key/);
    expect(await snapshot(dataDir)).toEqual(before);
  });

  it.for(['SIGTERM', 'SIGINT'] as const)('shuts down cleanly on %s, telling a connected client, and exits 0', async (
    signal,
    { spawn, dataDir, expect },
  ) => {
    const server = spawn(['server', '--port', '0', '--data-dir', dataDir, ...FAST]);
    const client = await TestClient.connect(await server.port());
    client.send('alice', 'secret1', 'secret1');
    await client.expect(/welcome/i);

    server.signal(signal);

    expect(await client.expect(/shutting down/)).toBe(text.shuttingDown);
    await client.expectClosed();
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stdout).toMatch(/server stopped/);
  });

  it('keeps every message a client saw in history.csv, even when the process is killed outright', async ({
    spawn,
    dataDir,
    expect,
  }) => {
    const server = spawn(['server', '--port', '0', '--data-dir', dataDir, ...FAST]);
    const port = await server.port();
    const [alice, bob] = await Promise.all([TestClient.connect(port), TestClient.connect(port)]);
    alice.send('alice', 'secret1', 'secret1');
    bob.send('bob', 'secret2', 'secret2');
    await Promise.all([alice.expect(/welcome/i), bob.expect(/welcome/i)]);
    alice.send(...Array.from({ length: 100 }, (_, i) => `durable ${i}`));
    await bob.expect('alice: durable 0');

    server.signal('SIGKILL');
    await server.exited;

    const seen = bob.lines.filter((l) => / alice: durable \d+$/.test(l)).map((l) => l.slice(l.indexOf('durable')));
    const stored = await fs.readFile(path.join(dataDir, 'history.csv'), 'utf8');
    expect(seen.length).toBeGreaterThan(0);
    for (const message of seen) expect(stored).toContain(`${message}\n`);
  });

  it('shuts down on "shutdown" typed on its console, and exits 0', async ({ spawn, dataDir, expect }) => {
    const server = spawn(['server', '--port', '0', '--data-dir', dataDir, ...FAST]);
    await server.port();

    server.type('shutdown');

    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stdout).toMatch(/server stopped/);
  });

  it('keeps running when its stdin is at end of file, and still serves clients', async ({ spawn, dataDir, expect }) => {
    const server = spawn(['server', '--port', '0', '--data-dir', dataDir, ...FAST], { stdin: 'ignore' });
    const port = await server.port();
    await server.waitForStdout(/console input ended; the server keeps running/);

    const client = await TestClient.connect(port);

    expect(await client.expect(/login/)).toBe(text.greeting);
    expect(server.running).toBe(true);
  });

  it('runs the same server through npm start --', async ({ spawn, dataDir, expect }) => {
    const server = spawn(['--port', '0', '--data-dir', dataDir, ...FAST], { viaNpm: true });
    const port = await server.port();
    const client = await TestClient.connect(port);
    await client.expect(/login/);

    server.type('shutdown');

    expect(await client.expect(/shutting down/)).toBe(text.shuttingDown);
    expect((await server.exited).code).toBe(0);
  });
});

describe.concurrent('statechat echo', () => {
  it('starts the echo server, which sends each line back', async ({ spawn, dataDir, expect }) => {
    const server = spawn(['echo', '--port', '0', '--data-dir', dataDir]);
    const port = await server.port();
    expect(server.stdout).toMatch(/statechat echo server listening on/);
    const client = await TestClient.connect(port);
    await client.expect(/echo/);

    client.send('ping');

    expect(await client.expect('ping')).toBe('ping');
  });
});
