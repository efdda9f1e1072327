/**
 * The benchmark's scenarios (issue 5). Each runs one case — one server (ours or the baseline),
 * fresh data dir, fresh load generators — and returns its figures. bench/run.ts runs every case
 * for both servers, alternating, over several rounds.
 */
import os from 'node:os';
import path from 'node:path';
import { BENCH_PASSWORD, clientsFile, historyFile, login, makeDataDir, removeDataDir, type UserGroup } from './fixtures.js';
import { DEFAULTS } from '../src/io/config.js';
import type { ClientSpec, ServerKind } from './gen-protocol.js';
import { LineClient, nowUs } from './line-client.js';
import { type CoreSplit, freePort, GeneratorPool, type MergedReport, ServerProcess } from './processes.js';
import { progress } from './progress.js';
import type { Histogram } from './histogram.js';
import { cpuWindow, type CpuWindow, processRss, processWriteCalls } from './sysstat.js';

/** The scrypt cost of the users that fill the room (sign-in is setup there, not measured). */
export const SETUP_SCRYPT_N = 16;

export interface Settings {
  generators: number;
  window: number;
  textLength: number;
  drainTimeoutMs: number;
  chat: { sizes: number[]; senders: number; warmupS: number; measureS: number };
  /** S6: `rooms` rooms of `perRoom` clients each, one sender per room at full speed. */
  rooms: { rooms: number; perRoom: number; warmupS: number; measureS: number };
  fixedRate: { clients: number; senders: number; rate: number; warmupS: number; measureS: number };
  mass: { clients: number; scryptN: number; broadcasts: number };
  storm: {
    clients: number;
    senders: number;
    rate: number;
    logins: number;
    scryptN: number;
    beforeS: number;
    afterS: number;
    /** The server on one half of the CPUs, the load generators on the other (undefined: shared). */
    cores: CoreSplit | undefined;
  };
  startup: { users: number; historyLines: number };
  /** S7: one room over 3 cluster nodes (bench/cluster.ts), at `rate` messages/s and at full speed. */
  cluster: { clients: number; senders: number; rate: number; warmupS: number; measureS: number };
}

export interface CaseResult {
  figures: Record<string, number>;
  /** `misrouted`: messages delivered to a client outside the sender's room (rooms only). */
  integrity: { missing: number; duplicated: number; misrouted: number; droppedAfterLogin: number; failedLogins: number };
  /** CPU of other processes on the machine while this case measured, in cores. */
  otherCores: number;
  notes: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (micros: number) => micros / 1000;

/**
 * Clients `${prefix}0` … ; the first `senders` send. With `rooms`, client i joins room i % rooms
 * (so sender s is in room s % rooms, as the load generator assumes).
 */
function clientSpecs(prefix: string, count: number, senders: number, rooms = 0): ClientSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    login: login(prefix, i),
    password: BENCH_PASSWORD,
    sender: i < senders ? i : -1,
    ...(rooms > 0 ? { room: i % rooms } : {}),
  }));
}

interface Running {
  server: ServerProcess;
  pool: GeneratorPool;
  dataDir: string | undefined;
}

/**
 * The per-connection input rate limit (`--rate-limit`, 20 lines/s by default) caps 10 senders at
 * 200 messages/s: fine for S2 and S4, which run at 20 messages/s per sender, but S1 measures how
 * fast the server delivers. There it is raised so far that it never binds — its code still runs.
 */
export const RATE_LIMIT_OFF = ['--rate-limit', '1000000', '--rate-burst', '1000000'];
export const hasRateLimit = 'rateLimitPerSecond' in DEFAULTS;

