/**
 * The supervisor's room registry as pure transitions: a room is spawned on its first join,
 * joins are routed to it, the room limit refuses a join, an idle room is stopped and forgotten,
 * the console closes a room, and a crashed room is restarted one-for-one. The room actors are
 * the real room machine (membership given through its guards, as in room.test.ts); their
 * snapshots are read through the refs the supervisor holds.
 */
import { type AnyActorRef, createActor, fromCallback } from 'xstate';
import { describe, expect, it } from 'vitest';
import { LOBBY } from '../../src/machines/protocol.js';
import { type RoomMember, roomMachine } from '../../src/machines/room.js';
import { type SupervisorEvent, type SupervisorInput, supervisorMachine } from '../../src/machines/supervisor.js';
import { type AnyEventOf, doneActor, drive, errorActor, type EmittedAction, linesOf, steps, stoppedChildren, summary } from './helpers.js';

type Event = AnyEventOf<typeof supervisorMachine>;
type Snapshot = ReturnType<typeof at>;

const INPUT: SupervisorInput = { mode: 'chat', roomIdleMs: 60_000, maxRooms: 10 };

/** The supervisor whose rooms are occupied (not idle) or empty (idle once their timer runs). */
function supervisorWithRooms(occupied: boolean) {
  return supervisorMachine.provide({ actors: { room: roomMachine.provide({ guards: { isEmpty: () => !occupied } }) } });
}

const emptyRooms = supervisorWithRooms(false);

function at(path: Event[] = [], input: Partial<SupervisorInput> = {}, machine = emptyRooms) {
  const [snapshot] = drive(machine, { ...INPUT, ...input }, path);
  return snapshot;
}

function send(snapshot: Snapshot, events: Event[], machine = emptyRooms) {
  return steps(machine, snapshot, events);
}

const member = (connectionId: string): RoomMember => ({
  connectionId,
  login: connectionId,
  session: { id: `session:${connectionId}` } as unknown as AnyActorRef,
  link: { deliver: () => {} },
  replay: 20,
});

const join = (room: string, who = member('c1')): SupervisorEvent => ({ type: 'room.join', room, member: who });

/** The `sendTo` actions of a step: to whom (the ref) and what. */
function sent(actions: readonly EmittedAction[]): { to: unknown; event: unknown }[] {
  return actions
    .filter((a) => a.type === 'xstate.sendTo')
    .map((a) => {
      const p = a.params as { to: unknown; event: unknown };
      return { to: p.to, event: p.event };
    });
}

/** The id a ref is registered under in the actor system (how rooms find each other). */
const systemIdOf = (ref: AnyActorRef) => (ref as unknown as { systemId?: string }).systemId;

function roomContext(snapshot: Snapshot, room: string) {
  return (snapshot.context.rooms[room]!.getSnapshot() as { context: unknown }).context;
}

describe('supervisor machine: routing joins and spawning rooms', () => {
  it('starts #lobby as a room that never idles and is not a restart', () => {
    const snapshot = at();
    const lobby = snapshot.context.rooms[LOBBY]!;

    expect(lobby.id).toBe('room:#lobby');
    expect(systemIdOf(lobby)).toBe('room:#lobby');
    expect(roomContext(snapshot, LOBBY)).toEqual({ name: LOBBY, idleMs: 0, restarted: false, members: 0 });
  });

  it('spawns the history writer under the id and system id the rooms look it up by', () => {
    const [snapshot, actions] = drive(emptyRooms, INPUT, []);

    const writer = actions.find((a) => a.type === 'xstate.spawnChild')?.params as { id: string; systemId: string };
    expect(writer).toMatchObject({ id: 'historyWriter', systemId: 'historyWriter' });
    expect(snapshot.children['historyWriter']?.id).toBe('historyWriter');
  });

  it('routes a join for a running room to that room, spawning nothing', () => {
    const before = at();
    const alice = member('c1');

    const [after, actions] = send(before, [join(LOBBY, alice)]);

    expect(sent(actions)).toEqual([{ to: before.context.rooms[LOBBY], event: { type: 'room.join', member: alice } }]);
    expect(after.context.rooms[LOBBY]).toBe(before.context.rooms[LOBBY]);
    expect(Object.keys(after.context.rooms)).toEqual([LOBBY]);
  });

  it('spawns a room on its first join, with the idle time, and hands it the join', () => {
    const alice = member('c1');

    const [after, actions] = send(at(), [join('#dev', alice)]);

    const dev = after.context.rooms['#dev']!;
    expect(Object.keys(after.context.rooms).sort()).toEqual(['#dev', LOBBY]);
    expect(dev.id).toBe('room:#dev');
    expect(systemIdOf(dev)).toBe('room:#dev');
    expect(after.children['room:#dev']).toBe(dev);
    expect(roomContext(after, '#dev')).toEqual({ name: '#dev', idleMs: 60_000, restarted: false, members: 0 });
    expect(sent(actions)).toEqual([{ to: dev, event: { type: 'room.join', member: alice } }]);
  });

  it('a second join to a room spawned already goes to the same actor', () => {
    const first = at([join('#dev')]);
    const bob = member('c2');

    const [after, actions] = send(first, [join('#dev', bob)]);

    expect(after.context.rooms['#dev']).toBe(first.context.rooms['#dev']);
    expect(sent(actions)).toEqual([{ to: first.context.rooms['#dev'], event: { type: 'room.join', member: bob } }]);
  });

  it('spawns the room that reaches the limit exactly (#lobby counts)', () => {
    const [after] = send(at([], { maxRooms: 2 }), [join('#dev')]);

    expect(Object.keys(after.context.rooms).sort()).toEqual(['#dev', LOBBY]);
  });

  it('refuses a join that would make one room more than the limit, with the reason, to the joiner', () => {
    const full = at([join('#dev')], { maxRooms: 2 });
    const carol = member('c3');

    const [after, actions] = send(full, [join('#ops', carol)]);

    expect(sent(actions)).toEqual([
      {
        to: carol.session,
        event: {
          type: 'room.refused',
          room: '#ops',
          reason: 'The server has 2 rooms already, the most it runs; join one of them (/rooms).',
        },
      },
    ]);
    expect(Object.keys(after.context.rooms).sort()).toEqual(['#dev', LOBBY]);
    expect(after.children['room:#ops']).toBeUndefined();
  });

  it('at the limit, still routes a join for a room that runs', () => {
    const full = at([join('#dev')], { maxRooms: 2 });
    const bob = member('c2');

    const [, actions] = send(full, [join('#dev', bob)]);

    expect(sent(actions)).toEqual([{ to: full.context.rooms['#dev'], event: { type: 'room.join', member: bob } }]);
  });
});

