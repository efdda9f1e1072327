/**
 * A cluster node's link to Redis (docs/cluster.md): whether the node may serve (`available`),
 * must hold new sign-ins and posts while Redis does not answer (`unavailable`), or has lost its
 * lease (`lapsed`: another node may hold its users by now, so it kicks them and takes a new
 * epoch). The lease is what decides: the machine renews it every `renewEveryMs`, and a renewal
 * that fails (an error, no answer in time) makes the node unavailable; one that answers "no lease"
 * means the node was cut off for longer than the lease and is fenced by the others.
 *
 * Redis that stays away for longer than the lease could lapse it unseen, so the unavailable node
 * gives its users up on its own once `leaseMs - renewEveryMs` has passed there (the last renewal
 * was at least `renewEveryMs` before): no user stays signed in on a node another node may have
 * handed their login to. The I/O (renew, rejoin) is provided by src/actors/cluster-link-actor.ts.
 */
import { fromPromise, setup } from 'xstate';

export interface ClusterLinkInput {
  /** How often the lease is renewed (presence-redis.ts: 1 s). */
  renewEveryMs: number;
  /** How long a lease lives unless renewed (3 s). */
  leaseMs: number;
  /** How long to wait between tries while Redis is away. */
  retryMs: number;
}

export type ClusterLinkEvent = { type: 'link.stop' };

/** What the node is told, in the order it happens (its actor pauses the listener, kicks users…). */
export type ClusterLinkNotice =
  | { kind: 'unavailable'; cause: unknown }
  | { kind: 'available' }
  /** The lease is gone: every user of this node is to be signed out (`why` says which way). */
  | { kind: 'lapsed'; why: 'fenced' | 'unreachable' }
  | { kind: 'rejoined' };

export const clusterLinkMachine = setup({
  types: {
    input: {} as ClusterLinkInput,
    context: {} as ClusterLinkInput,
    events: {} as ClusterLinkEvent,
  },
  actors: {
    /** true: the lease was extended; false: it had lapsed (this epoch is fenced). */
    renew: fromPromise<boolean>(async () => {
      throw new Error('renew not provided');
    }),
    /** A new epoch and lease for this node. */
    rejoin: fromPromise<void>(async () => {
      throw new Error('rejoin not provided');
    }),
  },
  guards: {
    /** The renewal's answer: the lease was still this node's. */
    leaseRenewed: (_, params: { renewed: boolean }) => params.renewed,
  },
  actions: {
    tell: (_, _notice: ClusterLinkNotice) => {},
  },
  delays: {
    renewEvery: ({ context }) => context.renewEveryMs,
    retry: ({ context }) => context.retryMs,
    // The lease was last renewed at least renewEveryMs before the node went unavailable.
    leaseLeft: ({ context }) => Math.max(0, context.leaseMs - context.renewEveryMs),
  },
}).createMachine({
  id: 'clusterLink',
  context: ({ input }) => ({ ...input }),
  initial: 'available',
  on: { 'link.stop': '.stopped' },
  states: {
    available: {
      initial: 'waiting',
      states: {
        waiting: { after: { renewEvery: 'renewing' } },
        renewing: {
          invoke: {
            src: 'renew',
            onDone: [
              { guard: { type: 'leaseRenewed', params: ({ event }) => ({ renewed: event.output }) }, target: 'waiting' },
              { target: '#clusterLink.lapsed', actions: { type: 'tell', params: { kind: 'lapsed', why: 'fenced' } } },
            ],
            onError: {
              target: '#clusterLink.unavailable',
              actions: { type: 'tell', params: ({ event }) => ({ kind: 'unavailable', cause: event.error }) },
            },
          },
        },
      },
    },
    unavailable: {
      initial: 'waiting',
      after: {
        leaseLeft: { target: 'lapsed', actions: { type: 'tell', params: { kind: 'lapsed', why: 'unreachable' } } },
      },
      states: {
        waiting: { after: { retry: 'renewing' } },
        renewing: {
          invoke: {
            src: 'renew',
            onDone: [
              { guard: { type: 'leaseRenewed', params: ({ event }) => ({ renewed: event.output }) }, target: '#clusterLink.available', actions: { type: 'tell', params: { kind: 'available' } } },
              { target: '#clusterLink.lapsed', actions: { type: 'tell', params: { kind: 'lapsed', why: 'fenced' } } },
            ],
            onError: 'waiting',
          },
        },
      },
    },
    /** The users are gone; a new epoch is taken as soon as Redis answers. */
    lapsed: {
      initial: 'rejoining',
      states: {
        rejoining: {
          invoke: {
            src: 'rejoin',
            onDone: { target: '#clusterLink.available', actions: { type: 'tell', params: { kind: 'rejoined' } } },
            onError: 'waiting',
          },
        },
        waiting: { after: { retry: 'rejoining' } },
      },
    },
    stopped: { type: 'final' },
  },
});
