/**
 * A real `redis-server` (Debian's package; `.ci/run` installs it when missing) for the tests of
 * the Redis backend: on a free port of 127.0.0.1, its files in a temp dir, `appendfsync always`
 * (what statechat recommends: acknowledged = durable). Never a mock: the atomicity the stores rely
 * on (Lua scripts, MULTI) is Redis's own.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM, waited for) and removes its dir. Idempotent. */
  stop(): Promise<void>;
  /** kill -9: the server dies at once, its dir (the append-only file) stays for `restart`. */
  crash(): Promise<void>;
  /** Starts it again on the same port and dir, after `crash` (it reads its append-only file back). */
  restart(): Promise<void>;
}

const START_MS = 10_000;

/**
 * Whether `redis-server` can be run here. Without it the Redis tests are skipped — the reason is
 * this, and it is printed — so that `npm test` on a machine without the package still tests the
 * embedded default; `.ci/run` installs the package and sets STATECHAT_REQUIRE_REDIS=1, so that in
 * CI a missing server fails instead of skipping.
 */
export const REDIS_INSTALLED = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
if (!REDIS_INSTALLED) {
  if (process.env['STATECHAT_REQUIRE_REDIS']) throw new Error('STATECHAT_REQUIRE_REDIS is set, but redis-server cannot be run: apt-get install redis-server');
  console.warn('redis-server is not installed: the tests of the Redis backend are skipped (Debian: apt-get install redis-server)');
}

/** A port free a moment ago (the server is started on it at once; a lost race is retried). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

export async function startRedisServer(): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-redis-'));
    const port = await freePort();
    let child: ChildProcess;
    try {
      child = await spawnRedis(port, dir);
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      if (attempt < 3 && /Address already in use/.test(String(err))) continue;
      throw err;
    }
    const ended = async (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill(signal);
        await exited;
      }
    };
    let stopped: Promise<void> | undefined;
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      dir,
      stop: () =>
        (stopped ??= (async () => {
          await ended('SIGTERM');
          await fs.rm(dir, { recursive: true, force: true });
        })()),
      crash: () => ended('SIGKILL'),
      async restart() {
        child = await spawnRedis(port, dir);
      },
    };
  }
}

/** redis-server on `port` with its files in `dir`: append-only, fsync'ed on every write (acknowledged = on disk). */
async function spawnRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await ready(child);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return child;
}

/** Resolves once the server says it accepts connections; rejects with what it printed if it exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within ${START_MS} ms:\n${output}`)), START_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (is the Debian package installed?): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (code ${code}) before it was ready:\n${output}`));
    });
  });
}

export interface RedisForTests {
  /** The running server's URL (one server per test file). */
  readonly url: string;
  /** This test's own key space ("test<n>:"): tests of one file share the server, not their keys. */
  readonly prefix: string;
  /** A new client connection (a node) to this file's server or to `url`, quit after the test. */
  connect(options?: RedisOptions, url?: string): Redis;
  /** A second server of this test only, stopped after it (to take away mid-test). */
  startAnother(): Promise<RedisServer>;
}

/**
 * For a test file of the Redis backend: starts one redis-server for the file (where it is
 * installed: see REDIS_INSTALLED), gives each test a key space of its own, and quits every client
 * a test connected after it. Register the tests with `describe.skipIf(!REDIS_INSTALLED)`.
 */
export function useRedis(): RedisForTests {
  let server: RedisServer | undefined;
  let testNumber = 0;
  const clients: Redis[] = [];
  const others: RedisServer[] = [];
  beforeAll(async () => {
    if (REDIS_INSTALLED) server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    testNumber++;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
    await Promise.all(others.splice(0).map((s) => s.stop()));
  });
  const urlOf = () => {
    if (!server) throw new Error('no redis-server is running for this file');
    return server.url;
  };
  return {
    get url() {
      return urlOf();
    },
    get prefix() {
      return `test${testNumber}:`;
    },
    connect(options = {}, url = urlOf()) {
      const redis = new Redis(url, { maxRetriesPerRequest: 1, ...options });
      clients.push(redis);
      return redis;
    },
    async startAnother() {
      const other = await startRedisServer();
      others.push(other);
      return other;
    },
  };
}