describe('supervisor machine: idle rooms', () => {
  it('stops a room still idle when it says so, and forgets it', () => {
    const before = at([join('#dev')]);

    const [after, actions] = send(before, [{ type: 'room.idle', room: '#dev' }]);

    expect(stoppedChildren(actions)).toEqual(['room:#dev']);
    expect(summary(actions)).toEqual([{ type: 'forgetRoom', params: { room: '#dev' } }]);
    expect(Object.keys(after.context.rooms)).toEqual([LOBBY]);
    expect(after.children['room:#dev']).toBeUndefined();
  });

  it('keeps a room that is no longer idle when its idle report is read (a join reached it meanwhile)', () => {
    const occupied = supervisorWithRooms(true);
    const before = at([join('#dev')], {}, occupied);

    const [after, actions] = send(before, [{ type: 'room.idle', room: '#dev' }], occupied);

    expect(actions).toEqual([]);
    expect(after.context.rooms['#dev']).toBe(before.context.rooms['#dev']);
  });

  it('ignores an idle report from a room it no longer runs', () => {
    const stopped = at([join('#dev'), { type: 'room.idle', room: '#dev' }]);

    const [after, actions] = send(stopped, [{ type: 'room.idle', room: '#dev' }]);

    expect(actions).toEqual([]);
    expect(Object.keys(after.context.rooms)).toEqual([LOBBY]);
  });

  it('never stops #lobby: it is not idle even when empty', () => {
    const [after, actions] = send(at(), [{ type: 'room.idle', room: LOBBY }]);

    expect(actions).toEqual([]);
    expect(Object.keys(after.context.rooms)).toEqual([LOBBY]);
  });

  it('a room stopped for idleness is spawned afresh on its next join', () => {
    const stopped = at([join('#dev'), { type: 'room.idle', room: '#dev' }]);

    const [after] = send(stopped, [join('#dev')]);

    expect(Object.keys(after.context.rooms).sort()).toEqual(['#dev', LOBBY]);
    expect(roomContext(after, '#dev')).toEqual({ name: '#dev', idleMs: 60_000, restarted: false, members: 0 });
  });
});

describe('supervisor machine: the console\'s close', () => {
  it('refuses to close #lobby, and tells no room', () => {
    const [after, actions] = send(at([join('#dev')]), [{ type: 'console.close', room: LOBBY }]);

    expect(summary(actions)).toEqual([{ type: 'reply', params: { lines: ['#lobby cannot be closed: everyone online is in it.'] } }]);
    expect(sent(actions)).toEqual([]);
    expect(Object.keys(after.context.rooms).sort()).toEqual(['#dev', LOBBY]);
  });

  it('closes a running room: tells it to close and says where its members went', () => {
    const before = at([join('#dev')]);

    const [after, actions] = send(before, [{ type: 'console.close', room: '#dev' }]);

    expect(sent(actions)).toEqual([{ to: before.context.rooms['#dev'], event: { type: 'room.close' } }]);
    expect(linesOf(actions, 'reply')).toEqual(['Closed #dev: its members are back in #lobby.']);
    // Forgotten once the room has ended (its done event), not before.
    expect(after.context.rooms['#dev']).toBe(before.context.rooms['#dev']);
  });

  it('says there is no such room, and tells no room', () => {
    const [, actions] = send(at([join('#dev')]), [{ type: 'console.close', room: '#ops' }]);

    expect(summary(actions)).toEqual([{ type: 'reply', params: { lines: ['There is no room #ops.'] } }]);
    expect(sent(actions)).toEqual([]);
  });

  it('forgets a room once it has ended', () => {
    const closing = at([join('#dev'), join('#ops'), { type: 'console.close', room: '#dev' }]);

    const [after, actions] = send(closing, [doneActor('room:#dev')]);

    expect(summary(actions)).toEqual([{ type: 'forgetRoom', params: { room: '#dev' } }]);
    expect(Object.keys(after.context.rooms).sort()).toEqual([LOBBY, '#ops']);
  });

  it('forgets nothing when an actor that is not a room ends', () => {
    const before = at([join('#dev')]);

    const [after, actions] = send(before, [doneActor('historyWriter')]);

    expect(summary(actions)).toEqual([]);
    expect(after.context.rooms).toEqual(before.context.rooms);
  });
});

