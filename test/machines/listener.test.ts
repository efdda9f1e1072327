import { describe, expect, it } from 'vitest';
import { type ListenerInput, listenerMachine } from '../../src/machines/listener.js';
import { type AnyEventOf, doneActor, drive, errorActor, spawned, step, steps, summary } from './helpers.js';

type Event = AnyEventOf<typeof listenerMachine>;

const input: ListenerInput = { host: '127.0.0.1', port: 0, maxWaiting: 2 };
const BOUND = doneActor('bind', { port: 40123 });

const pause: Event = { type: 'listener.pause' };
const resume: Event = { type: 'listener.resume' };
const stop: Event = { type: 'listener.stop' };
const accepted = (connectionId: string): Event => ({ type: 'connection.accepted', connectionId });
const abandoned = (connectionId: string): Event => ({ type: 'connection.abandoned', connectionId });

const paths = {
  binding: [],
  accepting: [BOUND],
  paused: [BOUND, pause],
} satisfies Record<string, Event[]>;
type LiveState = keyof typeof paths;
const liveStates = Object.keys(paths) as LiveState[];

function at(state: LiveState, overrides: Partial<ListenerInput> = {}) {
  const [snapshot] = drive(listenerMachine, { ...input, ...overrides }, paths[state]);
  return snapshot;
}

function send(snapshot: ReturnType<typeof at>, ...events: Event[]) {
  return steps(listenerMachine, snapshot, events);
}

describe('listener machine: binding', () => {
  it('binds the configured host and port first', () => {
    const [snapshot, actions] = drive(listenerMachine, input, []);

    expect(snapshot.value).toBe('binding');
    expect(spawned(actions)).toEqual([{ id: 'bind', src: 'bind', input: { host: '127.0.0.1', port: 0 } }]);
    expect(summary(actions)).toEqual([]);
  });

  it('accepts once bound, remembering the port actually bound', () => {
    const [after, actions] = send(at('binding'), BOUND);

    expect(after.value).toBe('accepting');
    expect(after.context.boundPort).toBe(40123);
    expect(summary(actions)).toEqual([{ type: 'notify', params: { notice: 'listening', detail: '40123' } }]);
  });

  it('fails, for good, when the port cannot be bound', () => {
    const [after, actions] = send(at('binding'), errorActor('bind', Object.assign(new Error('in use'), { code: 'EADDRINUSE' })));

    expect(after.value).toBe('failed');
    expect(after.status).toBe('done');
    expect(after.context.boundPort).toBeUndefined();
    expect(summary(actions)).toEqual([]);
  });
});

describe('listener machine: state × event', () => {
  /** `next: 'same'` means ignored: same value, same context, no action. */
  const table: { state: LiveState; event: Event; next: string; actions: unknown[]; waiting: number }[] = [
    { state: 'binding', event: accepted('c1'), next: 'same', actions: [], waiting: 0 },
    { state: 'binding', event: pause, next: 'same', actions: [], waiting: 0 },
    { state: 'binding', event: resume, next: 'same', actions: [], waiting: 0 },
    { state: 'accepting', event: abandoned('c1'), next: 'same', actions: [], waiting: 0 },
    { state: 'accepting', event: BOUND, next: 'same', actions: [], waiting: 0 },
    { state: 'accepting', event: accepted('c1'), next: 'accepting', actions: [{ type: 'handOver', params: { connectionId: 'c1' } }], waiting: 0 },
    { state: 'accepting', event: pause, next: 'paused', actions: [{ type: 'notify', params: { notice: 'paused' } }], waiting: 0 },
    { state: 'accepting', event: resume, next: 'accepting', actions: [{ type: 'notify', params: { notice: 'alreadyAccepting' } }], waiting: 0 },
    { state: 'paused', event: accepted('c1'), next: 'paused', actions: [{ type: 'hold', params: { connectionId: 'c1' } }], waiting: 1 },
    { state: 'paused', event: abandoned('c1'), next: 'paused', actions: [], waiting: 0 },
    { state: 'paused', event: pause, next: 'paused', actions: [{ type: 'notify', params: { notice: 'alreadyPaused' } }], waiting: 0 },
    {
      state: 'paused',
      event: resume,
      next: 'accepting',
      actions: [{ type: 'releaseWaiting' }, { type: 'notify', params: { notice: 'resumed' } }],
      waiting: 0,
    },
  ];

  it.each(table)('$state × $event.type → $next', ({ state, event, next, actions, waiting }) => {
    const before = at(state);

    const [after, emitted] = step(listenerMachine, before, event);

    if (next === 'same') {
      expect(after.value).toBe(before.value);
      expect(after.context).toEqual(before.context);
      expect(emitted).toEqual([]);
    } else {
      expect(after.value).toBe(next);
      expect(summary(emitted)).toEqual(actions);
      expect(after.context.waiting).toBe(waiting);
    }
  });

  it.each(liveStates)('stops from %s, closing the server', (state) => {
    const [after, actions] = send(at(state), stop);

    expect(after.value).toBe('stopped');
    expect(after.status).toBe('done');
    expect(summary(actions)).toEqual([{ type: 'closeServer' }, { type: 'notify', params: { notice: 'stopped' } }]);
  });

  it.each(liveStates)('reports a failed accept with its code in %s, and stays there', (state) => {
    const before = at(state);

    const [after, actions] = send(before, { type: 'listener.acceptFailed', code: 'EMFILE' });

    expect(after.value).toBe(before.value);
    expect(summary(actions)).toEqual([{ type: 'notify', params: { notice: 'acceptFailed', detail: 'EMFILE' } }]);
  });
});

