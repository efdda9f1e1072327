/**
 * The client as a user runs it: a child process (`src/cli/client-main.ts`) with piped stdin,
 * against a tiny scripted line server on 127.0.0.1 started inside each test — not the real
 * statechat server, so these tests pin the client's side of the protocol only.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runClient } from '../../src/cli/client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = 'src/cli/client-main.ts';
const WAIT_MS = 8_000;

// ───────────────────────────── helpers ─────────────────────────────

/** Rejects after `ms` with `what` in the message, so a hung test says what it was waiting for. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface ServerConnection {
  socket: net.Socket;
  lines: string[];
  say(...lines: string[]): void;
  /** Resolves once the client has sent exactly this line. */
  received(line: string): Promise<void>;
}

interface FakeServer {
  port: number;
  connections: ServerConnection[];
  /** Resolves with the n-th (1-based) connection once it is accepted. */
  connection(n: number): Promise<ServerConnection>;
  close(): Promise<void>;
}

/**
 * A line server speaking the statechat wire format (CRLF out, LF in). `onConnection` scripts it;
 * by default it prompts for a login and answers /quit with "Bye" and a close.
 */
async function startFakeServer(
  options: { port?: number; onConnection?: (c: ServerConnection, n: number) => void } = {},
): Promise<FakeServer> {
  const connections: ServerConnection[] = [];
  const accepted = new EventTarget();
  const server = net.createServer((socket) => {
    const events = new EventTarget();
    const conn: ServerConnection = {
      socket,
      lines: [],
      say: (...lines) => {
        socket.write(lines.map((l) => `${l}\r\n`).join(''));
      },
      received: (line) =>
        within(
          new Promise<void>((resolve) => {
            const check = () => {
              if (conn.lines.includes(line)) {
                events.removeEventListener('line', check);
                resolve();
              }
            };
            events.addEventListener('line', check);
            check();
          }),
          WAIT_MS,
          `the server to receive ${JSON.stringify(line)} (got ${JSON.stringify(conn.lines)})`,
        ),
    };
    connections.push(conn);
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    let buffer = '';
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        conn.lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        events.dispatchEvent(new Event('line'));
      }
    });
    const script = options.onConnection ?? defaultScript;
    script(conn, connections.length);
    accepted.dispatchEvent(new Event('accepted'));
  });
  const sockets = new Set<net.Socket>();
  openSockets.set(server, sockets);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    connection: (n) =>
      within(
        new Promise<ServerConnection>((resolve) => {
          const check = () => {
            const conn = connections[n - 1];
            if (conn) {
              accepted.removeEventListener('accepted', check);
              resolve(conn);
            }
          };
          accepted.addEventListener('accepted', check);
          check();
        }),
        WAIT_MS,
        `connection #${n}`,
      ),
    close: () => closeServer(server),
  };
}

function defaultScript(conn: ServerConnection): void {
  conn.say('statechat — type your login to sign in, or a new one to register.', 'Enter your login:');
  conn.socket.on('data', () => {
    if (conn.lines.includes('/quit') && !conn.socket.writableEnded) conn.socket.end('Bye!\r\n');
  });
}

/** Stops listening and drops the connections still open, so no test leaks into the next. */
function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of openSockets.get(server) ?? []) socket.destroy();
  });
}

const openSockets = new WeakMap<net.Server, Set<net.Socket>>();

/** A port nothing listens on (for now): bound, read, released. */
async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await closeServer(probe);
  return port;
}

interface ClientProcess {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  type(...lines: string[]): void;
  /** Resolves once stdout matches; rejects on timeout or if the client exits first. */
  waitFor(pattern: RegExp | string): Promise<void>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
}

function startClient(port: number, ...args: string[]): ClientProcess {
  return startClientIn({ TZ: 'UTC' }, port, ...args);
}

