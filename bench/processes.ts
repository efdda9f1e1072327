/**
 * The processes a benchmark case runs: the server under test (ours — `bin/statechat.js server` —
 * or the baseline) and the load-generator pool. Both servers get the same preload
 * (bench/probe.mjs) that answers memory and CPU questions; nothing else is added to them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientSpec, FromGenerator, GeneratorReport, ServerKind, ToGenerator } from './gen-protocol.js';
import { Histogram } from './histogram.js';
import { progress } from './progress.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROBE = path.join(REPO, 'bench', 'probe.mjs');
const HOST = '127.0.0.1';

export interface ProbeReply {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  loopMaxMs: number;
  loopP99Ms: number;
}

/**
 * The machine's CPUs split in two — the server's and the load generators' — as `taskset` lists,
 * or undefined where that cannot be done (one CPU, no `taskset`). Used by the login storm (S4):
 * there the server hashes on a worker thread, and a busy core shared with the generators slows
 * the clocks that time the chat, not the server (see bench/README.md). Assumes the bench may use
 * CPUs 0 to n − 1 (it is not itself pinned to fewer).
 */
export interface CoreSplit {
  server: string;
  generators: string;
}

export function splitCores(): CoreSplit | undefined {
  const cpus = availableParallelism();
  if (cpus < 2 || spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) return undefined;
  const half = Math.ceil(cpus / 2);
  const list = (from: number, to: number) => (from === to ? String(from) : `${from}-${to}`);
  return { server: list(0, half - 1), generators: list(half, cpus - 1) };
}

/** Keeps each process and all its threads, and every thread it starts later, on `cpus`. */
function pinOrKill(children: ChildProcess[], cpus: string): void {
  for (const child of children) {
    if (spawnSync('taskset', ['-a', '-p', '-c', cpus, String(child.pid)], { stdio: 'ignore' }).status === 0) continue;
    for (const started of children) started.kill('SIGKILL');
    throw new Error(`taskset could not pin process ${child.pid} to CPUs ${cpus}`);
  }
}

export class ServerProcess {
  private readonly tail: string[] = [];
  private probes = new Map<number, (reply: ProbeReply) => void>();
  private nextProbe = 1;
  private exited: Promise<number | null>;
  port = 0;
  /** When the spawn call was made (µs, process.hrtime). */
  readonly spawnedAt: number;

  private constructor(
    readonly kind: ServerKind,
    readonly child: ChildProcess,
  ) {
    this.spawnedAt = Number(process.hrtime.bigint() / 1000n);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line) this.tail.push(line);
      if (this.tail.length > 40) this.tail.splice(0, this.tail.length - 40);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    // BENCH_SERVER_OUTPUT=<file>: everything the servers print (e.g. with BENCH_NODE_FLAGS=--trace-deopt).
    const copy = process.env.BENCH_SERVER_OUTPUT;
    if (copy) {
      const out = createWriteStream(copy, { flags: 'a' });
      child.stdout!.on('data', (chunk: Buffer) => out.write(chunk));
      child.stderr!.on('data', (chunk: Buffer) => out.write(chunk));
      child.once('exit', () => out.end());
    }
    child.on('message', (msg: { t?: string; id?: number } & ProbeReply) => {
      if ((msg?.t !== 'probe' && msg?.t !== 'profile') || msg.id === undefined) return;
      this.probes.get(msg.id)?.(msg);
      this.probes.delete(msg.id);
    });
    child.on('error', () => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The server's last output lines, for error messages. */
  output(): string {
    return this.tail.join('\n');
  }

  /**
   * Starts a server. `port` 0 lets it pick one (read back from what it prints); with `waitListening`
   * false it returns at once (the start-up scenario times the first accepted connection itself).
   */
  static async start(
    kind: ServerKind,
    opts: { dataDir?: string; port?: number; extraArgs?: string[]; waitListening?: boolean; cpus?: string },
  ): Promise<ServerProcess> {
    const port = String(opts.port ?? 0);
    const args =
      kind === 'ours'
        ? ['bin/statechat.js', 'server', '--port', port, '--data-dir', opts.dataDir!, ...(opts.extraArgs ?? [])]
        : ['--import', 'tsx', 'bench/baseline-server.ts', '--port', port, ...(opts.extraArgs ?? [])];
    // BENCH_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to the server's node only.
    const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    // BENCH_OURS_DIR: run "ours" from another checkout (to compare two versions of the server).
    const cwd = kind === 'ours' ? (process.env.BENCH_OURS_DIR ?? REPO) : REPO;
    const child = spawn(process.execPath, [...nodeFlags, '--expose-gc', '--import', PROBE, ...args], {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, STATECHAT_KEY: '' },
    });
    if (opts.cpus) pinOrKill([child], opts.cpus);
    const server = new ServerProcess(kind, child);
    if (opts.port) server.port = opts.port;
    if (opts.waitListening === false) return server;
    await server.listening();
    return server;
  }

