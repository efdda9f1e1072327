/**
 * The room machine: one actor per chat room, spawned by the supervisor on the room's first join.
 * Its protocol is closed and lives here: `RoomEvent` in, `RoomReply` back to a member's
 * connection actor (refusal is a reply, as in Akka's typed ChatRoom — never an exception).
 *
 * The machine decides — who may post, what a join is answered with, when the topic changes,
 * when an empty room goes idle. What grows with the room (its members, the messages on their way
 * to disk, the recently delivered ones) is one structure its actor mutates in place
 * (src/actors/room-actor.ts): copying members into context on each of 10,000 joins would be
 * quadratic, and fan-out is the data plane — one encoded buffer per line to every member, never an
 * event per delivery. That structure outlives a crash of the actor, so a restarted room keeps its
 * members (one-for-one supervision: src/machines/supervisor.ts).
 */
import { type ActorRefFrom, type AnyActorRef, assign, enqueueActions, fromCallback, setup } from 'xstate';
import { type ChatMessage, roomNotice, type Topic } from './protocol.js';

/** A member as the room knows it: who, and where to reply and deliver. */
export interface RoomMember {
  readonly connectionId: string;
  readonly login: string;
  /** The member's connection actor: replies (`RoomReply`) go there. */
  readonly session: AnyActorRef;
  /** The member's output: the room's lines, encoded once per room, are written here. */
  readonly link: { deliver(bytes: Buffer): void };
  /** How many of the room's last messages its welcome replays (--history). */
  readonly replay: number;
  /** The member's away message, if marked away: /names shows it. */
  readonly away?: string | undefined;
}

/** What a room accepts. Commands are imperative, facts (from the history writer) past tense. */
export type RoomEvent =
  | { type: 'room.join'; member: RoomMember }
  | { type: 'room.leave'; connectionId: string }
  /** Chat lines from a member, in the order typed (several when they arrived in one read). */
  | { type: 'room.post'; connectionId: string; texts: readonly string[] }
  | { type: 'room.setTopic'; connectionId: string; text: string }
  /** From the room's actor once a new topic is on disk. */
  | { type: 'room.topicSaved'; topic: Topic }
  | { type: 'room.topicFailed'; connectionId: string }
  /** `/history [n]`: answered with `room.recalled` once the member's own messages are delivered. */
  | { type: 'room.recall'; connectionId: string; limit: number }
  /** The console's `say #room …` (and `say …`, to #lobby, where everyone is). */
  | { type: 'room.announce'; text: string }
  /** The console's `close #room`: members are told and leave. */
  | { type: 'room.close' }
  /** From the history writer: these messages of this room are on disk, in this order. */
  | { type: 'history.appended'; messages: readonly ChatMessage[] }
  | { type: 'history.appendFailed'; messages: readonly ChatMessage[] }
  /** From the invoked idle timer. */
  | { type: 'room.idleTimeout' };

/** What a room sends back to a member's connection actor. */
export type RoomReply =
  | { type: 'room.joined'; room: string; recent: readonly ChatMessage[]; topic: Topic | undefined; members: number }
  | { type: 'room.refused'; room: string; reason: string }
  | { type: 'room.postFailed'; room: string; count: number }
  | { type: 'room.recalled'; room: string; messages: readonly ChatMessage[] }
  | { type: 'room.topicRefused'; room: string; reason: string }
  /** The room stopped being one this member is in: closed by the operator. */
  | { type: 'room.closed'; room: string }
  /** The room's actor crashed and was restarted; the member is still in it. */
  | { type: 'room.restarted'; room: string }
  /** A /part has taken effect: the member got every line the room had for it before its "left" notice, and gets none after. */
  | { type: 'room.left'; room: string };

/**
 * What the history writer (src/actors/history-writer.ts) is asked: to append a room's messages
 * (it answers the room `history.appended` or `history.appendFailed`), or to hand a line to a
 * user once everything asked before is answered (/msg, which must not overtake chat messages).
 */
