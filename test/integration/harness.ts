/**
 * Test harness for integration tests: a real server on 127.0.0.1 port 0 with its own temp data
 * dir and a console fed through a stream, and line-oriented TCP clients that await what they
 * expect (no sleeps).
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach } from 'vitest';
import { createServer, type RunningServer, type ServerIo } from '../../src/actors/server.js';
import { DEFAULTS, type ServerConfig } from '../../src/io/config.js';
import { text } from '../../src/machines/protocol.js';

/** Low scrypt cost: the real default (OWASP's N=2^17) costs ~0.4 s of CPU per hash. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };
const WAIT_MS = 5000;

export interface TestServer {
  server: RunningServer;
  port: number;
  dataDir: string;
  config: ServerConfig;
  /** Sends a line to the server's console. */
  command(line: string): void;
  /**
   * Sends a console command and resolves with the console output printed after it once that
   * output matches `pattern`.
   */
  ask(line: string, pattern: RegExp | string): Promise<string>;
  /** Everything the server printed on its console so far. */
  output(): string;
  /** Resolves with the console output once it matches `pattern` (searching from `from`). */
  waitForOutput(pattern: RegExp | string, from?: number): Promise<string>;
  /** The path of a file in the data dir. */
  file(name: DataFileName): string;
  /** A data file's bytes as text ('' when it does not exist). */
  readFile(name: DataFileName): Promise<string>;
  /**
   * Shuts the server down (idempotent), closes any client socket still open, and removes the
   * data dir unless it was passed in.
   */
  stop(): Promise<void>;
}

export type DataFileName = 'clients.csv' | 'history.csv' | 'topics.csv' | 'offline.csv' | 'server.log' | 'statechat.key';

export async function makeDataDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'statechat-test-'));
}

/**
 * For a test file: returns a function that starts a test server, and stops every server it
 * started after each test (even a failed one).
 */
export function useTestServers(): (overrides?: Partial<ServerConfig>, seams?: TestSeams) => Promise<TestServer> {
  const running: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.stop()));
  });
  return async (overrides, seams) => {
    const t = await startTestServer(overrides, seams);
    running.push(t);
    return t;
  };
}

/** What createServer takes besides the config that a test may replace (a failing disk, a manual clock). */
export type TestSeams = Pick<ServerIo, 'openAppendHandle' | 'timers' | 'roomIdleMs' | 'maxRooms' | 'onRoomPost'>;

