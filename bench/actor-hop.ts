/**
 * What one xstate actor hop costs per message: N events sent one `send` at a time to an xstate v5
 * actor whose transition runs an action doing trivial work, against the same work as a direct
 * function call. Run on its own or from the bench:
 *
 *   node --import tsx bench/actor-hop.ts [--n 500000] [--rounds 7] [--warmup 3] [--json: the figures as a last JSON line too]
 *   npm run bench -- hop
 *
 * Variants, each timed over the same N messages, one round after another (warm-up rounds first,
 * not counted); the figure is the median round, in µs per message:
 *   direct   `handle(event)`: a plain function call doing the work (the floor)
 *   action   `actor.send(event)`, `on: { msg: { actions: 'work' } }` — a static named action
 *   assign   `actor.send(event)`, the work done by `assign` (a new context, a new snapshot per message)
 *   nested   `actor.send(event)`, the static action on a state two levels down (`online.chatting`),
 *            as a connection machine's hot chat transition sits — not on the root
 * The hop is an actor variant's figure minus direct's. The event object is made per message in
 * every variant alike. Single process, single thread: the machine's other load moves these figures
 * (the output says the load average).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { assign, createActor, setup } from 'xstate';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '500000' },
    rounds: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const ROUNDS = Math.max(1, Number(values.rounds));
const WARMUP = Math.max(0, Number(values.warmup));

interface Msg {
  type: 'msg';
  n: number;
}

/** The trivial work: what every variant does once per message. */
let sink = 0;
function work(n: number): void {
  sink = (sink + n) | 0;
}

const machine = setup({
  types: {} as { events: Msg },
  actions: { work: ({ event }) => work(event.n) },
}).createMachine({ id: 'hop', on: { msg: { actions: 'work' } } });

const assignMachine = setup({
  types: {} as { context: { total: number }; events: Msg },
}).createMachine({
  id: 'hop-assign',
  context: { total: 0 },
  on: { msg: { actions: assign({ total: ({ context, event }) => (context.total + event.n) | 0 }) } },
});

/** `run` sends `count` messages and returns the nanoseconds that took. */
const nestedMachine = setup({
  types: {} as { events: Msg },
  actions: { work: ({ event }) => work(event.n) },
}).createMachine({
  id: 'hop-nested',
  initial: 'online',
  states: {
    online: {
      initial: 'chatting',
      states: { chatting: { on: { msg: { actions: 'work' } } }, away: {} },
    },
    offline: {},
  },
});

type Variant = { name: string; run(count: number): bigint };

const handle = (event: Msg) => work(event.n);
const direct: Variant = {
  name: 'direct',
  run(count) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) handle({ type: 'msg', n: i });
    return process.hrtime.bigint() - start;
  },
};

function actorVariant(name: string, make: () => { send(e: Msg): void; stop(): void }): Variant {
  return {
    name,
    run(count) {
      const actor = make(); // a fresh actor each round, started before the clock runs
      const start = process.hrtime.bigint();
      for (let i = 0; i < count; i++) actor.send({ type: 'msg', n: i });
      const took = process.hrtime.bigint() - start;
      actor.stop();
      return took;
    },
  };
}

const variants: Variant[] = [
  direct,
  actorVariant('action', () => createActor(machine).start()),
  actorVariant('assign', () => createActor(assignMachine).start()),
  actorVariant('nested', () => createActor(nestedMachine).start()),
];

/** µs per message of one round. */
const timeRound = (v: Variant): number => Number(v.run(N)) / 1000 / N;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const loadBefore = os.loadavg();
for (let w = 0; w < WARMUP; w++) for (const v of variants) timeRound(v);
const perRound = new Map<string, number[]>(variants.map((v) => [v.name, []]));
// Rounds interleave the variants, so that drift in the machine's load hits all of them.
for (let r = 0; r < ROUNDS; r++) for (const v of variants) perRound.get(v.name)!.push(timeRound(v));

const results = variants.map((v) => {
  const xs = perRound.get(v.name)!;
  return { name: v.name, medianUs: median(xs), minUs: Math.min(...xs), maxUs: Math.max(...xs), roundsUs: xs };
});
const floor = results[0].medianUs;
const out = {
  n: N,
  rounds: ROUNDS,
  warmupRounds: WARMUP,
  node: process.version,
  loadAverageBefore: loadBefore,
  loadAverageAfter: os.loadavg(),
  variants: results.map((r) => ({ ...r, hopUs: r.name === 'direct' ? 0 : r.medianUs - floor })),
  sink,
};

{
  const f = (us: number) => (us < 0.1 ? us.toFixed(4) : us.toFixed(3));
  process.stdout.write(
    `actor hop: ${N.toLocaleString('en-US')} messages per round, ${WARMUP} warm-up + ${ROUNDS} rounds, median round (min–max); Node ${process.version}; ` +
      `load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  for (const r of out.variants) {
    const hop = r.name === 'direct' ? '' : `   hop = ${f(r.hopUs)} µs/message (${(1 / r.medianUs).toFixed(2)}M messages/s)`;
    process.stdout.write(`  ${r.name.padEnd(7)} ${f(r.medianUs)} µs/message (${f(r.minUs)}–${f(r.maxUs)})${hop}\n`);
  }
}
// --json: the figures too, as one last line (bench/run.ts keeps them in the results file).
if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
