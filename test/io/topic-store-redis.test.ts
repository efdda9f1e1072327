/**
 * The Redis TopicStore against a real redis-server: topics set on one node are there for a node
 * that opens later, cleared ones are gone, and damage is reported and left out.
 */
import { describe, expect, it } from 'vitest';
import { openRedisTopicStore } from '../../src/io/topic-store-redis.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';

const db = useRedis();

const topic = (text: string) => ({ text, by: 'alice', at: '2026-12-07T10:00:00.000Z' });

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('Redis topic store', () => {
  it('keeps what a node set for the nodes that open after it, and forgets a cleared topic', async () => {
    const a = await openRedisTopicStore({ redis: db.connect(), prefix: db.prefix, where: db.url });
    await a.set('#Dev', topic('all about "cats", really'));
    await a.set('#ops', topic('pager duty'));
    await a.set('#ops', undefined);

    const b = await openRedisTopicStore({ redis: db.connect(), prefix: db.prefix, where: db.url });

    expect([...b.all()]).toEqual([['#dev', topic('all about "cats", really')]]);
    expect(a.all().get('#ops')).toBeUndefined();
  });

  it('reports a field that is not a topic, and leaves it out', async () => {
    const redis = db.connect();
    await redis.hset(`${db.prefix}topics`, '#good', JSON.stringify(topic('fine')), '#bad', '{"text":1}', 'nonsense', '{}');
    const damaged: string[] = [];

    const store = await openRedisTopicStore({ redis, prefix: db.prefix, where: db.url, onDamaged: (room) => damaged.push(room) });

    expect([...store.all().keys()]).toEqual(['#good']);
    expect(damaged.sort()).toEqual(['#bad', 'nonsense']);
  });

  it('refuses a room that is no room name', async () => {
    const store = await openRedisTopicStore({ redis: db.connect(), prefix: db.prefix, where: db.url });

    await expect(store.set('dev', topic('x'))).rejects.toThrow(TypeError);
  });
});
