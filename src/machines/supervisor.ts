/**
 * The supervisor machine: the server's control plane. It takes the operator's console
 * commands, runs the shutdown, and owns the room registry: it spawns the history writer and one
 * room actor per room (src/machines/room.ts) on the room's first join, routes every join to its
 * room, stops a room that stayed empty for `roomIdleMs` (its history stays), and restarts a room
 * actor that crashed — one-for-one, as an Akka supervisor does: its members are told, the other
 * rooms and the server go on.
 *
 * Only joins pass through here. Chat messages go from a connection actor to its room and from
 * the room to the history writer: they are data, not decisions, and a supervisor step per message
 * cost a tenth of the CPU at full fan-out (bench/, scenario 1). The room registry is small (one
 * entry per room, copied only when a room starts or stops); who is online and who is in a room
 * are structures the actors update in place (an xstate context copied on each of 10,000 joins
 * would be quadratic).
 */
import { type AnyActorRef, assign, enqueueActions, fromCallback, fromPromise, sendTo, setup, stopChild } from 'xstate';
import type { ConsoleEvent } from './console-command.js';
import { LOBBY } from './protocol.js';
import { type HistoryWriterEvent, type RoomEvent, type RoomMember, type RoomReply, roomMachine, type RoomToSupervisor } from './room.js';

export type SupervisorEvent =
  | ConsoleEvent
  /** SIGINT / SIGTERM: same as the console's shutdown. */
  | { type: 'process.signal'; signal: string }
  /** From a connection actor: take this member into this room (made if new). */
  | { type: 'room.join'; room: string; member: RoomMember }
  | RoomToSupervisor
  | ClusterLinkEvent;

/**
 * A cluster node's link to Redis (src/actors/cluster-link-actor.ts, told by its notices): while
 * Redis is away the node holds new connections; once its lease has lapsed, its users are signed
 * out (another node may hold their logins by now).
 */
export type ClusterLinkEvent =
  | { type: 'cluster.unavailable'; cause: string }
  | { type: 'cluster.available' }
  | { type: 'cluster.lapsed'; why: 'fenced' | 'unreachable' };

export interface SupervisorInput {
  /** Echo mode has no users, history or identification file. */
  mode: 'chat' | 'echo';
  /** An empty room (not #lobby) stops after this long. */
  roomIdleMs: number;
  /** At most this many rooms run at once (#lobby included): a join that would make one more is refused. */
  maxRooms: number;
}

/** The default of `maxRooms`: far more than a server of this size uses, few enough to bound memory. */
export const MAX_ROOMS = 10_000;

export interface SupervisorContext extends SupervisorInput {
  /** The running room actors, by room key. */
  rooms: Readonly<Record<string, AnyActorRef>>;
}

/** A room actor's id and system id: `room:#dev`. */
export function roomActorId(room: string): string {
  return `room:${room}`;
}

const ROOM_ERROR_PREFIX = `xstate.error.actor.${roomActorId('')}`;
const ROOM_DONE_PREFIX = `xstate.done.actor.${roomActorId('')}`;

/** The room an `xstate.error.actor.room:…` / `xstate.done.actor.room:…` event is about. */
function roomOfChildEvent(type: string): string | undefined {
  if (type.startsWith(ROOM_ERROR_PREFIX)) return type.slice(ROOM_ERROR_PREFIX.length);
  if (type.startsWith(ROOM_DONE_PREFIX)) return type.slice(ROOM_DONE_PREFIX.length);
  return undefined;
}