export type HistoryWriterEvent =
  | { type: 'history.append'; messages: readonly ChatMessage[] }
  | { type: 'history.afterWrites'; to: string; line: string };

/** What the room tells its supervisor. */
export type RoomToSupervisor = { type: 'room.idle'; room: string };

export interface RoomInput {
  name: string;
  /** An empty room stops after this long (its history stays); 0: never (#lobby). */
  idleMs: number;
  /** Set when the supervisor restarts a room whose actor crashed: members are told on entry. */
  restarted: boolean;
}

export interface RoomContext {
  readonly name: string;
  readonly idleMs: number;
  readonly restarted: boolean;
  /** How many members the room has, as its actor counts them: shown by the inspector. */
  readonly members: number;
}

export const TOPIC_MAX_CHARS = 300;

const notAMember = (room: string) => `You are not in ${room}.`;
const topicTooLong = () => `A topic is at most ${TOPIC_MAX_CHARS} characters.`;

/** The reply to the member who asked: a refusal of this kind, with its reason. */
function refuse(kind: 'room.refused' | 'room.topicRefused', reason: (room: string) => string) {
  return {
    type: 'reply',
    params: ({ context, event }: { context: RoomContext; event: { connectionId: string } }) => ({
      connectionId: event.connectionId,
      reply: { type: kind, room: context.name, reason: reason(context.name) },
    }),
  } as const;
}