async function startCaseFor(
  kind: ServerKind,
  s: Settings,
  opts: {
    users?: UserGroup[];
    senders: number;
    scryptN?: number;
    clients: number;
    unlimitedInput?: boolean;
    /** Generator processes beyond `s.generators`, for clients dealt to them explicitly. */
    extraGenerators?: number;
    cores?: CoreSplit;
    /** Rooms the clients join (S6); 0 or absent: everyone in #lobby. */
    rooms?: number;
  },
): Promise<Running> {
  const dataDir = kind === 'ours' ? await makeDataDir({ clients: opts.users ? await clientsFile(opts.users) : undefined }) : undefined;
  const extraArgs =
    kind === 'ours'
      ? [
          ...(opts.scryptN ? ['--scrypt-cost', String(opts.scryptN)] : []),
          ...(opts.unlimitedInput && hasRateLimit ? RATE_LIMIT_OFF : []),
          ...(process.env.BENCH_OURS_ARGS ?? '').split(/\s+/).filter(Boolean), // experiments only
        ]
      : (process.env.BENCH_BASELINE_ARGS ?? '').split(/\s+/).filter(Boolean); // e.g. "--batch cork"
  const server = await ServerProcess.start(kind, { dataDir, extraArgs, cpus: opts.cores?.server });
  try {
    const pool = await GeneratorPool.start(
      s.generators + (opts.extraGenerators ?? 0),
      {
        port: server.port,
        kind,
        senders: opts.senders,
        window: s.window,
        textLength: s.textLength,
        sourceAddresses: sourceAddressesFor(Math.ceil(opts.clients / s.generators)),
        rooms: opts.rooms ?? 0,
      },
      opts.cores?.generators,
    );
    return { server, pool, dataDir };
  } catch (err) {
    await server.stop();
    if (dataDir) await removeDataDir(dataDir);
    throw err;
  }
}

/**
 * Connections from one generator process to the server all share 127.0.0.1 → 127.0.0.1:port, so
 * the local port range (about 28,000 on Linux by default) bounds them. Beyond 20,000 per process,
 * spread them over 127.0.0.2, 127.0.0.3, … (all loopback on Linux).
 */
function sourceAddressesFor(perGenerator: number): string[] {
  if (perGenerator <= 20_000 || os.platform() !== 'linux') return [];
  return Array.from({ length: Math.ceil(perGenerator / 20_000) }, (_, i) => `127.0.0.${i + 2}`);
}

async function endCase(running: Running): Promise<void> {
  await running.pool.close().catch(() => undefined);
  await running.server.stop().catch(() => undefined);
  if (running.dataDir) await removeDataDir(running.dataDir);
}

/** The processes whose CPU a case accounts for: the server, every generator, the bench itself. */
function watched(server: ServerProcess, pool: GeneratorPool): Record<string, number | undefined> {
  return { server: server.pid, bench: process.pid, ...Object.fromEntries(pool.pids.map((pid, i) => [`gen${i}`, pid])) };
}

function generatorCores(cpu: CpuWindow): number {
  return Object.entries(cpu.cores).reduce((sum, [name, cores]) => (name.startsWith('gen') ? sum + (cores || 0) : sum), 0);
}

function integrityOf(report: MergedReport, failedLogins: number): CaseResult['integrity'] {
  return {
    missing: report.missing,
    duplicated: report.duplicated,
    misrouted: report.misrouted,
    droppedAfterLogin: report.droppedAfterLogin,
    failedLogins,
  };
}

function requireLogins(kind: ServerKind, label: string, result: { ok: number; failed: number; errors: string[] }, server: ServerProcess): void {
  if (result.failed > 0 && result.ok === 0) {
    throw new Error(`${kind}: ${label}: no client could sign in (${result.errors.join('; ')})\n${server.output()}`);
  }
}

// ---- scenarios 1, 2 and 6: chat at full speed, at a fixed rate, in rooms ---------------------

/**
 * `rooms` (S6): the clients are spread over that many rooms (each joins `#room<k>` after signing
 * in, both servers alike), sender s talks in room s % rooms, and only its room receives it.
 */
