/**
 * More of the room machine: the bare machine's own view of membership, the topic length limit
 * at its edge, the cleared topic, /history's recall, the idle timer's input, and the idle report
 * to the parent (run as actors, with an injected idle timer fired by hand: no sleeps).
 */
import { createActor, fromCallback, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { type RoomInput, type RoomToSupervisor, roomMachine, TOPIC_MAX_CHARS } from '../../src/machines/room.js';
import { type AnyEventOf, drive, spawned, summary } from './helpers.js';

type Event = AnyEventOf<typeof roomMachine>;

const DEV: RoomInput = { name: '#dev', idleMs: 60_000, restarted: false };

/** The machine with a membership the test controls (as room.test.ts). */
function roomWith(members: Set<string>) {
  return roomMachine.provide({
    guards: {
      isMember: (_, { connectionId }) => members.has(connectionId),
      isEmpty: () => members.size === 0,
    },
  });
}

function own(members: Set<string>, events: Event[], input = DEV) {
  const [snapshot, actions] = drive(roomWith(members), input, events);
  return [snapshot, summary(actions).filter((a) => a.type !== 'register')] as const;
}

/** A room whose idle timer the test fires: `timer.fire()` is the timeout. */
function roomWithHandTimer() {
  const timer = { ms: undefined as number | undefined, fire: () => {} };
  const machine = roomMachine.provide({
    actors: {
      idleTimer: fromCallback<{ type: 'room.idleTimeout' }, { ms: number }>(({ input, sendBack }) => {
        timer.ms = input.ms;
        timer.fire = () => sendBack({ type: 'room.idleTimeout' });
      }),
    },
  });
  return { machine, timer };
}

describe('room machine: membership without the actor layer', () => {
  it('the bare machine knows no members: it starts empty and refuses a post', () => {
    const [snapshot, actions] = drive(roomMachine, DEV, [{ type: 'room.post', connectionId: 'c1', texts: ['hi'] }]);

    expect(snapshot.value).toEqual({ open: { empty: 'timing' } });
    expect(summary(actions)).toEqual([
      { type: 'register' },
      { type: 'reply', params: { connectionId: 'c1', reply: { type: 'room.refused', room: '#dev', reason: 'You are not in #dev.' } } },
    ]);
  });

  it('asks about the connection that leaves: a member is dismissed, by its id', () => {
    const [, actions] = own(new Set(['c1', 'c2']), [{ type: 'room.leave', connectionId: 'c2' }]);

    expect(actions).toEqual([{ type: 'dismiss', params: { connectionId: 'c2' } }]);
  });
});

describe('room machine: the topic', () => {
  it(`accepts a topic of exactly ${TOPIC_MAX_CHARS} characters`, () => {
    const text = 'x'.repeat(TOPIC_MAX_CHARS);

    const [, actions] = own(new Set(['c1']), [{ type: 'room.setTopic', connectionId: 'c1', text }]);

    expect(actions).toEqual([{ type: 'saveTopic', params: { connectionId: 'c1', text } }]);
  });

  it('counts a topic\'s characters, not its UTF-16 units', () => {
    const text = '🙂'.repeat(TOPIC_MAX_CHARS);

    const [, actions] = own(new Set(['c1']), [
      { type: 'room.setTopic', connectionId: 'c1', text },
      { type: 'room.setTopic', connectionId: 'c1', text: `${text}🙂` },
    ]);

    expect(actions.map((a) => a.type)).toEqual(['saveTopic', 'reply']);
  });

  it('announces a cleared topic as cleared', () => {
    const [, actions] = own(new Set(['c1']), [{ type: 'room.topicSaved', topic: { text: '', by: 'alice', at: '2026-12-06T12:00:00.000Z' } }]);

    expect(actions).toEqual([{ type: 'announce', params: { line: '* alice cleared the topic of #dev', topic: { text: '', by: 'alice', at: '2026-12-06T12:00:00.000Z' } } }]);
  });
});

describe('room machine: /history and the idle timer', () => {
  it('hands a recall to its actor with the member and the limit', () => {
    const [, actions] = own(new Set(['c1']), [{ type: 'room.recall', connectionId: 'c1', limit: 7 }]);

    expect(actions).toEqual([{ type: 'recall', params: { connectionId: 'c1', limit: 7 } }]);
  });

  it('starts its idle timer for the room\'s idle time', () => {
    const [, actions] = drive(roomWith(new Set()), { ...DEV, idleMs: 4_321 }, []);

    expect(spawned(actions)).toEqual([{ id: 'idleTimer', src: 'idleTimer', input: { ms: 4_321 } }]);
  });

  it('once the idle timer fires, tells its parent it is idle, by name', () => {
    const { machine: room, timer } = roomWithHandTimer();
    const heard: RoomToSupervisor[] = [];
    const parent = setup({
      types: { events: {} as RoomToSupervisor },
      actors: { room },
    }).createMachine({
      invoke: { id: 'room:#dev', src: 'room', input: { ...DEV, idleMs: 2_500 } },
      on: { 'room.idle': { actions: ({ event }) => heard.push(event) } },
    });
    const actor = createActor(parent).start();

    expect(timer.ms).toBe(2_500);
    expect(heard).toEqual([]);
    timer.fire();

    expect(heard).toEqual([{ type: 'room.idle', room: '#dev' }]);
    actor.stop();
  });

  it('without a parent, an idle timeout is harmless', () => {
    const { machine, timer } = roomWithHandTimer();
    const errors: unknown[] = [];
    const room = createActor(machine, { input: DEV });
    room.subscribe({ error: (err) => errors.push(err) });
    room.start();

    timer.fire();

    expect(errors).toEqual([]);
    expect(room.getSnapshot().status).toBe('active');
    expect(room.getSnapshot().hasTag('idle')).toBe(true);
    room.stop();
  });
});

