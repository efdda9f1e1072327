/**
 * The Redis HistoryStore (a stream per room) against a real redis-server: one order for every
 * node, rooms apart, trimmed but never below what replay reads, and a clear StorageError when
 * Redis is gone.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/io/errors.js';
import { entryOfFields, fieldsOfEntry, messageOfEntry, openRedisHistoryStore, type RoomLog, roomStreamKey, type RoomLogEntry, seqOfFields } from '../../src/io/history-store-redis.js';
import type { ChatMessage } from '../../src/io/stores.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';

const db = useRedis();

/** A node's room log that trims down to `retain` posts (by default `keep`: the tightest trimming there is, to test its bound). */
function node(keep = 50, url = db.url, retain = keep): RoomLog & { redis: Redis } {
  const redis = db.connect({ enableAutoPipelining: true }, url);
  // A lost connection is what one test is about: its commands fail, which is what is checked.
  redis.on('error', () => {});
  return Object.assign(openRedisHistoryStore({ redis, keep, retain, prefix: db.prefix, where: url }), { redis });
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

  it('answers no messages for a limit of 0 or less, without asking Redis for any', async () => {
    const a = node();
    await a.append(message('#dev', 'alice', 'there is one'));

    expect(await a.recent('#dev', 0)).toEqual([]);
    expect(await a.recent('#dev', -1)).toEqual([]);
  });

  it('skips an entry not written by statechat (a field missing), keeping the others in order', async () => {
    const a = node();
    const key = roomStreamKey(db.prefix, '#dev');
    await a.append(message('#dev', 'alice', 'first'));
    await a.redis.xadd(key, '*', 'login', 'mallory', 'text', 'no time');
    await a.redis.xadd(key, '*', 'at', '2026-12-07T10:00:00.000Z', 'text', 'no login');
    await a.redis.xadd(key, '*', 'at', '2026-12-07T10:00:00.000Z', 'login', 'mallory');
    // Fields in another order, and one more, are still a message.
    await a.redis.xadd(key, '*', 'text', 'reordered', 'extra', 'x', 'login', 'bob', 'at', '2026-12-07T10:00:01.000Z');

    expect(await a.recent('#dev', 10)).toEqual([
      expect.objectContaining({ login: 'alice', text: 'first' }),
      { at: '2026-12-07T10:00:01.000Z', room: '#dev', login: 'bob', text: 'reordered' },
    ]);
    expect(messageOfEntry('#Dev', ['at', 'x', 'login', 'y'])).toBe('a post without login or text');
    expect(messageOfEntry('#Dev', ['login', 'y', 'text', 'z'])).toBe('an entry without at');
  });

  it('refuses an append once closed, and close waits for the appends under way', async () => {
    const a = node();
    const b = node();
    const pending = a.append(message('#dev', 'alice', 'last words'));

    await a.close();
    // close (through flush) waited for the XADD: another node reads it at once.
    expect((await b.recent('#dev', 1)).map((m) => m.text)).toEqual(['last words']);
    await pending;

    const refused = await a.append(message('#dev', 'alice', 'too late')).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(StorageError);
    expect(String((refused as Error).message)).toMatch(/the history store is closed/);
  });

  it('flush answers once every append made before it has been answered by Redis', async () => {
    const a = node();
    const b = node();
    for (let i = 0; i < 5; i++) void a.append(message('#dev', 'alice', `m${i}`));

    await a.flush();

    expect((await b.recent('#dev', 10)).map((m) => m.text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('keys its streams with "statechat:" when given no prefix', async () => {
    const redis = db.connect();
    const store = openRedisHistoryStore({ redis, keep: 10, where: db.url });
    // This file's server is its own: nothing else uses the default prefix on it.
    const room = '#defaultprefix';
    try {
      await store.append(message(room, 'alice', 'default prefix'));

      expect(await redis.xlen(`statechat:room:${room}`)).toBe(1);
    } finally {
      await redis.del(`statechat:room:${room}`);
    }
  });

  it('rejects a read with a StorageError naming Redis when it cannot be reached', async () => {
    const gone = await db.startAnother();
    const a = node(50, gone.url);
    await a.append(message('#dev', 'alice', 'before'));
    await gone.stop();

    await expect(a.recent('#dev', 10)).rejects.toBeInstanceOf(StorageError);
  });

  describe('the room log: posts, joins and notices in one order', () => {
    const join = (login: string, conn = 'c1'): RoomLogEntry => ({ kind: 'join', at: new Date().toISOString(), login, node: 'n1', conn });
    const notice = (line: string): RoomLogEntry => ({ kind: 'notice', at: new Date().toISOString(), line, node: 'n2' });

    it('writes each kind with its origin, and reads back what it wrote', async () => {
      const a = node();
      const post: RoomLogEntry = { kind: 'post', message: message('#dev', 'alice', 'hi'), node: 'n1', conn: 'c7' };
      const ids = [await a.appendEntry('#dev', post), await a.appendEntry('#Dev', join('bob')), await a.appendEntry('#dev', notice('* carol left'))];
      const entries = await a.redis.xrange(roomStreamKey(db.prefix, '#dev'), '-', '+');

      expect(entries.map(([id]) => id)).toEqual(ids);
      expect(entries.map(([, fields]) => entryOfFields('#dev', fields))).toEqual([post, join('bob'), notice('* carol left')].map((e, i) => (i === 0 ? e : { ...e, at: expect.any(String) })));
      // As written, numbered by the append script: 1, 2, 3 in the room (#Dev is #dev).
      expect(entries[0]![1]).toEqual([...fieldsOfEntry(post), 'seq', '1']);
      expect(entries.map(([, fields]) => seqOfFields(fields))).toEqual([1, 2, 3]);
      expect(await a.lastEntry('#dev')).toEqual({ id: ids[2], seq: 3 });
      expect(await a.lastEntry('#empty')).toEqual({ id: '0-0', seq: 0 });
      expect(seqOfFields(['kind', 'post'])).toBeUndefined();
      expect(seqOfFields(['seq', 'x'])).toBeUndefined();
      // A post of the node's own (no connection), and one from before kinds: posts both.
      expect(entryOfFields('#dev', ['kind', 'post', 'at', 't', 'login', 'l', 'text', 'x', 'node', 'n3'])).toEqual({ kind: 'post', message: { at: 't', room: '#dev', login: 'l', text: 'x' }, node: 'n3' });
      expect(entryOfFields('#dev', ['at', 't', 'login', 'l', 'text', 'x'])).toEqual({ kind: 'post', message: { at: 't', room: '#dev', login: 'l', text: 'x' } });
    });

    it('carries a new topic with the notice that announces it, so that other nodes\' rooms take it', () => {
      const topic = { text: 'release on friday', by: 'alice', at: '2026-12-08T10:00:00.000Z' };
      const announced: RoomLogEntry = { kind: 'notice', at: 't', line: '* alice set the topic', node: 'n1', topic };
      expect(entryOfFields('#dev', fieldsOfEntry(announced))).toEqual(announced);
      expect(entryOfFields('#dev', fieldsOfEntry({ kind: 'notice', at: 't', line: '* bob left', node: 'n1' }))).not.toHaveProperty('topic');
    });

    it('says what is wrong with an entry it cannot read', () => {
      expect(entryOfFields('#dev', ['kind', 'vote', 'at', 't', 'node', 'n'])).toBe('an entry of an unknown kind (vote)');
      expect(entryOfFields('#dev', ['kind', 'join', 'at', 't', 'login', 'l'])).toBe('a join without node');
      expect(entryOfFields('#dev', ['kind', 'join', 'at', 't', 'node', 'n'])).toBe('a join without login');
      expect(entryOfFields('#dev', ['kind', 'notice', 'at', 't', 'node', 'n'])).toBe('a notice without line');
      expect(entryOfFields('#dev', ['kind', 'notice', 'at', 't', 'line', 'x', 'node', 'n', 'topic', '{"text":1}'])).toBe('a notice whose topic is not one');
      expect(entryOfFields('#dev', ['kind', 'notice', 'at', 't', 'line', 'x', 'node', 'n', 'topic', 'not json'])).toBe('a notice whose topic is not one');
      expect(messageOfEntry('#dev', fieldsOfEntry(join('bob')))).toBe('a join, not a post');
    });

    it('replays posts only, paging back past any number of other entries', async () => {
      const a = node(5);
      for (let i = 0; i < 4; i++) {
        await a.append(message('#dev', 'alice', `m${i}`));
        for (let k = 0; k < 150; k++) await a.appendEntry('#dev', k % 2 ? join(`u${k}`) : notice(`n${k}`));
      }
      expect((await a.recent('#dev', 3)).map((m) => m.text)).toEqual(['m1', 'm2', 'm3']);
      expect((await a.recent('#dev', 10)).map((m) => m.text)).toEqual(['m0', 'm1', 'm2', 'm3']);
    });

    it('gives the posts before a join: a welcome ends where the member came in', async () => {
      const a = node();
      await a.append(message('#dev', 'alice', 'before 1'));
      await a.append(message('#dev', 'alice', 'before 2'));
      const joined = await a.appendEntry('#dev', join('bob'));
      await a.append(message('#dev', 'alice', 'after'));

      expect((await a.postsBefore('#dev', joined, 10)).map((m) => m.text)).toEqual(['before 1', 'before 2']);
      expect((await a.postsBefore('#dev', joined, 1)).map((m) => m.text)).toEqual(['before 2']);
      expect((await a.recent('#dev', 10)).map((m) => m.text)).toEqual(['before 1', 'before 2', 'after']);
    });

    it('keeps the posts it is told to retain, far more than replay reads: a tail lagging behind finds nothing gone', async () => {
      const keep = 10;
      const retain = 300;
      const a = node(keep, db.url, retain);
      const key = roomStreamKey(db.prefix, '#dev');
      await Promise.all(Array.from({ length: 1000 }, (_, i) => a.append(message('#dev', 'alice', `m${i}`))));
      const length = await a.redis.xlen(key);
      expect(length).toBeGreaterThanOrEqual(retain);
      // Trimmed all the same: about retain posts, in whole stream nodes (100 entries each by Redis's default).
      expect(length).toBeLessThan(retain + 2 * Math.ceil(retain / 100) + 200);
      expect((await a.redis.xrange(key, '-', '+')).slice(-retain).map(([, fields]) => fields[fields.indexOf('text') + 1])).toEqual(
        Array.from({ length: retain }, (_, i) => `m${1000 - retain + i}`),
      );
      // Without `retain`, a room keeps DEFAULT_RETAINED_POSTS: none of these 1,000 is trimmed.
      const b = openRedisHistoryStore({ redis: a.redis, keep, prefix: `${db.prefix}b:`, where: db.url });
      await Promise.all(Array.from({ length: 1000 }, (_, i) => b.append(message('#dev', 'alice', `m${i}`))));
      expect(await a.redis.xlen(roomStreamKey(`${db.prefix}b:`, '#dev'))).toBe(1000);
    });

    it('trims by posts: never below keep of them however many other entries come between, and not without bound', async () => {
      const keep = 10;
      const a = node(keep);
      const key = roomStreamKey(db.prefix, '#dev');
      for (let i = 0; i < 60; i++) {
        await a.append(message('#dev', 'alice', `m${i}`));
        for (let k = 0; k < 20; k++) await a.appendEntry('#dev', notice(`n${i}.${k}`));
        expect((await a.recent('#dev', keep)).map((m) => m.text)).toEqual(Array.from({ length: Math.min(keep, i + 1) }, (_, j) => `m${Math.max(0, i + 1 - keep) + j}`));
      }
      // 60 posts and 1,200 notices went in; what stays is about the last 2 × keep posts' worth, in
      // whole stream nodes (100 entries each by Redis's default).
      expect(await a.redis.xlen(key)).toBeLessThan(2 * keep * 21 + 200);
      const oldest = await a.redis.xrange(key, '-', '+', 'COUNT', 1);
      expect(entryOfFields('#dev', oldest[0]![1])).not.toMatchObject({ kind: 'post', message: { text: 'm0' } });
    });
  });
});