  /** Resolves with the port once the server says it listens. */
  listening(timeoutMs = 60_000): Promise<number> {
    return new Promise((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        const match = /listening on [\d.]+:(\d+)/.exec(seen);
        if (match) {
          done();
          this.port = Number(match[1]);
          resolve(this.port);
        }
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`the ${this.kind} server exited (${code}) before listening:\n${this.output()}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`the ${this.kind} server did not listen within ${timeoutMs} ms:\n${this.output()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.child.stdout!.off('data', onData);
        this.child.off('exit', onExit);
      };
      this.child.stdout!.on('data', onData);
      this.child.once('exit', onExit);
    });
  }

  /**
   * Memory and event-loop figures from inside the server; `gc` collects garbage first, and
   * `settleMs` waits that long after it before reading (see probe.mjs).
   */
  probe(opts: { gc?: boolean; resetLoop?: boolean; settleMs?: number } = {}): Promise<ProbeReply> {
    const id = this.nextProbe++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.probes.delete(id);
        reject(new Error(`the ${this.kind} server did not answer a probe`));
      }, 30_000);
      this.probes.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.child.send({ t: 'probe', id, gc: opts.gc ?? false, resetLoop: opts.resetLoop ?? false, settleMs: opts.settleMs ?? 0 });
    });
  }

  /** Starts (`file` undefined) or stops and saves a CPU profile of the server's main thread. */
  profile(file?: string): Promise<void> {
    const id = this.nextProbe++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.probes.delete(id);
        resolve();
      }, 30_000);
      this.probes.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.send(file === undefined ? { t: 'profile', id, start: true } : { t: 'profile', id, file });
    });
  }

  /** A clean stop (the console's `shutdown`), then a kill if it takes too long. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.write('shutdown\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface ConnectResult {
  ok: number;
  failed: number;
  errors: string[];
  loginTime: Histogram;
  /** Time spent in each step of signing in, per client (connect, tcp, loginPrompt, passwordPrompt, welcome, replayEnd). */
  stages: Histogram[];
  /** When the last client finished signing in (µs, process.hrtime). */
  lastReadyAt: number;
}

/**
 * The load-generator processes. Clients are dealt round-robin over the processes; senders are
 * the first clients of a case, so they are spread over the processes too. Watermarks are relayed
 * between the processes so that no sender runs ahead of a slow receiver anywhere.
 */
export class GeneratorPool {
  private waiters: { test: (msg: FromGenerator, gen: number) => boolean; resolve: (v: { msg: FromGenerator; gen: number }) => void }[] = [];

