/**
 * The Redis TopicStore against a real redis-server: topics set on one node are there for a node
 * that opens later, cleared ones are gone, and damage is reported and left out.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openRedisTopicStore } from '../../src/io/topic-store-redis.js';
import { REDIS_INSTALLED, type RedisServer, startRedisServer } from '../support/redis-server.js';

let server: RedisServer;
const clients: Redis[] = [];
let prefix: string;
let testNumber = 0;

beforeAll(async () => {
  if (REDIS_INSTALLED) server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(() => {
  prefix = `test${++testNumber}:`;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.quit()));
});

function connect(): Redis {
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  clients.push(redis);
  return redis;
}

const topic = (text: string) => ({ text, by: 'alice', at: '2026-12-07T10:00:00.000Z' });

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('Redis topic store', () => {
  it('keeps what a node set for the nodes that open after it, and forgets a cleared topic', async () => {
    const a = await openRedisTopicStore({ redis: connect(), prefix, where: server.url });
    await a.set('#Dev', topic('all about "cats", really'));
    await a.set('#ops', topic('pager duty'));
    await a.set('#ops', undefined);

    const b = await openRedisTopicStore({ redis: connect(), prefix, where: server.url });

    expect([...b.all()]).toEqual([['#dev', topic('all about "cats", really')]]);
    expect(a.all().get('#ops')).toBeUndefined();
  });

  it('reports a field that is not a topic, and leaves it out', async () => {
    const redis = connect();
    await redis.hset(`${prefix}topics`, '#good', JSON.stringify(topic('fine')), '#bad', '{"text":1}', 'nonsense', '{}');
    const damaged: string[] = [];

    const store = await openRedisTopicStore({ redis, prefix, where: server.url, onDamaged: (room) => damaged.push(room) });

    expect([...store.all().keys()]).toEqual(['#good']);
    expect(damaged.sort()).toEqual(['#bad', 'nonsense']);
  });

  it('refuses a room that is no room name', async () => {
    const store = await openRedisTopicStore({ redis: connect(), prefix, where: server.url });

    await expect(store.set('dev', topic('x'))).rejects.toThrow(TypeError);
  });
});