describe('listener machine: pausing and resuming', () => {
  it('says it is already paused when paused twice, and changes nothing', () => {
    const paused = at('paused');

    const [after, actions] = send(paused, pause);

    expect(after.value).toBe('paused');
    expect(after.context).toEqual(paused.context);
    expect(summary(actions)).toEqual([{ type: 'notify', params: { notice: 'alreadyPaused' } }]);
  });

  it('says it is already accepting when resumed while accepting, and changes nothing', () => {
    const accepting = at('accepting');

    const [after, actions] = send(accepting, resume);

    expect(after.value).toBe('accepting');
    expect(after.context).toEqual(accepting.context);
    expect(summary(actions)).toEqual([{ type: 'notify', params: { notice: 'alreadyAccepting' } }]);
  });

  it('holds connections while paused, up to maxWaiting, then turns the next ones away', () => {
    const [after, actions] = send(at('paused'), accepted('c1'), accepted('c2'), accepted('c3'), accepted('c4'));

    expect(after.value).toBe('paused');
    expect(after.context.waiting).toBe(2);
    expect(summary(actions)).toEqual([
      { type: 'hold', params: { connectionId: 'c1' } },
      { type: 'hold', params: { connectionId: 'c2' } },
      { type: 'turnAway', params: { connectionId: 'c3' } },
      { type: 'turnAway', params: { connectionId: 'c4' } },
    ]);
  });

  it('makes room for another held connection when a waiting one is abandoned', () => {
    const [full] = send(at('paused'), accepted('c1'), accepted('c2'));

    const [after, actions] = send(full, abandoned('c1'), accepted('c3'));

    expect(after.context.waiting).toBe(2);
    expect(summary(actions)).toEqual([{ type: 'hold', params: { connectionId: 'c3' } }]);
  });

  it('never counts fewer than zero waiting connections', () => {
    const [after] = send(at('paused'), abandoned('ghost'), abandoned('ghost'));

    expect(after.context.waiting).toBe(0);
  });

  it('turns every connection away while paused with no room to wait', () => {
    const [after, actions] = send(at('paused', { maxWaiting: 0 }), accepted('c1'));

    expect(after.context.waiting).toBe(0);
    expect(summary(actions)).toEqual([{ type: 'turnAway', params: { connectionId: 'c1' } }]);
  });

  it('releases the waiting connections on resume and hands over new ones again', () => {
    const [held] = send(at('paused'), accepted('c1'), accepted('c2'));

    const [resumed, resumeActions] = send(held, resume);
    const [, acceptActions] = send(resumed, accepted('c5'));

    expect(resumed.value).toBe('accepting');
    expect(resumed.context.waiting).toBe(0);
    expect(summary(resumeActions)).toEqual([{ type: 'releaseWaiting' }, { type: 'notify', params: { notice: 'resumed' } }]);
    expect(summary(acceptActions)).toEqual([{ type: 'handOver', params: { connectionId: 'c5' } }]);
  });

  it('forgets the waiting count when stopped while paused (the server closes the held sockets)', () => {
    const [held] = send(at('paused'), accepted('c1'));

    const [after] = send(held, stop);

    expect(after.context.waiting).toBe(0);
  });

  it('keeps the bound port across a pause and a resume', () => {
    const [after] = send(at('accepting'), pause, resume);

    expect(after.context.boundPort).toBe(40123);
  });
});

describe('listener machine: a cluster node whose store does not answer (listener.hold / listener.unhold)', () => {
  const hold: Event = { type: 'listener.hold' };
  const unhold: Event = { type: 'listener.unhold' };
  const notices = (actions: Parameters<typeof summary>[0]) =>
    summary(actions).flatMap((a) => (a.type === 'notify' ? [(a.params as { notice: string }).notice] : a.type === 'releaseWaiting' ? ['releaseWaiting'] : []));

  it('holds new connections while the store is away, and serves them once it answers', () => {
    const [held, holding] = send(at('accepting'), hold, accepted('c1'));
    expect(held.value).toBe('paused');
    expect(notices(holding)).toEqual(['heldForStore']);
    expect(summary(holding).map((a) => a.type)).toContain('hold');

    const [after, actions] = send(held, unhold);
    expect(after.value).toBe('accepting');
    expect(notices(actions)).toEqual(['releaseWaiting', 'resumed']);
  });

  it('stays paused when the store answers again if the operator stopped listening meanwhile, until "start listen"', () => {
    const [bothPaused, pausing] = send(at('accepting'), hold, pause);
    expect(notices(pausing)).toEqual(['heldForStore', 'paused']);

    const [stillPaused, back] = send(bothPaused, unhold);
    expect(stillPaused.value).toBe('paused');
    expect(notices(back)).toEqual(['stillPausedByOperator']);

    const [after, resumed] = send(stillPaused, resume);
    expect(after.value).toBe('accepting');
    expect(notices(resumed)).toEqual(['releaseWaiting', 'resumed']);
  });

  it('does not resume on "start listen" while the store is away: it says it will once the store answers', () => {
    const [stillHeld, asked] = send(at('paused'), hold, resume);
    expect(stillHeld.value).toBe('paused');
    expect(notices(asked)).toEqual(['resumesWhenStoreAnswers']);

    const [after, actions] = send(stillHeld, unhold);
    expect(after.value).toBe('accepting');
    expect(notices(actions)).toEqual(['releaseWaiting', 'resumed']);
  });

  it('answers "already paused" only when the operator paused it: a store hold is not the operator\'s pause', () => {
    const [held] = send(at('accepting'), hold);
    const [, first] = send(held, pause);
    expect(notices(first)).toEqual(['paused']);
    const [, again] = send(at('paused'), pause);
    expect(notices(again)).toEqual(['alreadyPaused']);
  });
});