const CHAT_ONLY_REPLY = {
  type: 'reply',
  params: { lines: ['That command belongs to the chat server; this is the echo server.'] },
} as const;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    room: roomMachine,
    /** Appends every history write, answering each room (src/actors/history-writer.ts). */
    historyWriter: fromCallback<HistoryWriterEvent>(() => {}),
    clearLogFile: fromPromise<void>(async () => {}),
    clearClientsFile: fromPromise<void>(async () => {}),
    /** Stops the listener, tells every client, flushes history, closes every connection. */
    shutDown: fromPromise<void>(async () => {}),
  },
  actions: {
    /** A line of console output, shown whatever the log display says. */
    reply: (_, _params: { lines: readonly string[] }) => {},
    showHelp: () => {},
    showStatus: () => {},
    showWho: () => {},
    kick: (_, _params: { login: string }) => {},
    /** A server message to a room's members (`room` undefined: #lobby, where everyone is). */
    say: (_, _params: { room: string | undefined; text: string }) => {},
    showRooms: () => {},
    /** A room crashed: logged (it is restarted by the transition). */
    reportRoomFailure: (_, _params: { room: string }) => {},
    /** A stopped room's data plane is dropped (its history stays on disk). */
    forgetRoom: (_, _params: { room: string }) => {},
    pauseListener: () => {},
    resumeListener: () => {},
    /** The cluster's store is away: new connections wait (whatever the operator said), until `releaseListener`. */
    holdListener: () => {},
    releaseListener: () => {},
    /** Every signed-in user is told why and disconnected (the node's lease lapsed). */
    signOutEveryone: (_, _params: { why: 'fenced' | 'unreachable' }) => {},
    /** A line for the server's log. */
    note: (_, _params: { line: string }) => {},
    setLogDisplay: (_, _params: { shown: boolean }) => {},
    clearScreen: () => {},
    reportFailure: (_, _params: { what: string }) => {},
  },
  guards: {
    isChatMode: ({ context }) => context.mode === 'chat',
    hasRoom: ({ context }, params: { room: string }) => context.rooms[params.room] !== undefined,
    /** Still idle when its `room.idle` is read: a join routed meanwhile keeps it. */
    isRoomIdle: ({ context }, params: { room: string }) => context.rooms[params.room]?.getSnapshot().hasTag('idle') === true,
    isLobby: (_, params: { room: string }) => params.room === LOBBY,
    isAtRoomLimit: ({ context }) => Object.keys(context.rooms).length >= context.maxRooms,
    isChatOnlyInEcho: ({ context }, params: { chatOnly: boolean }) => params.chatOnly && context.mode !== 'chat',
    /** A done or error event (by its type) from a room actor… */
    isRoomActor: (_, params: { type: string }) => roomOfChildEvent(params.type) !== undefined,
    /** …from one still registered (not one stopped already). */
    isRunningRoomActor: ({ context }, params: { type: string }) => {
      const room = roomOfChildEvent(params.type);
      return room !== undefined && context.rooms[room] !== undefined;
    },
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({ ...input, rooms: {} }),
  initial: 'running',
  states: {
    running: {
      type: 'parallel',
      entry: enqueueActions(({ check, enqueue }) => {
        if (!check('isChatMode')) return;
        enqueue.spawnChild('historyWriter', { id: 'historyWriter', systemId: 'historyWriter' });
        enqueue.assign({ rooms: ({ context, spawn }) => ({ ...context.rooms, [LOBBY]: spawnRoom(spawn, LOBBY, 0, false) }) });
      }),
      on: {
        'room.join': [
          {
            guard: { type: 'hasRoom', params: ({ event }) => ({ room: event.room }) },
            actions: sendTo(({ context, event }) => context.rooms[event.room]!, ({ event }): RoomEvent => ({ type: 'room.join', member: event.member })),
          },
          {
            // A room is an actor with its own memory: their number is bounded, not each user's whim.
            guard: 'isAtRoomLimit',
            actions: sendTo(
              ({ event }) => event.member.session,
              ({ context, event }): RoomReply => ({
                type: 'room.refused',
                room: event.room,
                reason: `The server has ${context.maxRooms} rooms already, the most it runs; join one of them (/rooms).`,
              }),
            ),
          },
          {
            actions: [
              assign({
                rooms: ({ context, event, spawn }) => ({ ...context.rooms, [event.room]: spawnRoom(spawn, event.room, context.roomIdleMs, false) }),
              }),
              sendTo(({ context, event }) => context.rooms[event.room]!, ({ event }): RoomEvent => ({ type: 'room.join', member: event.member })),
            ],
          },
        ],
        'room.idle': {
          guard: { type: 'isRoomIdle', params: ({ event }) => ({ room: event.room }) },
          actions: [
            stopChild(({ context, event }) => context.rooms[event.room]!),
            assign({ rooms: ({ context, event }) => withoutRoom(context.rooms, event.room) }),
            { type: 'forgetRoom', params: ({ event }) => ({ room: event.room }) },
          ],
        },
        'console.rooms': [
          { guard: 'isChatMode', actions: 'showRooms' },
          { actions: CHAT_ONLY_REPLY },
        ],
        'console.close': [
          {
            guard: { type: 'isLobby', params: ({ event }) => ({ room: event.room }) },
            actions: { type: 'reply', params: { lines: [`${LOBBY} cannot be closed: everyone online is in it.`] } },
          },
          {
            guard: { type: 'hasRoom', params: ({ event }) => ({ room: event.room }) },
            actions: [
              sendTo(({ context, event }) => context.rooms[event.room]!, { type: 'room.close' } satisfies RoomEvent),
              { type: 'reply', params: ({ event }) => ({ lines: [`Closed ${event.room}: its members are back in ${LOBBY}.`] }) },
            ],
          },
          { actions: { type: 'reply', params: ({ event }) => ({ lines: [`There is no room ${event.room}.`] }) } },
        ],
        // A room closed by the operator has ended (its final state).
        'xstate.done.actor.*': {
          guard: { type: 'isRoomActor', params: ({ event }: { event: { type: string } }) => ({ type: event.type }) },
          actions: enqueueActions(({ enqueue, event }) => {
            const room = roomOfChildEvent(event.type)!;
            enqueue.assign({ rooms: ({ context }: { context: SupervisorContext }) => withoutRoom(context.rooms, room) });
            enqueue({ type: 'forgetRoom', params: { room } });
          }),
        },
        // One-for-one: the crashed room alone is restarted, with the members it had.
        'xstate.error.actor.*': [
          {
            guard: { type: 'isRunningRoomActor', params: ({ event }: { event: { type: string } }) => ({ type: event.type }) },
            actions: enqueueActions(({ context, enqueue, event }) => {
              const room = roomOfChildEvent(event.type)!;
              enqueue({ type: 'reportRoomFailure', params: { room } });
              enqueue.stopChild(context.rooms[room]!);
              enqueue.assign({
                rooms: ({ context: now, spawn }: { context: SupervisorContext; spawn: unknown }) => ({ ...now.rooms, [room]: spawnRoom(spawn, room, room === LOBBY ? 0 : now.roomIdleMs, true) }),
              });
            }),
          },
          // The error of a room stopped already (queued before its stop): nothing to restart. Taken
          // as a transition, because an actor error no transition takes stops the supervisor
          // itself — and every room with it.
          { guard: { type: 'isRoomActor', params: ({ event }: { event: { type: string } }) => ({ type: event.type }) } },
        ],
        'console.shutdown': 'shuttingDown',
        'process.signal': 'shuttingDown',
        'console.stopListen': { actions: 'pauseListener' },
        'console.startListen': { actions: 'resumeListener' },
        'cluster.unavailable': {
          actions: [
            { type: 'note', params: ({ event }) => ({ line: `cluster: Redis is unavailable (${event.cause}): sign-ins and posts are refused until it answers` }) },
            'holdListener',
          ],
        },
        'cluster.available': { actions: 'releaseListener' },
        'cluster.lapsed': {
          actions: [
            { type: 'note', params: ({ event }) => ({ line: `cluster: this node's lease lapsed (${event.why === 'fenced' ? 'another node may hold its users now' : 'Redis was away for the lease\'s time'}): every user is signed out` }) },
            { type: 'signOutEveryone', params: ({ event }) => ({ why: event.why }) },
          ],
        },
        'console.help': { actions: 'showHelp' },
        'console.status': { actions: 'showStatus' },
        'console.who': [
          { guard: 'isChatMode', actions: 'showWho' },
          { actions: CHAT_ONLY_REPLY },
        ],
        'console.kick': [
          { guard: 'isChatMode', actions: { type: 'kick', params: ({ event }) => ({ login: event.login }) } },
          { actions: CHAT_ONLY_REPLY },
        ],
        'console.say': [
          { guard: 'isChatMode', actions: { type: 'say', params: ({ event }) => ({ room: event.room, text: event.text }) } },
          { actions: CHAT_ONLY_REPLY },
        ],
        'console.usage': [
          { guard: { type: 'isChatOnlyInEcho', params: ({ event }) => ({ chatOnly: event.chatOnly }) }, actions: CHAT_ONLY_REPLY },
          { actions: { type: 'reply', params: ({ event }) => ({ lines: [event.usage] }) } },
        ],
        'console.unknown': {
          actions: {
            type: 'reply',
            params: ({ event }) => ({ lines: [`Unknown command "${event.input}". Type "help" for the list.`] }),
          },
        },
      },
      states: {
        logDisplay: {
          initial: 'shown',
          states: {
            shown: {
              on: {
                'console.stopLog': {
                  target: 'hidden',
                  actions: [
                    { type: 'setLogDisplay', params: { shown: false } },
                    { type: 'reply', params: { lines: ['Log display stopped (the log file is still written). "start log" resumes it.'] } },
                  ],
                },
                'console.startLog': { actions: { type: 'reply', params: { lines: ['The log is already shown.'] } } },
              },
            },
            hidden: {
              on: {
                'console.startLog': {
                  target: 'shown',
                  actions: [
                    { type: 'setLogDisplay', params: { shown: true } },
                    { type: 'reply', params: { lines: ['Log display resumed.'] } },
                  ],
                },
                'console.stopLog': { actions: { type: 'reply', params: { lines: ['The log display is already stopped.'] } } },
              },
            },
          },
        },
        maintenance: {
          initial: 'idle',
          states: {
            idle: {
              on: {
                'console.clearLog': 'clearingLog',
                'console.clearFile': [
                  { guard: 'isChatMode', target: 'clearingFile' },
                  { actions: CHAT_ONLY_REPLY },
                ],
              },
            },
            clearingLog: {
              invoke: {
                id: 'clearLogFile',
                src: 'clearLogFile',
                onDone: {
                  target: 'idle',
                  actions: ['clearScreen', { type: 'reply', params: { lines: ['Log cleared.'] } }],
                },
                onError: {
                  target: 'idle',
                  actions: { type: 'reportFailure', params: { what: 'clear log' } },
                },
              },
            },
            clearingFile: {
              invoke: {
                id: 'clearClientsFile',
                src: 'clearClientsFile',
                onDone: {
                  target: 'idle',
                  actions: {
                    type: 'reply',
                    params: {
                      lines: ['clients.csv emptied: every registration is gone; users online stay online.'],
                    },
                  },
                },
                onError: {
                  target: 'idle',
                  actions: { type: 'reportFailure', params: { what: 'clear file' } },
                },
              },
            },
          },
          on: {
            // Only reached while a clear is running (idle handles these itself).
            'console.clearLog': { actions: { type: 'reply', params: { lines: ['Busy clearing; try again in a moment.'] } } },
            'console.clearFile': { actions: { type: 'reply', params: { lines: ['Busy clearing; try again in a moment.'] } } },
          },
        },
      },
    },
    shuttingDown: {
      entry: { type: 'reply', params: { lines: ['Shutting down…'] } },
      invoke: {
        id: 'shutDown',
        src: 'shutDown',
        onDone: 'stopped',
        onError: {
          target: 'stopped',
          actions: { type: 'reportFailure', params: { what: 'shutdown' } },
        },
      },
    },
    stopped: {
      type: 'final',
    },
  },
});

type Spawner = (src: 'room', options: { id: string; systemId: string; input: { name: string; idleMs: number; restarted: boolean } }) => AnyActorRef;

function spawnRoom(spawn: unknown, name: string, idleMs: number, restarted: boolean): AnyActorRef {
  const id = roomActorId(name);
  return (spawn as Spawner)('room', { id, systemId: id, input: { name, idleMs, restarted } });
}

function withoutRoom(rooms: Readonly<Record<string, AnyActorRef>>, room: string): Record<string, AnyActorRef> {
  const { [room]: _gone, ...rest } = rooms;
  return rest;
}
