/**
 * The room machine as pure transitions: join, leave, post, topic, refusals, the idle stop and
 * the restart. Membership lives in the actor's data plane (room-actor.ts), so the machine is
 * given it through its guards here (`isMember`, `isEmpty`), as the actor provides them.
 */
import { describe, expect, it } from 'vitest';
import { LOBBY, type ChatMessage } from '../../src/machines/protocol.js';
import { type RoomMember, roomMachine, TOPIC_MAX_CHARS } from '../../src/machines/room.js';
import { type AnyEventOf, drive, spawned, steps, stoppedChildren, summary } from './helpers.js';

/** The machine with a membership the test controls. */
function roomWith(members: Set<string>) {
  return roomMachine.provide({
    guards: {
      isMember: (_, { connectionId }) => members.has(connectionId),
      isEmpty: () => members.size === 0,
    },
  });
}

type Event = AnyEventOf<typeof roomMachine>;
const member = (connectionId: string): RoomMember => ({
  connectionId,
  login: connectionId,
  session: {} as RoomMember['session'],
  link: { deliver: () => {} },
  replay: 20,
});
const message: ChatMessage = { at: '2026-12-06T12:00:00.000Z', room: '#dev', login: 'alice', text: 'hi' };

function run(members: Set<string>, events: Event[], input = { name: '#dev', idleMs: 60_000, restarted: false }) {
  return drive(roomWith(members), input, events);
}

