/**
 * The Redis HistoryStore (a stream per room) against a real redis-server: one order for every
 * node, rooms apart, trimmed but never below what replay reads, and a clear StorageError when
 * Redis is gone.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/io/errors.js';
import { openRedisHistoryStore, roomStreamKey } from '../../src/io/history-store-redis.js';
import type { ChatMessage, HistoryStore } from '../../src/io/stores.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';

const db = useRedis();

function node(keep = 50, url = db.url): HistoryStore & { redis: Redis } {
  const redis = db.connect({ enableAutoPipelining: true }, url);
  // A lost connection is what one test is about: its commands fail, which is what is checked.
  redis.on('error', () => {});
  return Object.assign(openRedisHistoryStore({ redis, keep, prefix: db.prefix, where: url }), { redis });
}

const message = (room: string, login: string, text: string): ChatMessage => ({ at: new Date().toISOString(), room, login, text });

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('Redis history store', () => {
  it('gives every node the same order of a room, whichever node appended', async () => {
    const a = node();
    const b = node();

    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append(message('#dev', i % 2 ? 'alice' : 'bob', `m${i}`))));

    const seenByA = (await a.recent('#dev', 40)).map((m) => m.text);
    const seenByB = (await b.recent('#DEV', 40)).map((m) => m.text);
    expect(seenByA).toHaveLength(40);
    expect(seenByB).toEqual(seenByA);
    expect(new Set(seenByA).size).toBe(40);
  });

  it('keeps the order of one node\'s appends, and each room apart, with the message as it was', async () => {
    const a = node();
    const first = message('#lobby', 'alice', 'hi, with "quotes", commas\tand ünïcödé');
    await a.append(first);
    await a.append(message('#dev', 'bob', 'elsewhere'));
    await a.append(message('#lobby', 'carol', 'second'));

    expect(await a.recent('#lobby', 10)).toEqual([first, expect.objectContaining({ login: 'carol', text: 'second', room: '#lobby' })]);
    expect((await a.recent('#dev', 10)).map((m) => m.text)).toEqual(['elsewhere']);
    expect(await a.recent('#nowhere', 10)).toEqual([]);
    expect((await a.recent('#lobby', 1)).map((m) => m.text)).toEqual(['second']);
  });

  it('trims a room\'s stream, but never below the messages replay reads back', async () => {
    const keep = 20;
    const a = node(keep);
    for (let i = 0; i < 300; i++) await a.append(message('#dev', 'alice', `m${i}`));

    const length = await a.redis.xlen(roomStreamKey(db.prefix, '#dev'));
    expect(length).toBeGreaterThanOrEqual(keep);
    expect(length).toBeLessThan(300);
    expect((await a.recent('#dev', keep)).map((m) => m.text)).toEqual(Array.from({ length: keep }, (_, i) => `m${300 - keep + i}`));
  });

  it('answers an append only once Redis holds it: a second node reads it at once', async () => {
    const a = node();
    const b = node();

    await a.append(message('#dev', 'alice', 'now'));

    expect((await b.recent('#dev', 1)).map((m) => m.text)).toEqual(['now']);
  });

  it('rejects with a StorageError naming Redis when it cannot be reached', async () => {
    const gone = await db.startAnother();
    const a = node(50, gone.url);
    await a.append(message('#dev', 'alice', 'before'));
    await gone.stop();

    const failed = await a.append(message('#dev', 'alice', 'after')).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(failed).toBeInstanceOf(StorageError);
    expect(String((failed as Error).message)).toContain(gone.url);
  });
});