describe('supervisor machine: a crashed room (one-for-one)', () => {
  it('reports the crash and restarts that room alone, with its idle time, as a restart', () => {
    const before = at([join('#dev'), join('#ops')]);

    const [after, actions] = send(before, [errorActor('room:#dev', new Error('boom'))]);

    expect(summary(actions)).toEqual([{ type: 'reportRoomFailure', params: { room: '#dev' } }]);
    expect(stoppedChildren(actions)).toEqual(['room:#dev']);
    const dev = after.context.rooms['#dev']!;
    expect(dev).not.toBe(before.context.rooms['#dev']);
    expect(dev.id).toBe('room:#dev');
    expect(after.children['room:#dev']).toBe(dev);
    expect(roomContext(after, '#dev')).toEqual({ name: '#dev', idleMs: 60_000, restarted: true, members: 0 });
    expect(after.context.rooms['#ops']).toBe(before.context.rooms['#ops']);
    expect(after.context.rooms[LOBBY]).toBe(before.context.rooms[LOBBY]);
    expect(after.value).toEqual(before.value);
  });

  it('restarts a crashed #lobby still without an idle time', () => {
    const before = at();

    const [after, actions] = send(before, [errorActor('room:#lobby', new Error('boom'))]);

    expect(summary(actions)).toEqual([{ type: 'reportRoomFailure', params: { room: LOBBY } }]);
    expect(after.context.rooms[LOBBY]).not.toBe(before.context.rooms[LOBBY]);
    expect(roomContext(after, LOBBY)).toEqual({ name: LOBBY, idleMs: 0, restarted: true, members: 0 });
  });

  it('restarts no room for the error of a room it stopped already', () => {
    const stopped = at([join('#dev'), { type: 'room.idle', room: '#dev' }]);

    const [after, actions] = send(stopped, [errorActor('room:#dev', new Error('late'))]);

    expect(summary(actions)).toEqual([]);
    expect(Object.keys(after.context.rooms)).toEqual([LOBBY]);
    expect(after.children['room:#dev']).toBeUndefined();
    // Ignored, not fatal: the supervisor and #lobby go on.
    expect(after.status).toBe('active');
    expect(after.children[`room:${LOBBY}`]).toBeDefined();
  });

  it('restarts no room for the error of an actor that is not a room', () => {
    const before = at([join('#dev')]);

    const [after, actions] = send(before, [errorActor('historyWriter', new Error('disk'))]);

    expect(summary(actions)).toEqual([]);
    expect(after.context.rooms).toEqual(before.context.rooms);
  });
});

describe('supervisor and room actors running: the idle stop end to end', () => {
  it('an empty room, once its idle timer fires, tells the supervisor, which stops and forgets it', () => {
    const timers = new Map<string, { ms: number; fire: () => void }>();
    const forgotten: string[] = [];
    const room = roomMachine.provide({
      actors: {
        idleTimer: fromCallback<{ type: 'room.idleTimeout' }, { ms: number }>(({ input, sendBack, self }) => {
          const name = (self._parent!.getSnapshot() as { context: { name: string } }).context.name;
          timers.set(name, { ms: input.ms, fire: () => sendBack({ type: 'room.idleTimeout' }) });
        }),
      },
    });
    const supervisor = createActor(
      supervisorMachine.provide({
        actors: { room },
        actions: { forgetRoom: (_, { room: name }) => forgotten.push(name) },
      }),
      { input: { ...INPUT, roomIdleMs: 1_234 } },
    );
    supervisor.start();
    supervisor.send(join('#dev'));

    expect(timers.get('#dev')?.ms).toBe(1_234);
    expect(timers.has(LOBBY)).toBe(false);
    timers.get('#dev')!.fire();

    expect(forgotten).toEqual(['#dev']);
    expect(Object.keys(supervisor.getSnapshot().context.rooms)).toEqual([LOBBY]);
    expect(supervisor.getSnapshot().status).toBe('active');
    supervisor.stop();
  });
});