describe('room machine', () => {
  it('starts registered; empty, it waits out its idle time', () => {
    const [snapshot, actions] = run(new Set(), []);

    expect(snapshot.value).toEqual({ open: { empty: 'timing' } });
    expect(snapshot.hasTag('idle')).toBe(true);
    expect(summary(actions)).toEqual([{ type: 'register' }]);
    expect(spawned(actions).map((s) => s.id)).toEqual(['idleTimer']);
  });

  it('#lobby (idle time 0) is never stopped for being empty', () => {
    const [snapshot, actions] = run(new Set(), [], { name: LOBBY, idleMs: 0, restarted: false });

    expect(snapshot.value).toEqual({ open: { empty: 'waiting' } });
    expect(snapshot.hasTag('idle')).toBe(false);
    expect(spawned(actions)).toEqual([]);
  });

  it('admits and welcomes a joiner, and is occupied (the idle timer stopped)', () => {
    const members = new Set<string>();
    const alice = member('c1');
    const machine = roomWith(members);
    const [initial] = drive(machine, { name: '#dev', idleMs: 60_000, restarted: false }, []);
    members.add('c1'); // what `admit` does in the actor, before the room decides its occupancy
    const [snapshot, actions] = steps(machine, initial, [{ type: 'room.join', member: alice }]);

    expect(initial.hasTag('idle')).toBe(true);
    expect(snapshot.value).toEqual({ open: 'occupied' });
    expect(summary(actions).filter((a) => a.type !== 'register')).toEqual([
      { type: 'admit', params: { member: alice } },
    ]);
    expect(stoppedChildren(actions)).toContain('idleTimer');
  });

  it('stores a member\'s posts, in order, and delivers only what the writer says is on disk', () => {
    const members = new Set(['c1']);
    const [, actions] = run(members, [
      { type: 'room.post', connectionId: 'c1', texts: ['one', 'two'] },
      { type: 'history.appended', messages: [message] },
      { type: 'history.appendFailed', messages: [message] },
    ]);

    expect(summary(actions).filter((a) => a.type !== 'register')).toEqual([
      { type: 'store', params: { connectionId: 'c1', texts: ['one', 'two'] } },
      { type: 'deliverStored', params: { messages: [message] } },
      { type: 'refuseUnstored', params: { messages: [message] } },
    ]);
  });

  it('refuses a post from a connection that is not a member, with a reply', () => {
    const [, actions] = run(new Set(['c1']), [{ type: 'room.post', connectionId: 'c9', texts: ['sneaky'] }]);

    expect(summary(actions).filter((a) => a.type !== 'register')).toEqual([
      { type: 'reply', params: { connectionId: 'c9', reply: { type: 'room.refused', room: '#dev', reason: 'You are not in #dev.' } } },
    ]);
  });

  it('removes a member who leaves; the last one out starts the idle timer', () => {
    const members = new Set(['c1']);
    const machine = roomWith(members);
    const [occupied] = drive(machine, { name: '#dev', idleMs: 60_000, restarted: false }, []);
    expect(occupied.value).toEqual({ open: 'occupied' });
    members.delete('c1'); // `dismiss`, in the actor — the guard of the leave ran before it
    members.add('c1');
    const dismissing = roomMachine.provide({
      guards: { isMember: () => true, isEmpty: () => true },
    });
    const [after, actions] = drive(dismissing, { name: '#dev', idleMs: 60_000, restarted: false }, [{ type: 'room.leave', connectionId: 'c1' }]);

    expect(summary(actions).filter((a) => a.type !== 'register')).toEqual([{ type: 'dismiss', params: { connectionId: 'c1' } }]);
    expect(after.hasTag('idle')).toBe(true);
  });

  it('ignores a leave from a connection that is not a member', () => {
    const [, actions] = run(new Set(['c1']), [{ type: 'room.leave', connectionId: 'c9' }]);

    expect(summary(actions).filter((a) => a.type !== 'register')).toEqual([]);
  });

  it('saves a member\'s topic, then announces it; refuses one too long or from a non-member', () => {
    const long = 'x'.repeat(TOPIC_MAX_CHARS + 1);
    const [, actions] = run(new Set(['c1']), [
      { type: 'room.setTopic', connectionId: 'c1', text: 'releases' },
      { type: 'room.topicSaved', topic: { text: 'releases', by: 'alice', at: message.at } },
      { type: 'room.setTopic', connectionId: 'c1', text: long },
      { type: 'room.setTopic', connectionId: 'c9', text: 'mine now' },
      { type: 'room.topicFailed', connectionId: 'c1' },
    ]);

    expect(summary(actions).filter((a) => a.type !== 'register')).toEqual([
      { type: 'saveTopic', params: { connectionId: 'c1', text: 'releases' } },
      // The topic rides with its announcement: a cluster's other nodes learn it from the room's stream.
      { type: 'announce', params: { line: '* alice set the topic of #dev: releases', topic: { text: 'releases', by: 'alice', at: message.at } } },
      {
        type: 'reply',
        params: { connectionId: 'c1', reply: { type: 'room.topicRefused', room: '#dev', reason: `A topic is at most ${TOPIC_MAX_CHARS} characters.` } },
      },
      { type: 'reply', params: { connectionId: 'c9', reply: { type: 'room.topicRefused', room: '#dev', reason: 'You are not in #dev.' } } },
      {
        type: 'reply',
        params: { connectionId: 'c1', reply: { type: 'room.topicRefused', room: '#dev', reason: 'The topic could not be saved; try again later.' } },
      },
    ]);
  });

  it('announces the console\'s say as a notice of the room', () => {
    const [, actions] = run(new Set(['c1']), [{ type: 'room.announce', text: 'maintenance at noon' }]);

    expect(summary(actions).filter((a) => a.type !== 'register')).toEqual([{ type: 'announce', params: { line: '#dev * [server] maintenance at noon' } }]);
  });

  it('tells the supervisor when it has been idle long enough — only while still idle', () => {
    const [idle, idleActions] = run(new Set(), [{ type: 'room.idleTimeout' }]);
    const [busy, busyActions] = run(new Set(['c1']), [{ type: 'room.idleTimeout' }]);

    expect(summary(idleActions)).toContainEqual({ type: 'tellIdle' });
    expect(idle.status).toBe('active');
    expect(summary(busyActions)).not.toContainEqual({ type: 'tellIdle' });
    expect(busy.value).toEqual({ open: 'occupied' });
  });

  it('closes for good on the console\'s close, dismissing every member', () => {
    const [after, actions] = run(new Set(['c1']), [{ type: 'room.close' }]);

    expect(after.status).toBe('done');
    expect(summary(actions).filter((a) => a.type !== 'register')).toEqual([{ type: 'dismissAll' }]);
  });

  it('restarted after a crash, tells its members on entry', () => {
    const [, actions] = run(new Set(['c1']), [], { name: '#dev', idleMs: 60_000, restarted: true });

    expect(summary(actions)).toEqual([{ type: 'register' }, { type: 'tellRestarted' }]);
  });
});