export const roomMachine = setup({
  types: {
    context: {} as RoomContext,
    events: {} as RoomEvent,
    input: {} as RoomInput,
  },
  actors: {
    /** Sends `room.idleTimeout` after `ms` (the real timer comes from the actor layer). */
    idleTimer: fromCallback<{ type: 'room.idleTimeout' }, { ms: number }>(() => {}),
  },
  actions: {
    /**
     * Adds the member (in place). It is answered `room.joined` (the room's last messages, its
     * topic, its size) and the others hear of the join once what is already on its way is delivered.
     */
    admit: (_, _params: { member: RoomMember }) => {},
    /** Removes the member (in place) and announces the leave to the others. */
    dismiss: (_, _params: { connectionId: string }) => {},
    /** Hands the messages to the history writer; they are delivered once it says they are on disk. */
    store: (_, _params: { connectionId: string; texts: readonly string[] }) => {},
    /** The writer's answer: deliver what is on disk, in order, and what waited behind it. */
    deliverStored: (_, _params: { messages: readonly ChatMessage[] }) => {},
    /** Tells each sender how many of its messages could not be stored (so were not delivered). */
    refuseUnstored: (_, _params: { messages: readonly ChatMessage[] }) => {},
    /** Replies to the member with the given connection id (a refusal, the names, a recall). */
    reply: (_, _params: { connectionId: string; reply: RoomReply }) => {},
    recall: (_, _params: { connectionId: string; limit: number }) => {},
    /** Writes a new topic to disk; the actor answers `room.topicSaved` or `room.topicFailed`. */
    saveTopic: (_, _params: { connectionId: string; text: string }) => {},
    /** A notice to every member, behind what is already on its way (with the room's new topic, when it is about one). */
    announce: (_, _params: { line: string; topic?: Topic }) => {},
    /** Tells every member the room closed, and forgets them. */
    dismissAll: () => {},
    /** Copies the member count into context after each change (the actor provides the count). */
    countMembers: assign({ members: () => 0 }),
    /** Tells the supervisor (the parent) that the room has been empty for its idle time. */
    tellIdle: ({ context, self }) => self._parent?.send({ type: 'room.idle', room: context.name } satisfies RoomToSupervisor),
    /** Makes this actor the one its room's members and the history writer talk to. */
    register: () => {},
    /** Only for a room restarted after a crash (see `isRestarted` in its entry): members are told, work resumes. */
    tellRestarted: () => {},
  },
  guards: {
    isMember: (_, _params: { connectionId: string }) => false,
    isEmpty: () => true,
    isTopicTooLong: (_, params: { text: string }) => [...params.text].length > TOPIC_MAX_CHARS,
    isRestarted: ({ context }) => context.restarted,
    /** #lobby is never stopped for being empty (idleMs 0). */
    stopsWhenIdle: ({ context }) => context.idleMs > 0,
  },
}).createMachine({
  id: 'room',
  context: ({ input }) => ({ ...input, members: 0 }),
  initial: 'open',
  states: {
    open: {
      entry: [
        enqueueActions(({ check, enqueue }) => {
          enqueue('register');
          if (check('isRestarted')) enqueue('tellRestarted');
        }),
        // Not enqueued above: an assign enqueued by name runs as a plain function, not as an assign.
        'countMembers',
      ],
      initial: 'occupancy',
      on: {
        'room.join': {
          target: '.occupancy',
          actions: [
            { type: 'admit', params: ({ event }) => ({ member: event.member }) },
            'countMembers',
          ],
        },
        'room.leave': {
          guard: { type: 'isMember', params: ({ event }) => ({ connectionId: event.connectionId }) },
          target: '.occupancy',
          actions: [{ type: 'dismiss', params: ({ event }) => ({ connectionId: event.connectionId }) }, 'countMembers'],
        },
        'room.post': [
          {
            guard: { type: 'isMember', params: ({ event }) => ({ connectionId: event.connectionId }) },
            actions: { type: 'store', params: ({ event }) => ({ connectionId: event.connectionId, texts: event.texts }) },
          },
          {
            actions: refuse('room.refused', notAMember),
          },
        ],
        'history.appended': {
          actions: { type: 'deliverStored', params: ({ event }) => ({ messages: event.messages }) },
        },
        'history.appendFailed': {
          actions: { type: 'refuseUnstored', params: ({ event }) => ({ messages: event.messages }) },
        },
        'room.setTopic': [
          {
            guard: { type: 'isTopicTooLong', params: ({ event }) => ({ text: event.text }) },
            actions: refuse('room.topicRefused', topicTooLong),
          },
          {
            guard: { type: 'isMember', params: ({ event }) => ({ connectionId: event.connectionId }) },
            actions: { type: 'saveTopic', params: ({ event }) => ({ connectionId: event.connectionId, text: event.text }) },
          },
          {
            actions: refuse('room.topicRefused', notAMember),
          },
        ],
        'room.topicSaved': {
          actions: [
            {
              type: 'announce',
              params: ({ context, event }) => ({
                line: event.topic.text === ''
                  ? `* ${event.topic.by} cleared the topic of ${context.name}`
                  : `* ${event.topic.by} set the topic of ${context.name}: ${event.topic.text}`,
                topic: event.topic,
              }),
            },
          ],
        },
        'room.topicFailed': {
          actions: refuse('room.topicRefused', () => 'The topic could not be saved; try again later.'),
        },
        'room.recall': {
          actions: { type: 'recall', params: ({ event }) => ({ connectionId: event.connectionId, limit: event.limit }) },
        },
        'room.announce': {
          actions: { type: 'announce', params: ({ context, event }) => ({ line: roomNotice(context.name, `[server] ${event.text}`) }) },
        },
        'room.close': { target: 'closed', actions: ['dismissAll', 'countMembers'] },
      },
      states: {
        /** Decides at once, on entry and after each join or leave, whether the room is empty. */
        occupancy: {
          always: [{ guard: 'isEmpty', target: 'empty' }, { target: 'occupied' }],
        },
        occupied: {},
        empty: {
          initial: 'waiting',
          states: {
            waiting: {
              always: { guard: 'stopsWhenIdle', target: 'timing' },
            },
            /** Tagged for the supervisor, which stops only a room still idle when it hears so. */
            timing: {
              tags: ['idle'],
              invoke: { id: 'idleTimer', src: 'idleTimer', input: ({ context }) => ({ ms: context.idleMs }) },
              on: {
                // The supervisor stops the room — if no join reached it meanwhile: joins come through the supervisor.
                'room.idleTimeout': { actions: 'tellIdle' },
              },
            },
          },
        },
      },
    },
    closed: { type: 'final' },
  },
});

export type RoomActorRef = ActorRefFrom<typeof roomMachine>;
