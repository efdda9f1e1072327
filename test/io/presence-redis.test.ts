/**
 * Cluster presence against a real redis-server: a login online on at most one node, a dead node's
 * users free once its lease is gone, a node whose lease lapsed fenced, and `/who` across nodes.
 * A lease's expiry is what Redis does when its time to live runs out; the tests that need a dead
 * node delete its lease key (the same state, without waiting), and one checks the time to live.
 */
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { keyringFromKey, type Keyring } from '../../src/io/crypto.js';
import { ClusterPresence, LEASE_MS } from '../../src/io/presence-redis.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';

const db = useRedis();
let keyring: Keyring;

beforeEach(() => {
  keyring = keyringFromKey(randomBytes(32));
});

function node(nodeId: string): Promise<ClusterPresence> {
  return ClusterPresence.join({ redis: db.connect(), keyring, nodeId, prefix: db.prefix, where: db.url });
}

/** What Redis does when a node's lease runs out. */
async function leaseLapses(nodeId: string): Promise<void> {
  await db.connect().del(`${db.prefix}lease:${nodeId}`);
}

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('cluster presence on Redis', () => {
  it('lets a login be online on one node only, whatever the case; released, another node may claim it', async () => {
    const a = await node('a');
    const b = await node('b');

    expect(await a.claim('Alice')).toBe('claimed');
    expect(await b.claim('alice')).toBe('online elsewhere');
    expect(await b.release('alice')).toBe(false);
    expect(await a.release('ALICE')).toBe(true);
    expect(await b.claim('alice')).toBe('claimed');
  });

  it('of two nodes claiming one login at once, lets exactly one have it', async () => {
    const a = await node('a');
    const b = await node('b');

    const results = await Promise.all([a.claim('bob'), b.claim('bob')]);

    expect(results.sort()).toEqual(['claimed', 'online elsewhere']);
  });

  it('frees a dead node\'s users once its lease is gone, and fences that node: it may not claim, renew tells it', async () => {
    const a = await node('a');
    const b = await node('b');
    await a.claim('carol');

    await leaseLapses('a');

    expect(await b.claim('carol')).toBe('claimed');
    expect(await a.renew()).toBe(false);
    expect(await a.claim('dave')).toBe('fenced');
    // The stale node's release cannot undo the live node's claim.
    expect(await a.release('carol')).toBe(false);
    expect(await b.logins()).toEqual(['carol']);
  });

  it('takes a new epoch when a node restarts under its old name: its old claims are stale at once', async () => {
    const before = await node('a');
    await before.claim('erin');

    const after = await node('a');

    expect(Number(after.nodeEpoch)).toBeGreaterThan(Number(before.nodeEpoch));
    expect(await after.claim('erin')).toBe('claimed');
    expect(await before.renew()).toBe(false);
  });

  it('keeps a lease alive by renewing it, with a time to live of at most the lease', async () => {
    const a = await node('a');

    expect(await a.renew()).toBe(true);

    const ttl = await db.connect().pttl(`${db.prefix}lease:a`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(LEASE_MS);
  });

  it('lists who is online on every live node, with their spelling, and nobody of a node that left', async () => {
    const a = await node('a');
    const b = await node('b');
    await a.claim('Frank');
    await b.claim('gina');

    expect((await a.logins()).sort()).toEqual(['Frank', 'gina']);
    await b.leave();
    expect(await a.logins()).toEqual(['Frank']);
    expect(await a.claim('gina')).toBe('claimed');
  });

  it('keeps no login in the clear', async () => {
    const a = await node('a');
    await a.claim('hannelore');

    const stored = JSON.stringify(await db.connect().hgetall(`${db.prefix}online`));

    expect(stored).not.toContain('hannelore');
    expect(stored).toContain(keyring.loginKey('hannelore'));
  });

  it('names itself, counts its epochs in "<prefix>epoch", and keys everything under "statechat:" when given no prefix', async () => {
    const a = await node('a');
    expect(a.nodeId).toBe('a');
    expect(await db.connect().get(`${db.prefix}epoch`)).toBe(a.nodeEpoch);

    // This file's server is its own: nothing else uses the default prefix on it.
    const redis = db.connect();
    const plain = await ClusterPresence.join({ redis, keyring, nodeId: 'plain', where: db.url });
    try {
      expect(await redis.get('statechat:lease:plain')).toBe(plain.nodeEpoch);
      expect(await plain.claim('ivan')).toBe('claimed');
      expect(await redis.hexists('statechat:online', keyring.loginKey('ivan'))).toBe(1);
    } finally {
      await redis.del('statechat:lease:plain', 'statechat:online', 'statechat:epoch');
    }
  });
});