/** The client with these environment variables set (TZ: the zone it shows times in). */
function startClientIn(env: Record<string, string>, port: number, ...args: string[]): ClientProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, '--port', String(port), ...args], {
    cwd: ROOT,
    stdio: 'pipe',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const changed = new EventTarget();
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    changed.dispatchEvent(new Event('change'));
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  exit.then(() => changed.dispatchEvent(new Event('change')));
  let exitCode: number | null | undefined;
  void exit.then((code) => {
    exitCode = code;
  });

  return {
    child,
    output: () => stdout,
    type: (...lines) => {
      child.stdin.write(lines.map((l) => `${l}\n`).join(''));
    },
    waitFor: (pattern) =>
      within(
        new Promise<void>((resolve, reject) => {
          const check = () => {
            const hit = typeof pattern === 'string' ? stdout.includes(pattern) : pattern.test(stdout);
            if (hit) {
              changed.removeEventListener('change', check);
              resolve();
            } else if (exitCode !== undefined) {
              changed.removeEventListener('change', check);
              reject(new Error(`client exited (${exitCode}) before printing ${pattern}:\n${stdout}\n${stderr}`));
            }
          };
          changed.addEventListener('change', check);
          check();
        }),
        WAIT_MS,
        `the client to print ${pattern}; it printed:\n${stdout}\nstderr:\n${stderr}`,
      ),
    exited: () => within(exit, WAIT_MS, `the client to exit; it printed:\n${stdout}\nstderr:\n${stderr}`),
  };
}

const children: ChildProcessWithoutNullStreams[] = [];
const servers: net.Server[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map(closeServer));
});

// ───────────────────────────── tests ─────────────────────────────

describe('statechat client (child process, piped stdin)', () => {
  it('prints what the server sends and sends what the user types', async () => {
    const server = await startFakeServer();
    const client = startClient(server.port);
    const conn = await server.connection(1);

    await client.waitFor('Enter your login:');
    client.type('alice');
    await conn.received('alice');
    conn.say('[2024-05-01 12:34:56] bob: hello alice');
    await client.waitFor('[2024-05-01 12:34:56] bob: hello alice');

    expect(client.output()).toContain(`connected to 127.0.0.1:${server.port}\n`);
    expect(client.output()).toContain('statechat — type your login to sign in, or a new one to register.\nEnter your login:\n');
    expect(client.output()).not.toContain('\r');
  });

  it('shows the server\'s UTC stamps in local time (TZ=Asia/Kolkata), and in UTC with --utc', async () => {
    const server = await startFakeServer();
    const local = startClientIn({ TZ: 'Asia/Kolkata' }, server.port);
    const utc = startClientIn({ TZ: 'Asia/Kolkata' }, server.port, '--utc');
    const [first, second] = [await server.connection(1), await server.connection(2)];
    await local.waitFor('Enter your login:');
    await utc.waitFor('Enter your login:');

    for (const conn of [first, second]) conn.say('[2024-05-01 20:00:00] bob: old news', 'Topic: [2024-05-01 20:00:00] stays');

    await local.waitFor('[2024-05-02 01:30:00] bob: old news\nTopic: [2024-05-01 20:00:00] stays');
    await utc.waitFor('[2024-05-01 20:00:00] bob: old news\nTopic: [2024-05-01 20:00:00] stays');
  });

  it('exits 0 after /quit, once the server has said goodbye and closed', async () => {
    const server = await startFakeServer();
    const client = startClient(server.port);
    const conn = await server.connection(1);
    await client.waitFor('Enter your login:');

    client.type('/quit');

    await conn.received('/quit');
    expect(await client.exited()).toBe(0);
    expect(client.output()).toMatch(/Bye!\n$/);
  });

  it('says "waiting for server…" while nothing listens, and connects as soon as the server is up', async () => {
    const port = await freePort();
    const client = startClient(port);
    client.type('alice'); // typed ahead, while waiting

    await client.waitFor('waiting for server');
    const server = await startFakeServer({ port });
    const conn = await server.connection(1);
    await conn.received('alice');
    await client.waitFor('Enter your login:');

    expect(client.output().match(/waiting for server/g)).toHaveLength(1);
    expect(client.output()).toMatch(/waiting for server….*ECONNREFUSED[^\n]*\nconnected to /);
    client.type('/quit');
    expect(await client.exited()).toBe(0);
  });

  it('retries when the server says it is busy and hangs up, quoting it once', async () => {
    const server = await startFakeServer({
      onConnection: (conn, n) => {
        if (n <= 2) conn.socket.end('Server busy, try again later.\r\n');
        else defaultScript(conn);
      },
    });
    const client = startClient(server.port);
    client.type('alice');

    const third = await server.connection(3);
    await third.received('alice');
    await client.waitFor('Enter your login:');

    const out = client.output();
    expect(out.match(/waiting for server… .*: Server busy, try again later\./g)).toHaveLength(1);
    expect(out.match(/connected to /g)).toHaveLength(1);
    expect(server.connections.slice(0, 2).every((c) => c.lines.length === 0)).toBe(true);
  });

  it('keeps printing after stdin ends, until the server closes; then says so and exits 0', async () => {
    const server = await startFakeServer();
    const client = startClient(server.port);
    const conn = await server.connection(1);
    client.type('alice');
    client.child.stdin.end();
    await conn.received('alice');

    conn.say('Password:');
    conn.say('[2024-05-01 12:34:57] bob: still here');
    conn.socket.end('You were disconnected by the server operator.\r\n');

    expect(await client.exited()).toBe(0);
    expect(client.output()).toContain('[2024-05-01 12:34:57] bob: still here\nYou were disconnected by the server operator.\nconnection closed by server\n');
    expect(conn.lines).toEqual(['alice']);
  });

  it('does not reconnect after a kick by the operator, though the user is still there: exits 0', async () => {
    const server = await startFakeServer();
    const client = startClient(server.port);
    const conn = await server.connection(1);
    await client.waitFor('Enter your login:');

    conn.socket.end('You were disconnected by the server operator.\r\n');

    expect(await client.exited()).toBe(0);
    expect(client.output()).toMatch(/You were disconnected by the server operator\.\nconnection closed by server\n$/);
    expect(server.connections).toHaveLength(1);
  });

  it('reconnects when the server hangs up on a session, and does not send a line typed in between', async () => {
    const server = await startFakeServer();
    const client = startClient(server.port);
    const first = await server.connection(1);
    await client.waitFor('Enter your login:');

    await server.close(); // no goodbye, and down for a while: a crash
    await client.waitFor('connection to the server lost');
    client.type('typed while away');
    await client.waitFor('not connected yet — that line was not sent');
    const restarted = await startFakeServer({ port: server.port });
    const second = await restarted.connection(1);
    await client.waitFor(/lost[\s\S]*connected to [\s\S]*Enter your login:/);
    client.type('alice');

    await second.received('alice');
    expect(second.lines).toEqual(['alice']);
    expect(first.lines).toEqual([]);
  });

  it('exits when the connection drops with --no-reconnect: 0 if the server closed it', async () => {
    const server = await startFakeServer();
    const client = startClient(server.port, '--no-reconnect');
    const conn = await server.connection(1);
    await client.waitFor('Enter your login:');

    conn.socket.end('The server is shutting down. Bye!\r\n');

    expect(await client.exited()).toBe(0);
    expect(client.output()).toMatch(/shutting down\. Bye!\nconnection closed by server\n$/);
  });

  it('on Ctrl-C (SIGINT) says /quit to the server and exits 0', async () => {
    const server = await startFakeServer();
    const client = startClient(server.port);
    const conn = await server.connection(1);
    await client.waitFor('Enter your login:');

    client.child.kill('SIGINT');

    await conn.received('/quit');
    expect(await client.exited()).toBe(0);
  });

  it('after /quit, hangs up by itself if the server never closes', async () => {
    const server = await startFakeServer({ onConnection: (conn) => conn.say('Enter your login:') });
    const client = startClient(server.port);
    const conn = await server.connection(1);
    await client.waitFor('Enter your login:');

    client.type('/quit');

    await conn.received('/quit');
    expect(await client.exited()).toBe(0); // the 2 s quit timeout, well within WAIT_MS
  });
});