export async function chatCase(
  kind: ServerKind,
  s: Settings,
  opts: { clients: number; senders: number; rate?: number; warmupS: number; measureS: number; label: string; rooms?: number },
): Promise<CaseResult> {
  const rooms = opts.rooms ?? 0;
  const running = await startCaseFor(kind, s, {
    users: [{ prefix: 'u', count: opts.clients, scryptN: SETUP_SCRYPT_N }],
    senders: opts.senders,
    clients: opts.clients,
    unlimitedInput: opts.rate === undefined,
    rooms,
  });
  const { server, pool } = running;
  try {
    const joined = await pool.connect(
      `${kind}: signing in ${opts.clients} clients${rooms ? ` into ${rooms} rooms` : ''}`,
      clientSpecs('u', opts.clients, opts.senders, rooms),
      { concurrency: 100 },
    );
    requireLogins(kind, opts.label, joined, server);
    await sleep(300); // let the join notices drain
    pool.phase(1);
    pool.startSending(opts.rate);
    await progress.timed(`${kind}: ${opts.label}, warming up`, opts.warmupS, sleep(opts.warmupS * 1000));
    const window = cpuWindow(watched(server, pool));
    const writesBefore = processWriteCalls(server.pid);
    pool.phase(2);
    await server.probe({ resetLoop: true });
    const profileDir = process.env.BENCH_PROFILE_DIR;
    if (profileDir) await server.profile();
    await progress.timed(`${kind}: ${opts.label}, measuring`, opts.measureS, sleep(opts.measureS * 1000));
    pool.phase(3);
    if (profileDir) await server.profile(path.join(profileDir, `${kind}-${opts.label.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`));
    const cpu = window.end();
    const writes = processWriteCalls(server.pid) - writesBefore;
    const rss = processRss(server.pid);
    const loop = await server.probe();
    const finalSeq = await pool.stopSending(opts.senders);
    const complete = await pool.drain(finalSeq, s.drainTimeoutMs);
    const { merged } = await pool.report();
    const latency = merged.latency[2];
    const notes = complete ? [] : ['not every message arrived before the drain timeout'];
    return {
      figures: {
        deliveriesPerS: merged.deliveries[2] / cpu.seconds,
        // Each message reaches the other members of its room.
        messagesPerS: merged.deliveries[2] / cpu.seconds / ((rooms ? opts.clients / rooms : opts.clients) - 1),
        p50Ms: ms(latency.quantile(0.5)),
        p99Ms: ms(latency.quantile(0.99)),
        maxMs: ms(latency.quantile(1)),
        // The messages sent while warming up (the first seconds of chat), timed all the same.
        warmupP99Ms: ms(merged.latency[1].quantile(0.99)),
        serverCpuCores: cpu.cores.server,
        // CPU time per delivery: the least noisy efficiency figure on a shared machine.
        serverCpuUsPerDelivery: (cpu.cores.server * cpu.seconds * 1e6) / merged.deliveries[2],
        generatorCpuCores: generatorCores(cpu),
        // Deliveries per write system call of the server (sockets and files alike; Linux only).
        deliveriesPerWrite: merged.deliveries[2] / writes,
        serverRssMB: rss / 2 ** 20,
        loopMaxMs: loop.loopMaxMs,
        loggedIn: joined.ok,
      },
      integrity: integrityOf(merged, joined.failed),
      otherCores: cpu.otherCores,
      notes,
    };
  } finally {
    await endCase(running);
  }
}

// ---- scenario 3: 10,000 concurrent signed-in clients -----------------------------------------

const STAGE_NAMES = ['connect', 'tcp', 'loginPrompt', 'passwordPrompt', 'welcome', 'replayEnd'];

/** p50 of each step of signing in: where the time of a sign-in goes. */
function stageFigures(stages: Histogram[]): Record<string, number> {
  const figures: Record<string, number> = {};
  stages.forEach((h, i) => {
    if (i > 0) figures[`step_${STAGE_NAMES[i]}_p50Ms`] = ms(h.quantile(0.5));
  });
  return figures;
}

