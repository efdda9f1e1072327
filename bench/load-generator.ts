/**
 * A load-generator process (bench/run.ts starts one or more and drives them over IPC; see
 * gen-protocol.ts). It opens the clients, signs them in the way a person would (answering the
 * prompts: login, password or "Choose a password" + "Repeat", then skipping the history replay;
 * in a case with rooms, then `/join #room<k>` and skipping that room's history block too),
 * sends chat messages and times every delivery on its own clock.
 *
 * Every message says who sent it and its sequence number, so every receiver checks that it gets
 * each sender's messages exactly once and in order: a gap counts as missing, a repeat as
 * duplicated. Senders are bounded: a sender may be at most `window` messages ahead of the slowest
 * receiver on any generator process (watermarks are exchanged through the parent).
 *
 * The receive path is written for speed (a generator must outrun the server): byte scanning, no
 * string per delivered line, one clock read per chunk.
 */
import net, { type Socket } from 'node:net';
import type { ClientSpec, FromGenerator, GeneratorReport, ToGenerator } from './gen-protocol.js';
import { MARK, roomName } from './gen-protocol.js';
import { Histogram } from './histogram.js';

const LF = 0x0a;
const DOT = 0x2e;
const RING = 1 << 13;
const RING_MASK = RING - 1;
const UNSET = -2;
const INF = 2 ** 30;
const MAX_PHASES = 8;

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
const send = (msg: FromGenerator) => process.send!(msg);

let cfg: Extract<ToGenerator, { t: 'init' }>;
/** Clients signed in and chatting. */
const conns: Conn[] = [];
/** Local senders by global index. */
const senders = new Map<number, Conn>();
let sending = false;
let rate: number | undefined;
let sendStart = 0;
let phase = 0;
let pad = '';
let nextSource = 0;
/** Rooms the case spreads its clients over (0: one room, everyone receives every sender). */
let rooms = 0;

// Watermarks: localWm[s] = highest seq of sender s that every local gating receiver has got.
let localWm: Int32Array;
let gateCount: Int32Array;
let ringCounts: Uint32Array;
let remoteWm: Int32Array[] = [];
let wmDirty = false;
let wmTimer: NodeJS.Timeout | undefined;
const topUpDue = new Set<number>();
let topUpScheduled = false;

const deliveries = new Array<number>(MAX_PHASES).fill(0);
const latency: (Histogram | null)[] = new Array(MAX_PHASES).fill(null);
let messagesSent = 0;
let missing = 0;
let duplicated = 0;
let misrouted = 0;
let otherLines = 0;
let droppedAfterLogin = 0;

type State = 'login' | 'history' | 'joining' | 'ready' | 'closed';

/** The steps of a sign-in, timed per client: each stage is the time since the previous one. */
export const STAGES = ['connect', 'tcp', 'loginPrompt', 'passwordPrompt', 'welcome', 'replayEnd'] as const;
const stage = (name: (typeof STAGES)[number]) => STAGES.indexOf(name);

class Conn {
  state: State = 'login';
  carry: Buffer | undefined;
  /** Last seq seen per sender; UNSET for a late joiner that has not seen that sender yet. */
  last!: Int32Array;
  gating = false;
  late = false;
  seq = -1;
  /** The room this client chats in (S6), -1: the one room of every other case. */
  room = -1;
  /** Whether the `/join` of `room` has been sent (the second history block is the room's). */
  joinSent = false;
  onReady: (() => void) | undefined;
  onFail: ((why: string) => void) | undefined;
  /** When each step of signing in happened (µs): see STAGES. */
  readonly stamps = new Float64Array(STAGES.length);

