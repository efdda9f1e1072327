/**
 * The listener machine: whether new connections are served (`accepting`), held (`paused`) or
 * no longer taken (`stopped`). It never touches a socket itself: the listener actor
 * (src/actors/listener-actor.ts) owns the net.Server and the queue of held sockets, and this
 * machine decides, per `connection.accepted`, whether to hand the socket over, hold it, or turn
 * it away as busy. Pausing or resuming twice is a no-op that says so (as Ranch's suspend/resume).
 */
import { assign, fromPromise, setup } from 'xstate';

export interface ListenerInput {
  host: string;
  port: number;
  /** How many connections may wait while paused before new ones are told "server busy". */
  maxWaiting: number;
}

export interface ListenerContext extends ListenerInput {
  /** Connections held while paused, in arrival order (the actor holds the sockets). */
  waiting: number;
  /** The port actually bound (differs from `port` when that is 0). */
  boundPort: number | undefined;
  /** Why it is paused: the operator's `stop listen`, a cluster's store that does not answer, or both. */
  pausedByOperator: boolean;
  heldForStore: boolean;
}

export type ListenerEvent =
  | { type: 'listener.pause' }
  | { type: 'listener.resume' }
  | { type: 'listener.stop' }
  /** A cluster node's Redis does not answer: connections wait until `listener.unhold` (and the operator's resume, if paused). */
  | { type: 'listener.hold' }
  | { type: 'listener.unhold' }
  | { type: 'connection.accepted'; connectionId: string }
  /** A held connection was closed by its client before it was served. */
  | { type: 'connection.abandoned'; connectionId: string }
  /** accept(2) failed, e.g. EMFILE: logged, and the actor backs off. */
  | { type: 'listener.acceptFailed'; code: string };

export type ListenerNotice =
  | 'listening'
  | 'paused'
  | 'resumed'
  | 'alreadyPaused'
  | 'alreadyAccepting'
  | 'heldForStore'
  | 'resumesWhenStoreAnswers'
  | 'stillPausedByOperator'
  | 'stopped'
  | 'acceptFailed';

export const listenerMachine = setup({
  types: {
    context: {} as ListenerContext,
    events: {} as ListenerEvent,
    input: {} as ListenerInput,
  },
  actors: {
    /** Binds the server socket; resolves with the bound port, rejects when it cannot (EADDRINUSE…). */
    bind: fromPromise<{ port: number }, { host: string; port: number }>(async ({ input }) => ({
      port: input.port,
    })),
  },
  actions: {
    /** Starts a connection actor for an accepted socket. */
    handOver: (_, _params: { connectionId: string }) => {},
    /** Keeps an accepted socket open and silent until listening resumes. */
    hold: (_, _params: { connectionId: string }) => {},
    /** Hands every held socket over, in arrival order. */
    releaseWaiting: () => {},
    /** Tells a connection "server busy" and closes it. */
    turnAway: (_, _params: { connectionId: string }) => {},
    /** Stops accepting and closes every held socket. */
    closeServer: () => {},
    notify: (_, _params: { notice: ListenerNotice; detail?: string }) => {},
  },
  guards: {
    hasRoomToWait: ({ context }) => context.waiting < context.maxWaiting,
    isPausedByOperator: ({ context }) => context.pausedByOperator,
    isHeldForStore: ({ context }) => context.heldForStore,
  },
}).createMachine({
  id: 'listener',
  context: ({ input }) => ({ ...input, waiting: 0, boundPort: undefined, pausedByOperator: false, heldForStore: false }),
  initial: 'binding',
  on: {
    'listener.acceptFailed': {
      actions: { type: 'notify', params: ({ event }) => ({ notice: 'acceptFailed', detail: event.code }) },
    },
  },
  states: {
    binding: {
      invoke: {
        id: 'bind',
        src: 'bind',
        input: ({ context }) => ({ host: context.host, port: context.port }),
        onDone: {
          target: 'accepting',
          actions: [
            assign({ boundPort: ({ event }) => event.output.port }),
            { type: 'notify', params: ({ event }) => ({ notice: 'listening', detail: String(event.output.port) }) },
          ],
        },
        onError: 'failed',
      },
      on: { 'listener.stop': 'stopped' },
    },
    accepting: {
      on: {
        'connection.accepted': {
          actions: { type: 'handOver', params: ({ event }) => ({ connectionId: event.connectionId }) },
        },
        'listener.pause': {
          target: 'paused',
          actions: [assign({ pausedByOperator: true }), { type: 'notify', params: { notice: 'paused' } }],
        },
        'listener.hold': {
          target: 'paused',
          actions: [assign({ heldForStore: true }), { type: 'notify', params: { notice: 'heldForStore' } }],
        },
        'listener.resume': {
          actions: { type: 'notify', params: { notice: 'alreadyAccepting' } },
        },
        'listener.stop': 'stopped',
      },
    },
    paused: {
      on: {
        'connection.accepted': [
          {
            guard: 'hasRoomToWait',
            actions: [
              assign({ waiting: ({ context }) => context.waiting + 1 }),
              { type: 'hold', params: ({ event }) => ({ connectionId: event.connectionId }) },
            ],
          },
          { actions: { type: 'turnAway', params: ({ event }) => ({ connectionId: event.connectionId }) } },
        ],
        'connection.abandoned': {
          actions: assign({ waiting: ({ context }) => Math.max(0, context.waiting - 1) }),
        },
        'listener.resume': [
          {
            guard: 'isHeldForStore',
            actions: [assign({ pausedByOperator: false }), { type: 'notify', params: { notice: 'resumesWhenStoreAnswers' } }],
          },
          {
            target: 'accepting',
            actions: ['releaseWaiting', assign({ waiting: 0, pausedByOperator: false, heldForStore: false }), { type: 'notify', params: { notice: 'resumed' } }],
          },
        ],
        'listener.unhold': [
          {
            guard: 'isPausedByOperator',
            actions: [assign({ heldForStore: false }), { type: 'notify', params: { notice: 'stillPausedByOperator' } }],
          },
          {
            target: 'accepting',
            actions: ['releaseWaiting', assign({ waiting: 0, pausedByOperator: false, heldForStore: false }), { type: 'notify', params: { notice: 'resumed' } }],
          },
        ],
        'listener.hold': { actions: assign({ heldForStore: true }) },
        'listener.pause': [
          { guard: 'isPausedByOperator', actions: { type: 'notify', params: { notice: 'alreadyPaused' } } },
          { actions: [assign({ pausedByOperator: true }), { type: 'notify', params: { notice: 'paused' } }] },
        ],
        'listener.stop': 'stopped',
      },
    },
    stopped: {
      type: 'final',
      entry: ['closeServer', assign({ waiting: 0 }), { type: 'notify', params: { notice: 'stopped' } }],
    },
    /** Binding failed (port in use, permission): the server cannot run. */
    failed: {
      type: 'final',
    },
  },
});