export async function massCase(kind: ServerKind, s: Settings): Promise<CaseResult> {
  const { clients, scryptN, broadcasts } = s.mass;
  const running = await startCaseFor(kind, s, {
    users: [{ prefix: 'u', count: clients, scryptN }],
    senders: 1,
    scryptN,
    clients,
  });
  const { server, pool } = running;
  try {
    await sleep(200);
    // Both weighings collect garbage and then let the freed pages go back to the OS for a second:
    // read at once, RSS still held ~5 KB per connection of memory already freed (10,000 clients).
    const idle = await server.probe({ gc: true, settleMs: 1000 });
    const window = cpuWindow(watched(server, pool));
    const started = nowUs();
    const joined = await pool.connect(`${kind}: signing in ${clients} clients`, clientSpecs('u', clients, 1), { concurrency: 250 });
    requireLogins(kind, 'mass sign-in', joined, server);
    const allInS = (joined.lastReadyAt - started) / 1e6;
    const cpu = window.end();
    // Let the join notices drain and the sockets' buffers empty before weighing the server.
    await sleep(1500);
    const full = await server.probe({ gc: true, settleMs: 1000 });
    const rssRaw = processRss(server.pid);
    pool.phase(2);
    pool.startSending(broadcasts); // one sender, `broadcasts` messages per second for a second
    await sleep(1000);
    const finalSeq = await pool.stopSending(1);
    const complete = await pool.drain(finalSeq, s.drainTimeoutMs);
    const { merged } = await pool.report();
    const reach = merged.latency[2];
    return {
      figures: {
        loggedIn: joined.ok,
        allSignedInS: allInS,
        loginsPerS: joined.ok / allInS,
        loginP50Ms: ms(joined.loginTime.quantile(0.5)),
        loginMaxMs: ms(joined.loginTime.quantile(1)),
        rssPerConnKB: (full.rss - idle.rss) / joined.ok / 1024,
        heapPerConnKB: (full.heapUsed - idle.heapUsed) / joined.ok / 1024,
        serverRssMB: rssRaw / 2 ** 20,
        broadcastP50Ms: ms(reach.quantile(0.5)),
        broadcastAllMs: ms(reach.quantile(1)),
        serverCpuCores: cpu.cores.server,
        generatorCpuCores: generatorCores(cpu),
        ...stageFigures(joined.stages),
      },
      integrity: integrityOf(merged, joined.failed),
      otherCores: cpu.otherCores,
      notes: complete ? [] : ['not every broadcast reached every client before the drain timeout'],
    };
  } finally {
    await endCase(running);
  }
}

// ---- scenario 4: a login storm while the room chats ------------------------------------------

