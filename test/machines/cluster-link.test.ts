/**
 * The cluster link as transitions on a simulated clock: a lease renewed on time keeps the node
 * available; a renewal that fails makes it unavailable until one succeeds; "no lease" (fenced) or
 * Redis away for what is left of the lease signs its users out and takes a new epoch.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock, waitFor } from 'xstate';
import { clusterLinkMachine, type ClusterLinkNotice } from '../../src/machines/cluster-link.js';

type Answer = 'renewed' | 'fenced' | 'error';

/** A link whose renewals answer as scripted (the last answer repeats), on a clock the test moves. */
function link(renewals: Answer[], rejoins: ('ok' | 'error')[] = ['ok']) {
  const clock = new SimulatedClock();
  const notices: ClusterLinkNotice['kind'][] = [];
  const told: ClusterLinkNotice[] = [];
  let renewed = 0;
  let rejoined = 0;
  const machine = clusterLinkMachine.provide({
    actors: {
      renew: fromPromise(async () => {
        const answer = renewals[Math.min(renewed++, renewals.length - 1)];
        if (answer === 'error') throw new Error('ECONNREFUSED');
        return answer === 'renewed';
      }),
      rejoin: fromPromise(async () => {
        if (rejoins[Math.min(rejoined++, rejoins.length - 1)] === 'error') throw new Error('ECONNREFUSED');
      }),
    },
    actions: {
      tell: (_, notice) => {
        notices.push(notice.kind);
        told.push(notice);
      },
    },
  });
  const actor = createActor(machine, { clock, input: { renewEveryMs: 1000, leaseMs: 3000, retryMs: 500 } }).start();
  /** Moves the clock on and waits until the actor is in `state`. */
  const after = async (ms: number, state: string) => {
    clock.increment(ms);
    await waitFor(actor, (s) => s.matches(state as never), { timeout: 1000 });
  };
  return { actor, clock, notices, told, after, renewals: () => renewed, rejoins: () => rejoined };
}

describe('cluster link', () => {
  it('renews the lease once per interval and stays available while each renewal answers', async () => {
    const l = link(['renewed']);
    expect(l.actor.getSnapshot().matches({ available: 'waiting' })).toBe(true);
    expect(l.renewals()).toBe(0);
    for (let i = 1; i <= 3; i++) {
      await l.after(999, 'available.waiting');
      expect(l.renewals()).toBe(i - 1);
      await l.after(1, 'available.waiting');
      expect(l.renewals()).toBe(i);
    }
    expect(l.notices).toEqual([]);
  });

  it('is unavailable from a failed renewal until one succeeds, retrying at its interval', async () => {
    const l = link(['renewed', 'error', 'error', 'renewed']);
    await l.after(1000, 'available.waiting');
    await l.after(1000, 'unavailable.waiting');
    expect(l.notices).toEqual(['unavailable']);
    await l.after(500, 'unavailable.waiting');
    expect(l.renewals()).toBe(3);
    await l.after(500, 'available.waiting');
    expect(l.notices).toEqual(['unavailable', 'available']);
    expect(l.renewals()).toBe(4);
  });

  it('when the lease had lapsed (fenced), says so and takes a new epoch, retrying until Redis takes it', async () => {
    const l = link(['fenced', 'renewed'], ['error', 'ok']);
    await l.after(1000, 'lapsed.waiting');
    expect(l.told).toEqual([{ kind: 'lapsed', why: 'fenced' }]);
    expect(l.rejoins()).toBe(1);
    await l.after(500, 'available.waiting');
    expect(l.notices).toEqual(['lapsed', 'rejoined']);
    expect(l.rejoins()).toBe(2);
  });

  it('gives its users up once Redis has been away for what was left of the lease', async () => {
    const l = link(['error'], ['error']);
    await l.after(1000, 'unavailable.waiting');
    await l.after(1500, 'unavailable.waiting');
    expect(l.notices).toEqual(['unavailable']);
    await l.after(499, 'unavailable');
    expect(l.notices).toEqual(['unavailable']);
    await l.after(1, 'lapsed');
    expect(l.told).toEqual([
      { kind: 'unavailable', cause: new Error('ECONNREFUSED') },
      { kind: 'lapsed', why: 'unreachable' },
    ]);
  });

  it('stops renewing once stopped', async () => {
    const l = link(['renewed']);
    await l.after(1000, 'available.waiting');
    l.actor.send({ type: 'link.stop' });
    expect(l.actor.getSnapshot().status).toBe('done');
    expect(l.actor.getSnapshot().value).toBe('stopped');
    l.clock.increment(5000);
    expect(l.renewals()).toBe(1);
  });
});