  private constructor(readonly children: ChildProcess[]) {
    children.forEach((child, gen) => {
      child.on('message', (msg: FromGenerator) => this.onMessage(msg, gen));
      child.on('error', () => {});
      child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[generator ${gen}] ${chunk}`));
    });
  }

  get pids(): (number | undefined)[] {
    return this.children.map((c) => c.pid);
  }

  static async start(
    count: number,
    init: Omit<Extract<ToGenerator, { t: 'init' }>, 't' | 'gen' | 'generators' | 'host'>,
    cpus?: string,
  ): Promise<GeneratorPool> {
    const children = Array.from({ length: count }, () =>
      spawn(process.execPath, ['--import', 'tsx', 'bench/load-generator.ts'], {
        cwd: REPO,
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      }),
    );
    if (cpus) pinOrKill(children, cpus);
    const pool = new GeneratorPool(children);
    const ready = pool.collect((m) => m.t === 'ready');
    children.forEach((child, gen) => child.send({ t: 'init', gen, generators: count, host: HOST, ...init } satisfies ToGenerator));
    await ready;
    return pool;
  }

  private onMessage(msg: FromGenerator, gen: number): void {
    if (msg.t === 'wm') {
      this.children.forEach((child, other) => other !== gen && child.connected && child.send(msg));
      return;
    }
    for (const waiter of [...this.waiters]) {
      if (waiter.test(msg, gen)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve({ msg, gen });
      }
    }
    this.onOther?.(msg, gen);
  }

  onOther: ((msg: FromGenerator, gen: number) => void) | undefined;

  private next(test: (msg: FromGenerator, gen: number) => boolean): Promise<{ msg: FromGenerator; gen: number }> {
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  /** One matching message from every generator. */
  private async collect<T extends FromGenerator>(test: (msg: FromGenerator) => boolean, timeoutMs = 600_000): Promise<T[]> {
    const replies = this.children.map((_, gen) => this.next((m, g) => g === gen && test(m)).then((r) => r.msg as T));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('a load generator did not answer in time')), timeoutMs);
    });
    try {
      return await Promise.race([Promise.all(replies), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private broadcast(msg: ToGenerator): void {
    for (const child of this.children) if (child.connected) child.send(msg);
  }

  /**
   * Connects and signs in `clients`, dealt round-robin over the generators `on` (default: all);
   * shows progress under `label`.
   */
  async connect(
    label: string,
    clients: ClientSpec[],
    opts: { concurrency: number; late?: boolean; on?: readonly number[] },
  ): Promise<ConnectResult> {
    const batch = `${label}#${Math.random().toString(36).slice(2)}`;
    const shares: ClientSpec[][] = this.children.map(() => []);
    const on = opts.on ?? this.children.map((_, gen) => gen);
    clients.forEach((spec, i) => shares[on[i % on.length]!].push(spec));
    const done = new Array<number>(this.children.length).fill(0);
    this.onOther = (msg, gen) => {
      if (msg.t === 'progress' && msg.batch === batch) {
        done[gen] = msg.done + msg.failed;
        progress.update(label, done.reduce((a, b) => a + b, 0), clients.length, `${done.reduce((a, b) => a + b, 0)}/${clients.length}`);
      }
    };
    const replies = this.collect<Extract<FromGenerator, { t: 'connected' }>>((m) => m.t === 'connected' && m.batch === batch);
    this.children.forEach((child, gen) =>
      child.send({ t: 'connect', batch, clients: shares[gen], concurrency: opts.concurrency, late: opts.late ?? false } satisfies ToGenerator),
    );
    const results = await replies;
    this.onOther = undefined;
    progress.clear();
    const loginTime = new Histogram();
    for (const r of results) loginTime.merge(r.loginTime);
    const stages = results[0].stages.map(() => new Histogram());
    for (const r of results) r.stages.forEach((h, i) => stages[i].merge(h));
    return {
      stages,
      ok: results.reduce((a, r) => a + r.ok, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      errors: results.flatMap((r) => r.errors),
      loginTime,
      lastReadyAt: Math.max(...results.map((r) => r.lastReadyAt)),
    };
  }

  phase(phase: number): void {
    this.broadcast({ t: 'phase', phase });
  }

  startSending(rate?: number): void {
    this.broadcast({ t: 'send', rate });
  }

  /** Stops every sender; resolves with the last seq each sender sent (-1: none). */
  async stopSending(senders: number): Promise<number[]> {
    const replies = this.collect<Extract<FromGenerator, { t: 'stopped' }>>((m) => m.t === 'stopped');
    this.broadcast({ t: 'stop' });
    const finalSeq = new Array<number>(senders).fill(-1);
    for (const reply of await replies) for (const [s, seq] of reply.lastSeq) finalSeq[s] = seq;
    return finalSeq;
  }

  /** Waits until every receiver has every message sent; false if `timeoutMs` passed first. */
  async drain(finalSeq: number[], timeoutMs: number): Promise<boolean> {
    const replies = this.collect<Extract<FromGenerator, { t: 'drained' }>>((m) => m.t === 'drained', timeoutMs + 30_000);
    this.broadcast({ t: 'drain', finalSeq, timeoutMs });
    return (await replies).every((r) => r.complete);
  }

  async report(): Promise<{ merged: MergedReport; perGenerator: GeneratorReport[] }> {
    const replies = this.collect<Extract<FromGenerator, { t: 'report' }>>((m) => m.t === 'report');
    this.broadcast({ t: 'report' });
    const reports = (await replies).map((r) => r.report);
    return { merged: mergeReports(reports), perGenerator: reports };
  }

  async close(): Promise<void> {
    const exits = this.children.map(
      (child) => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve()))),
    );
    const closed = this.collect((m) => m.t === 'closed', 10_000).catch(() => undefined);
    this.broadcast({ t: 'close' });
    await closed;
    const timer = setTimeout(() => this.children.forEach((c) => c.kill('SIGKILL')), 5000);
    await Promise.all(exits);
    clearTimeout(timer);
  }
}

export interface MergedReport {
  deliveries: number[];
  latency: Histogram[];
  messagesSent: number;
  missing: number;
  duplicated: number;
  misrouted: number;
  otherLines: number;
  droppedAfterLogin: number;
}

function mergeReports(reports: GeneratorReport[]): MergedReport {
  const phases = Math.max(...reports.map((r) => r.latency.length));
  const latency = Array.from({ length: phases }, () => new Histogram());
  const deliveries = new Array<number>(phases).fill(0);
  for (const r of reports) {
    r.latency.forEach((h, i) => h && latency[i].merge(h));
    r.deliveries.forEach((d, i) => (deliveries[i] += d));
  }
  const sum = (pick: (r: GeneratorReport) => number) => reports.reduce((a, r) => a + pick(r), 0);
  return {
    deliveries,
    latency,
    messagesSent: sum((r) => r.messagesSent),
    missing: sum((r) => r.missing),
    duplicated: sum((r) => r.duplicated),
    misrouted: sum((r) => r.misrouted ?? 0),
    otherLines: sum((r) => r.otherLines),
    droppedAfterLogin: sum((r) => r.droppedAfterLogin),
  };
}

/** A free TCP port on 127.0.0.1 (for the start-up case, which must know it before the server starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
