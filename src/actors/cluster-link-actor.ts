/**
 * Runs a node's link machine (src/machines/cluster-link.ts) on its Redis presence: the renewals
 * and the rejoin are the presence's own calls, a renewal that has not answered within the renewal
 * interval counts as failed (Redis that hangs is as away as Redis that refuses), and every notice
 * goes to `onNotice` — the node pauses its listener and tells its users, or signs them out.
 */
import { createActor, fromPromise, type Actor, type AnyActorRef } from 'xstate';
import { settledWithin } from '../io/clock.js';
import { RENEW_EVERY_MS, type ClusterPresence } from '../io/presence-redis.js';
import { clusterLinkMachine, type ClusterLinkNotice } from '../machines/cluster-link.js';

export interface ClusterLinkOptions {
  presence: Pick<ClusterPresence, 'renew' | 'rejoin' | 'leaseDurationMs'>;
  onNotice(notice: ClusterLinkNotice): void;
  renewEveryMs?: number;
  retryMs?: number;
  inspectActor?: (actor: AnyActorRef) => void;
}

export type ClusterLink = Actor<typeof clusterLinkMachine>;

export function startClusterLink(opts: ClusterLinkOptions): ClusterLink {
  const renewEveryMs = opts.renewEveryMs ?? RENEW_EVERY_MS;
  const withinInterval = <T>(answer: Promise<T>) => settledWithin(answer, renewEveryMs, () => new Error(`Redis did not answer within ${renewEveryMs} ms`));
  const machine = clusterLinkMachine.provide({
    actors: {
      renew: fromPromise(() => withinInterval(opts.presence.renew())),
      rejoin: fromPromise(() => withinInterval(opts.presence.rejoin())),
    },
    actions: { tell: (_, notice) => opts.onNotice(notice) },
  });
  const actor = createActor(machine, {
    id: 'clusterLink',
    input: { renewEveryMs, leaseMs: opts.presence.leaseDurationMs, retryMs: opts.retryMs ?? renewEveryMs },
  });
  opts.inspectActor?.(actor);
  return actor.start();
}
