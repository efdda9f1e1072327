/**
 * The cluster link on a real redis-server: a lease that lapsed (deleted, as Redis deletes it when
 * its time runs out) signs the node's users out and takes a new epoch; Redis that stops answering
 * (CLIENT PAUSE: every command waits) makes the node unavailable until it answers again.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyringFromKey } from '../../src/io/crypto.js';
import { ClusterPresence } from '../../src/io/presence-redis.js';
import { startClusterLink } from '../../src/actors/cluster-link-actor.js';
import type { ClusterLinkNotice } from '../../src/machines/cluster-link.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';
import { collected } from '../support/waiting.js';

const db = useRedis();

async function node(nodeId: string) {
  const keyring = keyringFromKey(randomBytes(32));
  const presence = await ClusterPresence.join({ redis: db.connect(), keyring, nodeId, prefix: db.prefix, where: db.url });
  const notices = collected<ClusterLinkNotice>();
  const link = startClusterLink({ presence, onNotice: (notice) => notices.push(notice), renewEveryMs: 200 });
  return { presence, notices, link };
}

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('cluster link on Redis', () => {
  it('keeps the lease alive past its time while renewing', async () => {
    const { presence, notices, link } = await node('a');
    try {
      const lease = `${db.prefix}lease:a`;
      const admin = db.connect();
      await admin.pexpire(lease, 300); // without a renewal within 300 ms it would be gone
      await expect.poll(async () => admin.pttl(lease), { timeout: 2000 }).toBeGreaterThan(1000);
      expect(await admin.get(lease)).toBe(presence.nodeEpoch);
      expect(notices.items).toEqual([]);
    } finally {
      link.stop();
    }
  });

  it('when its lease has lapsed, says so, takes a new epoch and can claim logins again', async () => {
    const { presence, notices, link } = await node('a');
    try {
      expect(await presence.claim('alice')).toBe('claimed');
      const first = presence.nodeEpoch;
      await db.connect().del(`${db.prefix}lease:a`);

      await notices.until(2, 'the lapse and the rejoin');

      expect(notices.items).toEqual([{ kind: 'lapsed', why: 'fenced' }, { kind: 'rejoined' }]);
      expect(presence.nodeEpoch).not.toBe(first);
      expect(await presence.claim('alice')).toBe('claimed');
      expect(link.getSnapshot().matches('available')).toBe(true);
    } finally {
      link.stop();
    }
  });

  it('is unavailable while Redis does not answer, and available again by itself once it does', async () => {
    const { notices, link } = await node('a');
    try {
      await db.connect().call('CLIENT', 'PAUSE', '1000', 'ALL');

      await notices.until(1, 'the node going unavailable');
      expect(notices.items[0]).toMatchObject({ kind: 'unavailable' });
      expect(String((notices.items[0] as { cause: unknown }).cause)).toContain('did not answer within 200 ms');
      await notices.until(2, 'the node available again');

      expect(notices.items[1]).toEqual({ kind: 'available' });
      expect(link.getSnapshot().matches('available')).toBe(true);
    } finally {
      link.stop();
    }
  });
});