describe('runClient flags', () => {
  function io() {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d) => (out += d));
    stderr.on('data', (d) => (err += d));
    return { io: { stdin: new PassThrough(), stdout, stderr }, out: () => out, err: () => err };
  }

  it('prints usage for --help and returns 0', async () => {
    const t = io();
    expect(await runClient(['--help'], t.io)).toBe(0);
    expect(t.out()).toMatch(/--host HOST.*default 127\.0\.0\.1/);
    expect(t.out()).toMatch(/--port PORT.*default 9090/);
    expect(t.out()).toMatch(/--login NAME/);
    expect(t.out()).toMatch(/--no-reconnect/);
    expect(t.out()).toMatch(/--utc/);
    expect(t.out()).toMatch(/--bell/);
    expect(t.out()).toMatch(/NO_COLOR/);
  });

  it('returns 2 for a --login the server would not accept', async () => {
    const t = io();
    expect(await runClient(['--login', 'not a login'], t.io)).toBe(2);
    expect(t.err()).toContain('--login "not a login"');
  });

  it('returns 2 with a reason for an unknown flag or a bad port', async () => {
    const unknown = io();
    expect(await runClient(['--nope'], unknown.io)).toBe(2);
    expect(unknown.err()).toContain("Unknown option '--nope'");

    const badPort = io();
    expect(await runClient(['--port', '70000'], badPort.io)).toBe(2);
    expect(badPort.err()).toContain('--port must be an integer from 1 to 65535');
  });
});
