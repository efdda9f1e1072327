/**
 * Rooms' members across the cluster against a real redis-server: /names and /rooms see the
 * members of every live node, not those of a node whose lease is gone, and a stale node cannot
 * remove a live node's member.
 */
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { keyringFromKey, type Keyring } from '../../src/io/crypto.js';
import { ClusterPresence } from '../../src/io/presence-redis.js';
import { ClusterRooms } from '../../src/io/room-members-redis.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';

const db = useRedis();
let keyring: Keyring;

beforeEach(() => {
  keyring = keyringFromKey(randomBytes(32));
});

async function node(nodeId: string): Promise<{ presence: ClusterPresence; rooms: ClusterRooms }> {
  const redis = db.connect();
  const presence = await ClusterPresence.join({ redis, keyring, nodeId, prefix: db.prefix, where: db.url });
  return { presence, rooms: new ClusterRooms({ redis, keyring, presence, prefix: db.prefix, where: db.url }) };
}

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('cluster rooms on Redis', () => {
  it('lists a room\'s members on every node, and every room with its size', async () => {
    const a = await node('a');
    const b = await node('b');
    await a.rooms.join('#Dev', 'Alice');
    await b.rooms.join('#dev', 'bob');
    await b.rooms.join('#ops', 'bob');

    expect((await a.rooms.names('#dev')).sort()).toEqual(['Alice', 'bob']);
    expect((await b.rooms.rooms()).sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: '#dev', size: 2 },
      { name: '#ops', size: 1 },
    ]);
  });

  it('forgets a room once its last member left', async () => {
    const a = await node('a');
    await a.rooms.join('#tmp', 'alice');

    await a.rooms.leave('#tmp', 'ALICE');

    expect(await a.rooms.names('#tmp')).toEqual([]);
    expect(await a.rooms.rooms()).toEqual([]);
  });

  it('leaves out the members of a node whose lease is gone; that node cannot remove a live one\'s member', async () => {
    const a = await node('a');
    const b = await node('b');
    await a.rooms.join('#dev', 'alice');
    await b.rooms.join('#dev', 'bob');

    await db.connect().del(`${db.prefix}lease:a`);

    expect(await b.rooms.names('#dev')).toEqual(['bob']);
    expect(await b.rooms.rooms()).toEqual([{ name: '#dev', size: 1 }]);
    // alice signs in on b; a's late leave of its old session must not remove her.
    await b.rooms.join('#dev', 'alice');
    await a.rooms.leave('#dev', 'alice');
    expect((await b.rooms.names('#dev')).sort()).toEqual(['alice', 'bob']);
  });

  it('keeps no login in the clear', async () => {
    const a = await node('a');
    await a.rooms.join('#dev', 'hannelore');

    expect(JSON.stringify(await db.connect().hgetall(`${db.prefix}members:#dev`))).not.toContain('hannelore');
  });

  it('drops a room from the set of rooms when its last member leaves, under its prefix or "statechat:"', async () => {
    const a = await node('a');
    const redis = db.connect();
    await a.rooms.join('#tmp', 'alice');
    expect(await redis.smembers(`${db.prefix}rooms`)).toEqual(['#tmp']);

    await a.rooms.leave('#tmp', 'alice');

    expect(await redis.smembers(`${db.prefix}rooms`)).toEqual([]);

    // This file's server is its own: nothing else uses the default prefix on it.
    const plain = new ClusterRooms({ redis, keyring, presence: a.presence, where: db.url });
    try {
      await plain.join('#Plain', 'bob');
      expect(await redis.smembers('statechat:rooms')).toEqual(['#plain']);
      expect(await redis.hexists('statechat:members:#plain', keyring.loginKey('bob'))).toBe(1);
    } finally {
      await redis.del('statechat:rooms', 'statechat:members:#plain');
    }
  });
});