export async function startTestServer(overrides: Partial<ServerConfig> = {}, seams: TestSeams = {}): Promise<TestServer> {
  const ownsDataDir = overrides.dataDir === undefined;
  const dataDir = overrides.dataDir ?? (await makeDataDir());
  const config: ServerConfig = {
    ...DEFAULTS,
    port: 0,
    scrypt: TEST_SCRYPT,
    envKey: undefined,
    // Tests send bursts of hundreds of lines to check ordering and storage, not flooding; the
    // rate limit has its own tests (test/hostile/flood.test.ts), which turn it on.
    rateLimitPerSecond: 0,
    ...overrides,
    dataDir,
  };
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let printed = '';
  const waiters = new Set<() => void>();
  stdout.on('data', (chunk: Buffer) => {
    printed += chunk.toString('utf8');
    for (const check of waiters) check();
  });
  const server = await createServer(config, { stdin, stdout, ...seams });
  const waitForOutput = (pattern: RegExp | string, from = 0) =>
    waitUntil(
      () => {
        const shown = printed.slice(from);
        return (typeof pattern === 'string' ? shown.includes(pattern) : pattern.test(shown)) ? shown : undefined;
      },
      waiters,
      () => `console output matching ${pattern}; got:\n${printed.slice(from)}`,
    );
  const file = (name: DataFileName) => path.join(dataDir, name);
  return {
    server,
    port: server.port,
    dataDir,
    config,
    command: (line) => stdin.write(`${line}\n`),
    ask(line, pattern) {
      const from = printed.length;
      stdin.write(`${line}\n`);
      return waitForOutput(pattern, from);
    },
    output: () => printed,
    waitForOutput,
    file,
    readFile: (name) => fs.readFile(file(name), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    }),
    async stop() {
      await server.shutdown();
      TestClient.destroyAll(server.port);
      if (ownsDataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A line-based TCP client, as `nc` would be. */
export class TestClient {
  /** Every client still open, so a failed test cannot leak a socket (see `destroyAll`). */
  private static readonly open = new Set<TestClient>();
  readonly lines: string[] = [];
  /** The history replayed after the welcome, when `signIn` made the connection. */
  replay: { header: string; messages: string[] } | undefined;
  /** Every byte received, lines or not: a held connection must get none. */
  bytesReceived = 0;
  private partial = '';
  private readonly waiters = new Set<() => void>();
  private cursor = 0;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(
    readonly socket: net.Socket,
    /** The server port it connected to. */
    readonly port: number,
  ) {
    TestClient.open.add(this);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.bytesReceived += Buffer.byteLength(chunk);
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      for (const part of parts) this.lines.push(part.replace(/\r$/, ''));
      this.notify();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        TestClient.open.delete(this);
        this.isClosed = true;
        this.notify();
        resolve();
      });
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new TestClient(socket, port)));
      socket.once('error', reject);
    });
  }

  /** The same over TLS: resolves once the handshake is done (the certificate checked against `options`). */
  static connectTls(port: number, options: tls.ConnectionOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', ...options }, () => resolve(new TestClient(socket, port)));
      socket.once('error', reject);
    });
  }

  /** Sends the lines in one write (one TCP segment on loopback): typing ahead. */
  send(...lines: string[]): void {
    this.socket.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** Sends raw text, e.g. without a newline or with control characters. */
  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Destroys every client socket still open (to one server port, if given). */
  static destroyAll(port?: number): void {
    for (const client of TestClient.open) if (port === undefined || client.port === port) client.close();
  }

  /**
   * Resolves with the next line (after those already consumed by earlier waits) that matches;
   * rejects if the connection closes first or nothing matches in time.
   */
  async expect(pattern: RegExp | string, timeoutMs = WAIT_MS): Promise<string> {
    const matches = (line: string) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
    return waitUntil(
      () => {
        for (let i = this.cursor; i < this.lines.length; i++) {
          if (matches(this.lines[i]!)) {
            this.cursor = i + 1;
            return this.lines[i]!;
          }
        }
        if (this.isClosed) throw new Error(`connection closed before a line matching ${pattern}; got:\n${this.lines.join('\n')}`);
        return undefined;
      },
      this.waiters,
      () => `a line matching ${pattern}; got:\n${this.lines.join('\n')}`,
      timeoutMs,
    );
  }

  /** The next line not read yet, whatever it is. */
  next(timeoutMs = WAIT_MS): Promise<string> {
    return this.expect(/^/, timeoutMs);
  }

  /**
   * A barrier for asserting that something did *not* arrive: `/history 1` is answered only after
   * everything the router had in flight for this user was delivered, so once its reply is here,
   * anything sent before it is here too. Resolves with the lines received before the reply.
   */
  async sync(): Promise<string[]> {
    const from = this.cursor;
    const sentAt = this.lines.length; // the reply can only be in lines received from now on
    this.send('/history 1');
    const replyAt = await waitUntil(
      () => {
        for (let i = Math.max(sentAt, this.cursor); i < this.lines.length; i++) {
          const line = this.lines[i]!;
          if (line === text.noHistory) return { header: i, end: i };
          if (line === text.historyFooter && i >= sentAt + 2) return { header: i - 2, end: i };
        }
        if (this.isClosed) throw new Error(`connection closed before the /history reply; got:\n${this.lines.join('\n')}`);
        return undefined;
      },
      this.waiters,
      () => `the /history reply; got:\n${this.lines.join('\n')}`,
    );
    this.cursor = replyAt.end + 1;
    return this.lines.slice(from, replyAt.header);
  }

  /**
   * Waits for the next history block (a replay after the welcome, or a `/history` reply) and
   * resolves with its header and its message lines ([] for "no messages yet").
   */
  async expectHistory(): Promise<{ header: string; messages: string[] }> {
    const header = await this.expect(/^--- (last \d+ messages?|no messages yet) ---$/);
    if (/no messages yet/.test(header)) return { header, messages: [] };
    const from = this.cursor;
    await this.expect(/^--- end of history ---$/);
    return { header, messages: this.lines.slice(from, this.cursor - 1) };
  }

  /** Lines received after the last `expect` match, without waiting. */
  unread(): string[] {
    return this.lines.slice(this.cursor);
  }

  /** Resolves when the server has closed the connection. */
  async expectClosed(timeoutMs = WAIT_MS): Promise<void> {
    await waitUntil(() => (this.isClosed ? true : undefined), this.waiters, 'the connection to close', timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private notify(): void {
    for (const check of this.waiters) check();
  }
}

/**
 * Connects, registers (or logs in, if `existing`) and waits for the welcome and the history
 * replay after it (kept in `client.replay`).
 */
export async function signIn(port: number, login: string, password: string, existing = false): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^Enter your login:/);
  client.send(login);
  if (existing) {
    await client.expect(/^password:/i);
    client.send(password);
  } else {
    await client.expect(/choose a password/i);
    client.send(password);
    await client.expect(/repeat/i);
    client.send(password);
  }
  await client.expect(/welcome/i);
  client.replay = await client.expectHistory();
  return client;
}

/** Registers a login and leaves again, so that it exists but is not online. */
export async function register(port: number, login: string, password: string): Promise<void> {
  const client = await signIn(port, login, password);
  client.send('/quit');
  await client.expectClosed();
}

function waitUntil<T>(
  check: () => T | undefined,
  waiters: Set<() => void>,
  /** What was awaited, for the timeout's message (a function: it shows what arrived by then). */
  what: string | (() => string),
  timeoutMs = WAIT_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const run = () => {
      try {
        const value = check();
        if (value !== undefined) {
          finish();
          resolve(value);
        }
      } catch (err) {
        finish();
        reject(err);
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      waiters.delete(run);
    };
    waiters.add(run);
    run();
  });
}