export async function stormCase(kind: ServerKind, s: Settings): Promise<CaseResult> {
  const { clients, senders, rate, logins, scryptN, beforeS, afterS } = s.storm;
  const running = await startCaseFor(kind, s, {
    users: [
      { prefix: 'u', count: clients, scryptN: SETUP_SCRYPT_N },
      { prefix: 's', count: logins, scryptN },
    ],
    senders,
    scryptN,
    clients: clients + logins,
    // The storm signs in from a generator process of its own: opening 200 connections at once
    // held up the event loop of a generator that was also timing the room's chat, and the bare
    // baseline's chat p99 tripled "during the storm" from that alone.
    extraGenerators: 1,
    // And the server keeps to its own CPUs: its hashing thread, on a core the generators used,
    // slowed the generators that time the chat (bench/README.md, "The login storm's cores").
    cores: s.storm.cores,
  });
  const { server, pool } = running;
  const roomGenerators = Array.from({ length: s.generators }, (_, gen) => gen);
  const stormGenerator = s.generators;
  try {
    const joined = await pool.connect(`${kind}: signing in ${clients} clients`, clientSpecs('u', clients, senders), {
      concurrency: 100,
      on: roomGenerators,
    });
    requireLogins(kind, 'login storm', joined, server);
    await sleep(300);
    pool.phase(1);
    pool.startSending(rate / senders);
    await sleep(500); // the senders' first messages
    const before = cpuWindow(watched(server, pool));
    pool.phase(2);
    await progress.timed(`${kind}: chatting before the storm`, beforeS, sleep(beforeS * 1000));
    const beforeCpu = before.end();
    const during = cpuWindow(watched(server, pool));
    pool.phase(3);
    const stormStart = nowUs();
    const storm = await pool.connect(`${kind}: login storm, ${logins} sign-ins`, clientSpecs('s', logins, 0), {
      concurrency: logins,
      late: true,
      on: [stormGenerator],
    });
    const stormS = (storm.lastReadyAt - stormStart) / 1e6;
    const stormCpu = during.end();
    pool.phase(4);
    await sleep(afterS * 1000);
    const finalSeq = await pool.stopSending(senders);
    const complete = await pool.drain(finalSeq, s.drainTimeoutMs);
    const { merged } = await pool.report();
    const p99Before = ms(merged.latency[2].quantile(0.99));
    const p99During = ms(merged.latency[3].quantile(0.99));
    return {
      figures: {
        p99BeforeMs: p99Before,
        p99DuringMs: p99During,
        p99DuringOverBefore: p99During / p99Before,
        maxDuringMs: ms(merged.latency[3].quantile(1)),
        stormLoggedIn: storm.ok,
        stormS,
        loginsPerS: storm.ok / stormS,
        stormLoginP50Ms: ms(storm.loginTime.quantile(0.5)),
        stormLoginMaxMs: ms(storm.loginTime.quantile(1)),
        serverCpuCoresDuring: stormCpu.cores.server,
        generatorCpuCoresDuring: generatorCores(stormCpu),
      },
      integrity: integrityOf(merged, joined.failed + storm.failed),
      otherCores: (beforeCpu.otherCores + stormCpu.otherCores) / 2,
      notes: complete ? [] : ['not every message arrived before the drain timeout'],
    };
  } finally {
    await endCase(running);
  }
}

// ---- scenario 5: start-up with big files -------------------------------------------------------

export type StartupVariant = 'big' | 'empty';

export async function startupCase(kind: ServerKind, s: Settings, variant: StartupVariant): Promise<CaseResult> {
  const { users, historyLines } = s.startup;
  const dataDir =
    kind === 'ours'
      ? await makeDataDir(
          variant === 'big'
            ? { clients: await clientsFile([{ prefix: 'u', count: users, scryptN: SETUP_SCRYPT_N }]), history: await historyFile(historyLines) }
            : {},
        )
      : undefined;
  const port = await freePort();
  const server = await ServerProcess.start(kind, { dataDir, port, waitListening: false });
  try {
    const client = await LineClient.connectWhenUp('127.0.0.1', port, 60_000);
    const acceptingS = (nowUs() - server.spawnedAt) / 1e6;
    const figures: Record<string, number> = { acceptingS };
    if (kind === 'ours') {
      // The first sign-in: an existing user when there are users, a registration otherwise.
      const name = variant === 'big' ? login('u', 0) : 'first';
      await client.waitFor(/login.*:$/);
      client.send(name);
      const prompt = await client.waitFor(/^Password:|^Choose a password/);
      let sentAt = client.send(BENCH_PASSWORD);
      if (prompt.text.startsWith('Choose')) {
        await client.waitFor(/^Repeat/);
        sentAt = client.send(BENCH_PASSWORD);
      }
      const welcome = await client.waitFor(/^Welcome/);
      const end = await client.waitFor(/^--- (end of history|no messages yet)/);
      figures.firstReplayMs = ms(end.at - sentAt);
      figures.welcomeToReplayEndMs = ms(end.at - welcome.at);
    } else {
      client.send('first');
      await client.waitFor(/^Welcome/);
    }
    client.close();
    const probe = await server.probe({ gc: true });
    figures.serverRssMB = processRss(server.pid) / 2 ** 20;
    figures.heapUsedMB = probe.heapUsed / 2 ** 20;
    return {
      figures,
      integrity: { missing: 0, duplicated: 0, misrouted: 0, droppedAfterLogin: 0, failedLogins: 0 },
      otherCores: Number.NaN,
      notes: [],
    };
  } finally {
    await server.stop().catch(() => undefined);
    if (dataDir) await removeDataDir(dataDir);
  }
}

