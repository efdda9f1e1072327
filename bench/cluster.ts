/**
 * Scenario 7: one room across a cluster (the cluster issue). In the "ours" column, 3 statechat
 * nodes on one redis-server (`appendfsync always`: acknowledged = on disk), the clients dealt to
 * them in turn. In the other column, one statechat node with the same clients, in the same run —
 * the comparison the issue asks for, not the baseline server. The users are the bench's clients.csv,
 * copied into Redis by `statechat migrate`, as an operator would.
 *
 * In a cluster every delivery passes through Redis (a node delivers its own members' posts only
 * once its tail reads them back), so the latency figure is the cross-node one for every receiver.
 * CPU is every node's and Redis's together, per delivery.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH_PASSWORD, clientsFile, login, makeDataDir, removeDataDir } from './fixtures.js';
import type { ClientSpec, ServerKind } from './gen-protocol.js';
import { freePort, GeneratorPool, REPO, ServerProcess } from './processes.js';
import { progress } from './progress.js';
import { type CaseResult, hasRateLimit, RATE_LIMIT_OFF, SETUP_SCRYPT_N, type Settings } from './scenarios.js';
import { cpuWindow } from './sysstat.js';

const NODES = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (us: number) => us / 1000;

/** A redis-server of the case's own, on a free port, its files in a temporary dir. */
async function startRedis(): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-bench-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (/Ready to accept connections/.test(output)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => reject(new Error(`cannot run redis-server (apt-get install redis-server): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** `statechat migrate`: the bench's users into the cluster's Redis. */
async function migrate(dataDir: string, url: string): Promise<void> {
  const child = spawn(process.execPath, ['bin/statechat.js', 'migrate', '--from', dataDir, '--to', url], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`statechat migrate failed (${code}):\n${output}`);
}

export async function clusterCase(
  kind: ServerKind,
  s: Settings,
  opts: { clients: number; senders: number; rate?: number; warmupS: number; measureS: number; label: string },
): Promise<CaseResult> {
  const source = await makeDataDir({ clients: await clientsFile([{ prefix: 'u', count: opts.clients, scryptN: SETUP_SCRYPT_N }]) });
  const rateArgs = opts.rate === undefined && hasRateLimit ? RATE_LIMIT_OFF : [];
  const redis = kind === 'ours' ? await startRedis() : undefined;
  const nodeDirs: string[] = [];
  const nodes: ServerProcess[] = [];
  let pool: GeneratorPool | undefined;
  try {
    if (redis) {
      await progress.timed(`${kind}: copying ${opts.clients} users into Redis (statechat migrate)`, 2, migrate(source, redis.url));
      for (let i = 0; i < NODES; i++) {
        const dir = await makeDataDir({}); // the bench key, nothing else: the data is in Redis
        nodeDirs.push(dir);
        nodes.push(await ServerProcess.start('ours', { dataDir: dir, extraArgs: ['--cluster', redis.url, '--node-id', `n${i}`, ...rateArgs] }));
      }
    } else {
      nodes.push(await ServerProcess.start('ours', { dataDir: source, extraArgs: rateArgs }));
    }
    pool = await GeneratorPool.start(s.generators, {
      port: nodes[0]!.port,
      // Both columns are statechat (they sign in); only the number of nodes differs.
      kind: 'ours',
      senders: opts.senders,
      window: s.window,
      textLength: s.textLength,
      sourceAddresses: [],
      rooms: 0,
    });
    // Dealt in turn: sender s on node s % 3, so every node sends and every node receives.
    const specs: ClientSpec[] = Array.from({ length: opts.clients }, (_, i) => ({
      login: login('u', i),
      password: BENCH_PASSWORD,
      sender: i < opts.senders ? i : -1,
      port: nodes[i % nodes.length]!.port,
    }));
    const joined = await pool.connect(`${kind}: signing in ${opts.clients} clients on ${nodes.length} node${nodes.length === 1 ? '' : 's'}`, specs, { concurrency: 100 });
    if (joined.ok === 0) throw new Error(`${kind}: ${opts.label}: no client could sign in (${joined.errors.join('; ')})\n${nodes[0]!.output()}`);
    await sleep(500); // let the join notices drain
    pool.phase(1);
    pool.startSending(opts.rate);
    await progress.timed(`${kind}: ${opts.label}, warming up`, opts.warmupS, sleep(opts.warmupS * 1000));
    const pids: Record<string, number | undefined> = { bench: process.pid, ...Object.fromEntries(pool.pids.map((pid, i) => [`gen${i}`, pid])) };
    nodes.forEach((node, i) => (pids[`node${i}`] = node.pid));
    if (redis) pids.redis = redis.pid;
    const window = cpuWindow(pids);
    pool.phase(2);
    await progress.timed(`${kind}: ${opts.label}, measuring`, opts.measureS, sleep(opts.measureS * 1000));
    pool.phase(3);
    const cpu = window.end();
    const finalSeq = await pool.stopSending(opts.senders);
    const complete = await pool.drain(finalSeq, s.drainTimeoutMs);
    const { merged } = await pool.report();
    const latency = merged.latency[2];
    const sum = (prefix: string) => Object.entries(cpu.cores).reduce((total, [name, cores]) => (name.startsWith(prefix) ? total + (cores || 0) : total), 0);
    const serverCores = sum('node') + sum('redis');
    const deliveries = merged.deliveries[2];
    return {
      figures: {
        deliveriesPerS: deliveries / cpu.seconds,
        // Each message reaches every other client of the one room: what went through the room's log.
        messagesPerS: deliveries / cpu.seconds / (opts.clients - 1),
        p50Ms: ms(latency.quantile(0.5)),
        p99Ms: ms(latency.quantile(0.99)),
        maxMs: ms(latency.quantile(1)),
        serverCpuCores: serverCores,
        redisCpuCores: sum('redis'),
        serverCpuUsPerDelivery: (serverCores * cpu.seconds * 1e6) / deliveries,
        generatorCpuCores: sum('gen'),
        loggedIn: joined.ok,
      },
      integrity: {
        missing: merged.missing,
        duplicated: merged.duplicated,
        misrouted: merged.misrouted,
        droppedAfterLogin: merged.droppedAfterLogin,
        failedLogins: joined.failed,
      },
      otherCores: cpu.otherCores,
      notes: complete ? [] : ['not every message arrived before the drain timeout'],
    };
  } finally {
    await pool?.close().catch(() => undefined);
    await Promise.all(nodes.map((node) => node.stop().catch(() => undefined)));
    await redis?.stop();
    await Promise.all([source, ...nodeDirs].map((dir) => removeDataDir(dir)));
  }
}