  constructor(
    readonly socket: Socket,
    readonly spec: ClientSpec,
  ) {}

  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** A line before the client is chatting: the sign-in dialogue and the history replay. */
  control(line: string): void {
    if (this.state === 'history') {
      if (line.startsWith('--- end of history') || line.startsWith('--- no messages yet')) {
        if (!this.joinSent) this.stamps[stage('replayEnd')] = nowUs();
        this.signedIn();
      }
      return;
    }
    if (this.state === 'joining') {
      // The answer to `/join`, then the room's history block (state 'history' again); the
      // notices of #lobby that arrive meanwhile are skipped.
      if (line.startsWith('You joined ')) this.state = 'history';
      else if (/^(You are in \d+ rooms|A room name is|#\S+ is unavailable|Unknown command)/.test(line)) this.fail(line);
      return;
    }
    if (cfg.kind === 'baseline') {
      if (line.startsWith('Welcome')) {
        this.stamps[stage('welcome')] = this.stamps[stage('replayEnd')] = nowUs();
        this.signedIn();
      }
      return;
    }
    const { login, password } = this.spec;
    if (line.startsWith('Welcome')) {
      this.stamps[stage('welcome')] = nowUs();
      this.state = 'history';
    } else if (/login.*:$/.test(line)) {
      this.stamps[stage('loginPrompt')] = nowUs();
      this.write(`${login}\n`);
    } else if (line.startsWith('Password:') || line.startsWith('Choose a password') || line.startsWith('Repeat')) {
      this.stamps[stage('passwordPrompt')] ||= nowUs();
      this.write(`${password}\n`);
    } else if (/already logged in|Too many|timed out|Sorry|failed|busy|Wrong password|shutting down/.test(line)) {
      this.fail(line);
    }
  }

  /** Signed in (and the login history replayed): joins its room first if it has one. */
  signedIn(): void {
    if (this.room >= 0 && !this.joinSent) {
      this.joinSent = true;
      this.state = 'joining';
      this.write(`/join ${roomName(this.room)}\n`);
      return;
    }
    this.ready();
  }

  ready(): void {
    this.state = 'ready';
    const cb = this.onReady;
    this.onReady = this.onFail = undefined;
    cb?.();
  }

  fail(why: string): void {
    const cb = this.onFail;
    this.onReady = this.onFail = undefined;
    this.socket.destroy();
    cb?.(why);
  }

  onData(chunk: Buffer): void {
    const now = nowUs();
    let buf = chunk;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    const len = buf.length;
    let pos = 0;
    let mark = buf.indexOf(MARK);
    while (pos < len) {
      const nl = buf.indexOf(LF, pos);
      if (nl === -1) {
        this.carry = Buffer.from(buf.subarray(pos));
        break;
      }
      if (this.state !== 'ready') {
        const end = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
        this.control(buf.toString('utf8', pos, end));
      } else {
        if (mark !== -1 && mark < pos) mark = buf.indexOf(MARK, pos);
        if (mark !== -1 && mark < nl) {
          let i = mark + 1;
          let c = 0;
          let s = 0;
          while ((c = buf[i++]) !== DOT) s = s * 10 + c - 48;
          let seq = 0;
          while ((c = buf[i++]) !== DOT) seq = seq * 10 + c - 48;
          let ph = 0;
          while ((c = buf[i++]) !== DOT) ph = ph * 10 + c - 48;
          let t = 0;
          while ((c = buf[i++]) !== DOT) t = t * 10 + c - 48;
          this.delivered(s, seq, ph, now - t);
        } else {
          otherLines++;
        }
      }
      pos = nl + 1;
    }
  }

  delivered(s: number, seq: number, ph: number, micros: number): void {
    if (rooms > 0 && this.room !== s % rooms) {
      misrouted++; // another room's message: never counted as a delivery
      return;
    }
    deliveries[phase]++;
    // Latency is the room's: a late joiner (S4's storm) was not there "before", so timing it
    // "during" would compare different receivers.
    if (!this.late) (latency[ph] ??= new Histogram()).record(micros);
    const last = this.last[s];
    if (last === UNSET) {
      this.last[s] = seq;
      return;
    }
    if (seq <= last) {
      duplicated++;
      return;
    }
    if (seq !== last + 1) missing += seq - last - 1;
    this.last[s] = seq;
    if (!this.gating) return;
    const slot = s * RING + (seq & RING_MASK);
    if (++ringCounts[slot] === gateCount[s] && seq === localWm[s] + 1) advance(s);
  }
}

function advance(s: number): void {
  const base = s * RING;
  const need = gateCount[s];
  let wm = localWm[s];
  while (ringCounts[base + ((wm + 1) & RING_MASK)] === need) {
    ringCounts[base + ((wm + 1) & RING_MASK)] = 0;
    wm++;
  }
  localWm[s] = wm;
  wmDirty = true;
  if (!wmTimer) wmTimer = setTimeout(flushWm, 2);
  scheduleTopUp(s);
}

function flushWm(): void {
  wmTimer = undefined;
  if (!wmDirty) return;
  wmDirty = false;
  if (cfg.generators > 1) send({ t: 'wm', from: cfg.gen, wm: Array.from(localWm) });
}

function scheduleTopUp(s: number): void {
  if (!senders.has(s) || !sending) return;
  topUpDue.add(s);
  if (topUpScheduled) return;
  topUpScheduled = true;
  setImmediate(() => {
    topUpScheduled = false;
    for (const due of topUpDue) topUp(due);
    topUpDue.clear();
  });
}

function globalWm(s: number): number {
  let wm = localWm[s];
  for (const remote of remoteWm) if (remote && remote[s] < wm) wm = remote[s];
  return wm;
}

/** Sends what sender `s` may send now: up to the window, and (at a fixed rate) what is due. */
function topUp(s: number): void {
  const conn = senders.get(s);
  if (!conn || !sending || conn.state !== 'ready') return;
  let allowed = globalWm(s) + cfg.window;
  if (rate !== undefined) {
    // Senders are spread evenly over the period so that they do not all fire together.
    const period = 1e6 / rate;
    // Message k of sender s is due at (k + 1 - s/senders) periods after the start.
    const due = Math.floor((nowUs() - sendStart + (period * s) / cfg.senders) / period);
    allowed = Math.min(allowed, due - 1);
  }
  const n = allowed - conn.seq;
  if (n <= 0) return;
  const t = nowUs();
  const parts: string[] = [];
  for (let k = 0; k < n; k++) {
    conn.seq++;
    const head = `~${s}.${conn.seq}.${phase}.${t}.`;
    parts.push(head, pad.slice(head.length), '\n');
  }
  messagesSent += n;
  conn.write(parts.join(''));
}

function connectOne(spec: ClientSpec, late: boolean): Promise<number> {
  const started = nowUs();
  return new Promise((resolve, reject) => {
    const sources = cfg.sourceAddresses;
    const localAddress = sources.length > 0 ? sources[nextSource++ % sources.length] : undefined;
    const socket = net.connect({ host: cfg.host, port: spec.port ?? cfg.port, localAddress, noDelay: true });
    const conn = new Conn(socket, spec);
    conn.stamps[stage('connect')] = started;
    conn.last = new Int32Array(cfg.senders).fill(late ? UNSET : -1);
    conn.late = late;
    conn.room = spec.room ?? -1;
    conn.onReady = () => {
      for (let i = 1; i < STAGES.length; i++) {
        if (conn.stamps[i] === 0) conn.stamps[i] = conn.stamps[i - 1]; // a step the baseline has not
        stageTimes[i].record(conn.stamps[i] - conn.stamps[i - 1]);
      }
      conns.push(conn);
      if (spec.sender >= 0) senders.set(spec.sender, conn);
      resolve(nowUs() - started);
    };
    conn.onFail = (why) => reject(new Error(why));
    socket.on('connect', () => {
      conn.stamps[stage('tcp')] = nowUs();
      if (cfg.kind === 'baseline') conn.write(`${spec.login}\n`);
    });
    socket.on('data', (chunk: Buffer) => conn.onData(chunk));
    socket.on('error', (err) => conn.fail(`${(err as NodeJS.ErrnoException).code ?? err.message}`));
    socket.on('close', () => {
      if (conn.state === 'ready') droppedAfterLogin++;
      conn.state = 'closed';
      conn.fail('closed by the server');
    });
  });
}

let stageTimes: Histogram[] = [];

async function connectAll(msg: Extract<ToGenerator, { t: 'connect' }>): Promise<void> {
  const { clients, concurrency, late, batch } = msg;
  stageTimes = STAGES.map(() => new Histogram());
  const loginTime = new Histogram();
  const errors: string[] = [];
  let next = 0;
  let active = 0;
  let ok = 0;
  let failed = 0;
  let lastReadyAt = 0;
  const progress = setInterval(() => send({ t: 'progress', batch, done: ok, failed }), 250);
  await new Promise<void>((done) => {
    const launch = () => {
      if (next >= clients.length && active === 0) return done();
      while (active < concurrency && next < clients.length) {
        const spec = clients[next++];
        active++;
        connectOne(spec, late).then(
          (micros) => {
            ok++;
            lastReadyAt = nowUs();
            loginTime.record(micros);
          },
          (err: Error) => {
            failed++;
            if (errors.length < 5) errors.push(`${spec.login}: ${err.message}`);
          },
        ).finally(() => {
          active--;
          launch();
        });
      }
    };
    launch();
  });
  clearInterval(progress);
  send({
    t: 'connected',
    batch,
    ok,
    failed,
    errors,
    loginTime: loginTime.serialize(),
    stages: stageTimes.map((h) => h.serialize()),
    lastReadyAt,
  });
}

function startSending(msgRate: number | undefined): void {
  // Gating receivers: everyone chatting now except late joiners; a sender does not get its own.
  gateCount = new Int32Array(cfg.senders);
  for (const conn of conns) {
    if (conn.late || conn.state !== 'ready') continue;
    conn.gating = true;
    for (let s = 0; s < cfg.senders; s++) if (conn.spec.sender !== s && inRoomOf(conn, s)) gateCount[s]++;
  }
  localWm = new Int32Array(cfg.senders);
  for (let s = 0; s < cfg.senders; s++) localWm[s] = gateCount[s] === 0 ? INF : -1;
  ringCounts = new Uint32Array(cfg.senders * RING);
  wmDirty = true;
  flushWm();
  rate = msgRate;
  sendStart = nowUs();
  sending = true;
  if (rate === undefined) {
    for (const s of senders.keys()) topUp(s);
  } else {
    const tick = setInterval(() => {
      if (!sending) return clearInterval(tick);
      for (const s of senders.keys()) topUp(s);
    }, 1);
  }
}

/** Whether `conn` is meant to receive sender `s`: everyone in a one-room case, its room's members with rooms. */
function inRoomOf(conn: Conn, s: number): boolean {
  return rooms === 0 || conn.room === s % rooms;
}

/**
 * Messages a signed-in receiver still lacks of those the senders sent up to `finalSeq` (a sender
 * does not get its own; a late joiner counts only from the first message it saw of each sender).
 */
function shortfallOf(conn: Conn, finalSeq: number[]): number {
  if (conn.state !== 'ready') return 0;
  let missing = 0;
  for (let s = 0; s < finalSeq.length; s++) {
    if (conn.spec.sender === s || finalSeq[s] < 0 || !inRoomOf(conn, s)) continue;
    const last = conn.last[s];
    if (conn.late && last === UNSET) continue;
    if (last < finalSeq[s]) missing += finalSeq[s] - last;
  }
  return missing;
}

function drain(finalSeq: number[], timeoutMs: number): Promise<boolean> {
  const complete = () => conns.every((conn) => shortfallOf(conn, finalSeq) === 0);
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      if (complete()) return resolve(true);
      if (Date.now() > deadline) return resolve(false);
      setTimeout(check, 10);
    };
    check();
  });
}

