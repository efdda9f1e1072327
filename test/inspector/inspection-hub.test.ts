/**
 * The hub with real actors: what it does with nobody subscribed (nothing), how it batches, what
 * a late subscriber gets first, and how a typed line is shown or hidden by the state it reaches.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AnyActorRef, createActor, createMachine, fromCallback } from 'xstate';
import { InspectionHub, type InspectionSink } from '../../src/inspector/inspection-hub.js';
import type { InspectionMessage } from '../../src/inspector/inspection-messages.js';

/** A login flow in miniature: a plain input state, a secret one, a busy one. */
const promptMachine = createMachine({
  id: 'prompt',
  initial: 'askingName',
  context: { pendingPassword: undefined as string | undefined },
  states: {
    askingName: { tags: ['input'], on: { 'client.line': 'askingPassword', tick: {} } },
    askingPassword: { tags: ['input', 'secret'], on: { 'client.line': 'checking' } },
    checking: { on: { 'client.line': 'checking', done: 'askingName' } },
  },
});

class RecordingSink implements InspectionSink {
  readonly batches: InspectionMessage[][] = [];
  deliver(batch: readonly string[]) {
    this.batches.push(batch.map((json) => JSON.parse(json) as InspectionMessage));
  }
  get messages() {
    return this.batches.flat();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

/** As the server does it: the actor is handed to the hub after createActor, before start. */
function inspected<A extends AnyActorRef>(hub: InspectionHub, actor: A): A {
  hub.inspectActor(actor);
  actor.start();
  return actor;
}

describe('InspectionHub', () => {
  it('leaves an actor alone while nobody is subscribed: no observer, not even a look at it', () => {
    const hub = new InspectionHub();
    let reads = 0;
    const actor = new Proxy(createActor(promptMachine), {
      get(target, property, receiver) {
        reads++;
        return Reflect.get(target, property, receiver);
      },
    });

    hub.inspectActor(actor);

    expect(reads).toBe(0);
    expect(hub.watchedCount).toBe(0);
  });

  it('watches live actors only while someone is subscribed, and lets go of them after', () => {
    const hub = new InspectionHub({ flushIntervalMs: 1 });
    const actor = createActor(promptMachine).start();
    hub.inspectActor(actor); // nobody subscribed: ignored
    hub.setLiveActors(() => [actor]);
    const sink = new RecordingSink();

    const unsubscribe = hub.subscribe(sink);
    actor.send({ type: 'tick' });
    hub.flush();
    unsubscribe();
    actor.send({ type: 'tick' });
    hub.flush();

    expect(hub.watchedCount).toBe(0);
    const ticks = sink.messages.filter((m) => m.type === '@xstate.event' && m.event.type === 'tick');
    expect(ticks).toHaveLength(1);
  });

  it('watches a system that many actors share once: each step comes once, and a child ending leaves it watched', () => {
    // As the server's connections: children of one inert root, so one actor system.
    const hub = new InspectionHub({ flushIntervalMs: 1 });
    const sink = new RecordingSink();
    hub.subscribe(sink);
    const root = inspected(hub, createActor(fromCallback(() => {}), { id: 'connections' }));
    const first = inspected(hub, createActor(promptMachine, { id: 'c1', parent: root }));
    const second = inspected(hub, createActor(promptMachine, { id: 'c2', parent: root }));

    first.send({ type: 'tick' });
    second.send({ type: 'client.line' });
    hub.flush();

    expect(hub.watchedCount).toBe(1);
    const events = sink.messages.filter((m) => m.type === '@xstate.event' && m.event.type !== 'xstate.init');
    expect(events.map((m) => (m as { event: { type: string } }).event.type)).toEqual(['tick', 'client.line']);
    const announced = sink.messages.filter((m) => m.type === '@xstate.actor').map((m) => (m as { name: string }).name);
    expect(announced).toEqual(['connections', 'c1', 'c2']);

    const ending = createMachine({ id: 'ending', initial: 'a', states: { a: { on: { end: 'b' } }, b: { type: 'final' } } });
    const third = inspected(hub, createActor(ending, { id: 'c3', parent: root }));
    third.send({ type: 'end' });
    first.send({ type: 'tick' });
    hub.flush();

    expect(hub.watchedCount).toBe(1);
    expect(sink.messages.filter((m) => m.type === '@xstate.event' && m.event.type === 'tick')).toHaveLength(2);
  });

  it('hands messages out in batches: nothing before the interval, everything in order at it', () => {
    vi.useFakeTimers();
    const hub = new InspectionHub({ flushIntervalMs: 50 });
    const sink = new RecordingSink();
    hub.subscribe(sink); // the (empty) replay
    const actor = inspected(hub, createActor(promptMachine));

    for (let i = 0; i < 100; i++) actor.send({ type: 'tick' });
    vi.advanceTimersByTime(49);
    const before = sink.batches.length;
    vi.advanceTimersByTime(1);

    expect(before).toBe(1);
    expect(sink.batches).toHaveLength(2);
    const ticks = sink.batches[1]!.filter((m) => m.type === '@xstate.event' && m.event.type === 'tick');
    expect(ticks).toHaveLength(100);
    expect(sink.batches[1]!.map((m) => Number(m.id))).toEqual([...sink.batches[1]!.map((m) => Number(m.id))].sort((a, b) => a - b));
  });

  it('hands a burst out early, when maxPending messages are waiting', () => {
    vi.useFakeTimers();
    const hub = new InspectionHub({ flushIntervalMs: 50, maxPending: 10 });
    const sink = new RecordingSink();
    hub.subscribe(sink);
    const actor = inspected(hub, createActor(promptMachine));

    for (let i = 0; i < 20; i++) actor.send({ type: 'tick' });

    expect(sink.batches.length).toBeGreaterThanOrEqual(4); // the replay, then batches of 10 without waiting
    expect(sink.batches.slice(1).every((batch) => batch.length === 10)).toBe(true);
  });

  it('shows a typed line only where it is not secret, in the snapshot it caused (its event shows the size)', () => {
    const hub = new InspectionHub({ flushIntervalMs: 1, showContent: true }); // content shown: only the secret rule hides
    const sink = new RecordingSink();
    hub.subscribe(sink);
    const actor = inspected(hub, createActor(promptMachine));

    actor.send({ type: 'client.line', text: 'alice' }); // askingName: input, not secret
    actor.send({ type: 'client.line', text: 'hunter22' }); // askingPassword: secret
    actor.send({ type: 'client.line', text: 'typed-while-busy' }); // checking: not waiting for input
    hub.flush();

    const lines = sink.messages
      .filter((m) => m.type !== '@xstate.actor' && m.event.type === 'client.line')
      .map((m) => `${m.type} ${(m as unknown as { event: { text: string } }).event.text}`);
    expect(lines).toEqual([
      '@xstate.event ••• 5 chars', // the content goes out once, with the snapshot
      '@xstate.snapshot alice',
      '@xstate.event •••',
      '@xstate.snapshot •••',
      '@xstate.event •••',
      '@xstate.snapshot •••',
    ]);
    expect(JSON.stringify(sink.batches)).not.toMatch(/hunter22|typed-while-busy/);
  });

  it('shows by default only the sizes of what users wrote, in events and snapshots alike', () => {
    const hub = new InspectionHub({ flushIntervalMs: 1 });
    const sink = new RecordingSink();
    hub.subscribe(sink);
    const actor = inspected(hub, createActor(promptMachine));

    actor.send({ type: 'client.line', text: 'alice' }); // not secret: with content, this would show
    hub.flush();

    const texts = sink.messages
      .filter((m) => m.type !== '@xstate.actor' && m.event.type === 'client.line')
      .map((m) => `${m.type} ${(m as unknown as { event: { text: string } }).event.text}`);
    expect(texts).toEqual(['@xstate.event ••• 5 chars', '@xstate.snapshot ••• 5 chars']);
    expect(JSON.stringify(sink.batches)).not.toContain('alice');
  });

  it('gives a late subscriber the live actors’ state first, redacted, then the stream', () => {
    const hub = new InspectionHub({ flushIntervalMs: 1 });
    const secretMachine = createMachine({ id: 'vault', context: { login: 'alice', pendingPassword: 'hunter22' } });
    const actor = createActor(secretMachine, { id: 'v1' }).start();
    hub.setLiveActors(() => [actor]);
    const sink = new RecordingSink();

    hub.subscribe(sink);

    expect(sink.batches[0]).toMatchObject([
      { type: '@xstate.actor', name: 'v1', definition: '{"id":"vault"}', snapshot: { status: 'active', context: { login: 'alice', pendingPassword: '•••' } } },
    ]);
  });

  it('stops recording, and forgets what was pending, when the last subscriber leaves', () => {
    vi.useFakeTimers();
    const hub = new InspectionHub({ flushIntervalMs: 50 });
    const sink = new RecordingSink();
    const unsubscribe = hub.subscribe(sink);
    const actor = inspected(hub, createActor(promptMachine));
    actor.send({ type: 'tick' });

    unsubscribe();
    vi.advanceTimersByTime(100);
    actor.send({ type: 'tick' });
    hub.flush();

    expect(hub.subscriberCount).toBe(0);
    expect(sink.batches).toHaveLength(1); // the replay only
  });
});

describe('InspectionHub failures', () => {
  it('never lets a failing subscriber break an actor: the subscriber is dropped, the actor goes on', () => {
    const hub = new InspectionHub({ maxPending: 1 }); // every message is handed out at once
    let calls = 0;
    hub.subscribe({
      deliver() {
        if (++calls > 1) throw new Error('page gone');
      },
    });
    const actor = inspected(hub, createActor(promptMachine));

    actor.send({ type: 'client.line', text: 'alice' });

    expect(actor.getSnapshot().value).toBe('askingPassword');
    expect(hub.subscriberCount).toBe(0);
    expect(hub.watchedCount).toBe(0);
  });
});
