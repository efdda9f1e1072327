/**
 * The Redis TopicStore against a real redis-server: topics set on one node are there for a node
 * that opens later, cleared ones are gone, and damage is reported and left out.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/io/errors.js';
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
    expect([...a.all()]).toEqual([['#dev', topic('all about "cats", really')]]);
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

  it('says what is wrong with each damaged field', async () => {
    const redis = db.connect();
    const fields: Record<string, string> = {
      '#notjson': '{text',
      '#null': 'null',
      '#number': '5',
      '#notext': JSON.stringify({ by: 'alice', at: '2026-12-07T10:00:00.000Z' }),
      '#noby': JSON.stringify({ text: 't', at: '2026-12-07T10:00:00.000Z' }),
      '#noat': JSON.stringify({ text: 't', by: 'alice' }),
      '#atnumber': JSON.stringify({ text: 't', by: 'alice', at: 5 }),
      '#badat': JSON.stringify({ text: 't', by: 'alice', at: '2026-12-07 10:00' }),
      noroom: JSON.stringify(topic('valid, but not of a room')),
    };
    await redis.hset(`${db.prefix}topics`, fields);
    const damaged = new Map<string, string>();

    const store = await openRedisTopicStore({ redis, prefix: db.prefix, where: db.url, onDamaged: (room, reason) => damaged.set(room, reason) });

    expect(store.all().size).toBe(0);
    expect(Object.fromEntries(damaged)).toEqual({
      '#notjson': 'not JSON',
      '#null': 'not a JSON object',
      '#number': 'not a JSON object',
      '#notext': 'no text or setter',
      '#noby': 'no text or setter',
      '#noat': 'at is not an ISO 8601 date-time',
      '#atnumber': 'at is not an ISO 8601 date-time',
      '#badat': 'at is not an ISO 8601 date-time',
      noroom: 'not a room name',
    });
  });

  it('leaves damage out without being told of it when no one listens', async () => {
    const redis = db.connect();
    await redis.hset(`${db.prefix}topics`, '#good', JSON.stringify(topic('fine')), '#bad', '{"text":1}', 'nonsense', '{}');

    const store = await openRedisTopicStore({ redis, prefix: db.prefix, where: db.url });

    expect([...store.all().keys()]).toEqual(['#good']);
  });

  it('refuses, naming it, a room that is not even a string', async () => {
    const store = await openRedisTopicStore({ redis: db.connect(), prefix: db.prefix, where: db.url });
    const lookalike = { toString: () => '#dev' } as unknown as string;

    await expect(store.set(lookalike, topic('x'))).rejects.toThrow(/^topics: room must be a room name, got #dev$/);
  });

  it('keys its hash "statechat:topics" when given no prefix', async () => {
    const redis = db.connect();
    // This file's server is its own: nothing else uses the default prefix on it.
    try {
      const store = await openRedisTopicStore({ redis, where: db.url });
      await store.set('#plain', topic('default prefix'));
      expect(JSON.parse((await redis.hget('statechat:topics', '#plain'))!)).toEqual(topic('default prefix'));
      expect([...(await openRedisTopicStore({ redis, where: db.url })).all().keys()]).toEqual(['#plain']);
    } finally {
      await redis.del('statechat:topics');
    }
  });

  it('fails with a StorageError naming Redis when it cannot be reached, at open and on a change', async () => {
    const gone = await db.startAnother();
    const redis = db.connect({ enableOfflineQueue: false }, gone.url);
    redis.on('error', () => {});
    await once(redis, 'ready');
    const store = await openRedisTopicStore({ redis, prefix: db.prefix, where: gone.url });
    await gone.stop();

    await expect(store.set('#dev', topic('lost'))).rejects.toBeInstanceOf(StorageError);
    await expect(openRedisTopicStore({ redis, prefix: db.prefix, where: gone.url })).rejects.toBeInstanceOf(StorageError);
    expect(store.all().size).toBe(0);
  });
});
