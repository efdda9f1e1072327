/**
 * The Redis OfflineMessageStore (a list per recipient) against a real redis-server: the limit
 * held across two nodes at once, delivery once and in order, nothing lost that arrives during a
 * delivery, nothing in the clear.
 */
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { keyringFromKey, type Keyring } from '../../src/io/crypto.js';
import { openRedisOfflineStore } from '../../src/io/offline-store-redis.js';
import type { OfflineMessageStore, WaitingMessage } from '../../src/io/stores.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';

const db = useRedis();
let keyring: Keyring;

beforeEach(() => {
  keyring = keyringFromKey(randomBytes(32));
});

function node(maxPerUser = 5): OfflineMessageStore {
  const redis = db.connect();
  return openRedisOfflineStore({ redis, keyring, maxPerUser, prefix: db.prefix, where: db.url });
}

const message = (from: string, text: string): WaitingMessage => ({ from, at: '2026-12-07T10:00:00.000Z', text });

async function delivered(store: OfflineMessageStore, login: string): Promise<string[]> {
  let got: string[] = [];
  await store.deliver(login, (messages) => {
    got = messages.map((m) => m.text);
    return true;
  });
  return got;
}

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('Redis offline message store', () => {
  it('delivers on any node what any node left, in order, once', async () => {
    const a = node();
    const b = node();
    await a.leave('bob', message('alice', 'one'));
    await b.leave('BOB', message('carol', 'two'));

    expect(await delivered(b, 'bob')).toEqual(['one', 'two']);
    expect(await delivered(a, 'bob')).toEqual([]);
  });

  it('holds the limit when two nodes leave the last places at once', async () => {
    const a = node(3);
    const b = node(3);

    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => (n % 2 ? a : b).leave('bob', message('alice', `m${n}`))));

    expect(results.filter((r) => r === 'stored')).toHaveLength(3);
    expect(results.filter((r) => r === 'full')).toHaveLength(3);
    expect(await delivered(a, 'bob')).toHaveLength(3);
  });

  it('keeps a message left while a delivery was under way, for the next one', async () => {
    const a = node();
    const b = node();
    await a.leave('bob', message('alice', 'first'));

    let got: string[] = [];
    await a.deliver('bob', (messages) => {
      got = messages.map((m) => m.text);
      // Another node leaves one after the list was read, before it is trimmed.
      void b.leave('bob', message('carol', 'during'));
      return true;
    });
    await b.leave('bob', message('dave', 'after'));

    expect(got).toEqual(['first']);
    expect(await delivered(a, 'bob')).toEqual(['during', 'after']);
  });

  it('keeps the messages when the delivery could not take them', async () => {
    const a = node();
    await a.leave('bob', message('alice', 'hi'));

    await a.deliver('bob', () => false);

    expect(await delivered(a, 'bob')).toEqual(['hi']);
  });

  it('holds neither logins nor text in the clear, and forgets one user or everyone', async () => {
    const a = node();
    await a.leave('bobbington', message('alicia', 'the cake is in the fridge'));
    await a.leave('carol', message('alicia', 'for carol'));
    const redis = db.connect();
    const keys = await redis.keys(`${db.prefix}*`);
    const values = (await Promise.all(keys.map((k) => (k.endsWith('offline') ? redis.smembers(k) : redis.lrange(k, 0, -1))))).flat();
    for (const secret of ['bobbington', 'alicia', 'cake', 'carol']) expect([...keys, ...values].join('\n')).not.toContain(secret);

    await a.forget('bobbington');
    expect(await delivered(a, 'bobbington')).toEqual([]);
    expect(await delivered(a, 'carol')).toEqual(['for carol']);
    await a.leave('carol', message('alicia', 'again'));
    await a.clear();
    expect(await delivered(a, 'carol')).toEqual([]);
    expect(await redis.keys(`${db.prefix}*`)).toEqual([]);
  });

  it('answers "stored" for a message that fits, "full" once the limit is reached', async () => {
    const a = node(1);

    expect(await a.leave('bob', message('alice', 'fits'))).toBe('stored');
    expect(await a.leave('bob', message('alice', 'over'))).toBe('full');
  });

  it('reports a damaged token, skips it, and removes it with the messages delivered', async () => {
    const redis = db.connect();
    const damaged: string[] = [];
    const a = openRedisOfflineStore({ redis, keyring, maxPerUser: 5, prefix: db.prefix, where: db.url, onDamaged: (reason) => damaged.push(reason) });
    await a.leave('bob', message('alice', 'one'));
    await redis.rpush(`${db.prefix}offline:${keyring.loginKey('bob')}`, 'not a token');
    await a.leave('bob', message('carol', 'two'));

    expect(await delivered(a, 'bob')).toEqual(['one', 'two']);
    expect(damaged).toHaveLength(1);
    expect(damaged[0]).not.toBe('');
    expect(await delivered(a, 'bob')).toEqual([]);
    expect(damaged).toHaveLength(1);
  });

  it('with nothing but damage waiting, hands nothing over and removes the damage', async () => {
    const redis = db.connect();
    const damaged: string[] = [];
    const a = openRedisOfflineStore({ redis, keyring, maxPerUser: 5, prefix: db.prefix, where: db.url, onDamaged: (reason) => damaged.push(reason) });
    await redis.rpush(`${db.prefix}offline:${keyring.loginKey('bob')}`, 'not a token');
    const handedOver: number[] = [];

    await a.deliver('bob', (messages) => {
      handedOver.push(messages.length);
      return false;
    });

    expect(handedOver).toEqual([]);
    expect(damaged).toHaveLength(1);
    expect(await redis.llen(`${db.prefix}offline:${keyring.loginKey('bob')}`)).toBe(0);
  });

  it('skips a damaged token without being told of it when no one listens', async () => {
    const redis = db.connect();
    const a = openRedisOfflineStore({ redis, keyring, maxPerUser: 5, prefix: db.prefix, where: db.url });
    await redis.rpush(`${db.prefix}offline:${keyring.loginKey('bob')}`, 'not a token');
    await a.leave('bob', message('alice', 'fine'));

    expect(await delivered(a, 'bob')).toEqual(['fine']);
  });

  it('keeps every message left during a delivery, however many', async () => {
    const redis = db.connect();
    const a = openRedisOfflineStore({ redis, keyring, maxPerUser: 10, prefix: db.prefix, where: db.url });
    await a.leave('bob', message('alice', 'first'));
    const during: Promise<unknown>[] = [];

    await a.deliver('bob', () => {
      // Sent on the same connection before the trim that follows: in the list when it is trimmed.
      for (const text of ['d1', 'd2', 'd3']) during.push(a.leave('bob', message('carol', text)));
      return true;
    });
    await Promise.all(during);

    expect(await delivered(a, 'bob')).toEqual(['d1', 'd2', 'd3']);
  });

  it('keys its lists under its prefix, "statechat:" when given none', async () => {
    const redis = db.connect();
    await node().leave('bob', message('alice', 'prefixed'));
    expect(await redis.keys(`${db.prefix}offline*`)).toHaveLength(2);

    // This file's server is its own: nothing else uses the default prefix on it.
    const plain = openRedisOfflineStore({ redis, keyring, maxPerUser: 5, where: db.url });
    try {
      await plain.leave('bob', message('alice', 'default'));
      expect(await redis.llen(`statechat:offline:${keyring.loginKey('bob')}`)).toBe(1);
    } finally {
      await plain.clear();
    }
  });
});
