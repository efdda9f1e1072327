/**
 * The Redis UserStore against a real redis-server (test/support/redis-server.ts): what two nodes
 * sharing one Redis see of each other's registrations, changes and deletions, that nothing is
 * stored in the clear, and that a node with another key is refused.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { keyringFromKey, type Keyring } from '../../src/io/crypto.js';
import { KeyMismatchError, StorageError } from '../../src/io/errors.js';
import type { UserStore } from '../../src/io/stores.js';
import { openRedisUserStore } from '../../src/io/user-store-redis.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';

const scrypt = { N: 1024, r: 8, p: 1 };

const db = useRedis();
let keyring: Keyring;

beforeEach(() => {
  keyring = keyringFromKey(randomBytes(32));
});

/** A node: its own connection to the shared Redis, the same key unless given another. */
async function node(key: Keyring = keyring): Promise<UserStore> {
  const redis = db.connect();
  return openRedisUserStore({ redis, keyring: key, scrypt, prefix: db.prefix, where: db.url });
}

/** Every key of this test's key space and what it holds, as text. */
async function dumpKeys(redis: Redis): Promise<string> {
  const lines: string[] = [];
  for (const key of await redis.keys(`${db.prefix}*`)) {
    const type = await redis.type(key);
    const value = type === 'hash' ? await redis.hgetall(key) : type === 'set' ? await redis.smembers(key) : await redis.get(key);
    lines.push(`${key} ${JSON.stringify(value)}`);
  }
  return lines.join('\n');
}

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('Redis user store', () => {
  it('registers a login that every node then finds, with its spelling and its password', async () => {
    const a = await node();
    const b = await node();

    expect(await a.register('Alice', 'secret1', '198.51.100.7')).toBe('registered');

    expect(await b.isRegistered('alice')).toBe(true);
    expect(await b.registeredLogin('ALICE')).toBe('Alice');
    expect(await b.verifyPassword('alice', 'secret1')).toBe(true);
    expect(await b.verifyPassword('alice', 'wrong')).toBe(false);
    expect(await b.verifyPassword('nobody', 'secret1')).toBe(false);
    expect(await b.registeredLogin('nobody')).toBeUndefined();
  });

  it('of two nodes registering one login at once, lets exactly one win', async () => {
    const [a, b] = await Promise.all([node(), node()]);

    const [byA, byB] = await Promise.all([a.register('bob', 'from-a-1', '10.0.0.1'), b.register('BOB', 'from-b-1', '10.0.0.2')]);

    expect([byA, byB].sort()).toEqual(['registered', 'taken']);
    // The winner's password is the one stored.
    expect(await a.verifyPassword('bob', 'from-a-1')).toBe(byA === 'registered');
    expect(await a.verifyPassword('bob', 'from-b-1')).toBe(byB === 'registered');
  });

  it('refuses a login that looks like a registered one on another node, even at the same moment', async () => {
    const [a, b] = await Promise.all([node(), node()]);

    // Latin "paypal" and one with a Cyrillic "а": the same confusable skeleton.
    const outcomes = await Promise.all([a.register('paypal', 'secret1', '10.0.0.1'), b.register('p\u0430ypal', 'secret1', '10.0.0.2')]);

    expect(outcomes.sort()).toEqual(['confusable', 'registered']);
  });

  it('keeps neither a login, an address nor a password in the clear', async () => {
    const a = await node();
    await a.register('bobbington', 'hunter22', '203.0.113.99');

    const dump = await dumpKeys(db.connect());
    for (const secret of ['bobbington', 'hunter22', '203.0.113.99']) expect(dump).not.toContain(secret);
    expect(dump).toMatch(/scrypt\$/);
  });

  it('changes a password for every node; a wrong current one changes nothing', async () => {
    const a = await node();
    const b = await node();
    await a.register('carol', 'old-secret', '10.0.0.1');

    expect(await b.changePassword('carol', 'not-it', 'new-secret')).toBe('wrong');
    expect(await a.verifyPassword('carol', 'old-secret')).toBe(true);
    expect(await b.changePassword('carol', 'old-secret', 'new-secret')).toBe('changed');

    expect(await a.verifyPassword('carol', 'new-secret')).toBe(true);
    expect(await a.verifyPassword('carol', 'old-secret')).toBe(false);
  });

  it('of two changes from the same current password on two nodes, makes exactly one', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    await a.register('dave', 'old-secret', '10.0.0.1');

    const [byA, byB] = await Promise.all([a.changePassword('dave', 'old-secret', 'by-node-a'), b.changePassword('dave', 'old-secret', 'by-node-b')]);

    expect([byA, byB].sort()).toEqual(['changed', 'wrong']);
    expect(await a.verifyPassword('dave', 'by-node-a')).toBe(byA === 'changed');
    expect(await a.verifyPassword('dave', 'by-node-b')).toBe(byB === 'changed');
    expect(await a.verifyPassword('dave', 'old-secret')).toBe(false);
  });

  it('deletes an account for every node: the login (and its look-alikes) can be registered anew', async () => {
    const a = await node();
    const b = await node();
    await a.register('paypal', 'secret1', '10.0.0.1');

    expect(await b.deleteUser('PAYPAL')).toBe(true);
    expect(await b.deleteUser('paypal')).toBe(false);

    expect(await a.isRegistered('paypal')).toBe(false);
    expect(await a.register('p\u0430ypal', 'secret2', '10.0.0.2')).toBe('registered');
  });

  it('counts the registrations, and forgets them all on clear', async () => {
    const a = await node();
    await a.register('erin', 'secret1', '10.0.0.1');
    await a.register('frank', 'secret1', '10.0.0.1');
    expect(a.count()).toBe(2);

    await a.clear();

    expect(a.count()).toBe(0);
    expect(await a.isRegistered('erin')).toBe(false);
    expect(await a.register('erin', 'secret2', '10.0.0.1')).toBe('registered');
    expect(await db.connect().keys(`${db.prefix}skeleton:*`)).toHaveLength(1);
  });

  it('refuses a node whose key is not the one the others use, with a line that says so', async () => {
    await (await node()).register('gina', 'secret1', '10.0.0.1');

    const other = node(keyringFromKey(randomBytes(32)));

    await expect(other).rejects.toBeInstanceOf(KeyMismatchError);
    await expect(other).rejects.toThrow(/every node must start with the same STATECHAT_KEY/);
  });

  it('answers "taken" for a login registered before, and "wrong" for a password change of nobody', async () => {
    const a = await node();
    await a.register('ivan', 'secret1', '10.0.0.1');

    expect(await a.register('IVAN', 'secret2', '10.0.0.2')).toBe('taken');
    expect(await a.verifyPassword('ivan', 'secret1')).toBe(true);
    expect(await a.changePassword('nobody', 'secret1', 'secret2')).toBe('wrong');
  });

  it('counts from what Redis holds: at open, after a deletion, and what other nodes registered', async () => {
    const a = await node();
    await a.register('erin', 'secret1', '10.0.0.1');
    await a.register('frank', 'secret1', '10.0.0.1');

    const b = await node();
    expect(b.count()).toBe(2);

    // Two registrations of one login on one node at once: one is counted.
    const outcomes = await Promise.all([b.register('gina', 'secret1', '10.0.0.1'), b.register('GINA', 'secret1', '10.0.0.1')]);
    expect(outcomes.sort()).toEqual(['registered', 'taken']);
    expect(b.count()).toBe(3);

    expect(await b.deleteUser('nobody')).toBe(false);
    expect(b.count()).toBe(3);
    expect(await b.deleteUser('erin')).toBe(true);
    expect(b.count()).toBe(2);
    expect((await node()).count()).toBe(2);

    // a last saw 2; its count() asks Redis for the next call, answered before a's next command.
    expect(a.count()).toBe(2);
    await a.register('hank', 'secret1', '10.0.0.1');
    expect(a.count()).toBe(3);
    expect(b.count()).toBe(2);
    await b.isRegistered('hank');
    expect(b.count()).toBe(3);
  });

  it('fails to open with a StorageError naming Redis when it cannot be reached', async () => {
    const gone = await db.startAnother();
    const redis = db.connect({ enableOfflineQueue: false }, gone.url);
    redis.on('error', () => {});
    await once(redis, 'ready');
    await gone.stop();

    const failure = openRedisUserStore({ redis, keyring, scrypt, prefix: db.prefix, where: gone.url });

    await expect(failure).rejects.toBeInstanceOf(StorageError);
    await expect(failure).rejects.toThrow(gone.url);
  });
});