function report(finalSeq: number[] | undefined): GeneratorReport {
  let shortfall = 0;
  if (finalSeq) for (const conn of conns) shortfall += shortfallOf(conn, finalSeq);
  const cpu = process.cpuUsage();
  return {
    deliveries: [...deliveries],
    latency: latency.map((h) => h?.serialize() ?? null),
    messagesSent,
    missing: missing + shortfall,
    duplicated,
    misrouted,
    otherLines,
    droppedAfterLogin,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
  };
}

let finalSeqSeen: number[] | undefined;

process.on('message', (msg: ToGenerator) => {
  switch (msg.t) {
    case 'init':
      cfg = msg;
      rooms = msg.rooms ?? 0;
      pad = 'x'.repeat(Math.max(msg.textLength, 40));
      remoteWm = new Array(msg.generators);
      send({ t: 'ready' });
      break;
    case 'connect':
      void connectAll(msg);
      break;
    case 'phase':
      phase = msg.phase;
      break;
    case 'send':
      startSending(msg.rate);
      break;
    case 'stop': {
      sending = false;
      const lastSeq: [number, number][] = [...senders].map(([s, conn]) => [s, conn.seq]);
      send({ t: 'stopped', lastSeq });
      break;
    }
    case 'drain':
      finalSeqSeen = msg.finalSeq;
      void drain(msg.finalSeq, msg.timeoutMs).then((complete) => send({ t: 'drained', complete }));
      break;
    case 'wm':
      remoteWm[msg.from] = Int32Array.from(msg.wm);
      for (const s of senders.keys()) scheduleTopUp(s);
      break;
    case 'report':
      send({ t: 'report', report: report(finalSeqSeen) });
      break;
    case 'close':
      for (const conn of conns) {
        conn.state = 'closed';
        conn.socket.destroy();
      }
      send({ t: 'closed' });
      setTimeout(() => process.exit(0), 50);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
