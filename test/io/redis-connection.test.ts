/**
 * Connecting to the cluster's Redis: URLs checked and named without their password, a clear error
 * when Redis is not there, and the start-up warning about what a Redis crash could lose — read
 * from a real redis-server whose settings the test changes.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { connectRedis, persistenceWarning, RedisUnreachableError, redisUrlForLog, redisUrlProblem } from '../../src/io/redis-connection.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';

const db = useRedis();

describe('Redis URLs', () => {
  it('accepts redis:// and rediss:// with a host, a port and a database number', () => {
    expect(redisUrlProblem('redis://127.0.0.1:6379')).toBeUndefined();
    expect(redisUrlProblem('redis://:pw@redis.example:6380/2')).toBeUndefined();
    expect(redisUrlProblem('rediss://redis.example')).toBeUndefined();
  });

  it('says what is wrong with anything else, never showing a password', () => {
    expect(redisUrlProblem('localhost:6379')).toMatch(/redis:\/\/ or rediss:\/\//);
    expect(redisUrlProblem('not a url')).toMatch(/not a URL/);
    expect(redisUrlProblem('http://secret@x')).not.toContain('secret');
    expect(redisUrlProblem('redis://:hunter2@x:1/db')).toMatch(/database must be a number/);
    expect(redisUrlProblem('redis://:hunter2@x:1/db')).not.toContain('hunter2');
  });

  it('names a URL in logs without its password', () => {
    expect(redisUrlForLog('redis://:hunter2@redis.example:6380/2')).toBe('redis://:***@redis.example:6380/2');
    expect(redisUrlForLog('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redisUrlForLog('redis://hunter2@redis.example')).toBe('redis://***@redis.example');
    expect(redisUrlForLog('redis://redis.example:6380/')).toBe('redis://redis.example:6380');
    expect(redisUrlForLog('not a url')).toBe('(an unparsable Redis URL)');
  });

  it('wants a host, and a database of one or two digits', () => {
    expect(redisUrlProblem('redis:///0')).toMatch(/has no host/);
    expect(redisUrlProblem('redis://x:1/12')).toBeUndefined();
    expect(redisUrlProblem('redis://x:1/')).toBeUndefined();
    for (const db of ['a1', '1a', '123']) expect(redisUrlProblem(`redis://x:1/${db}`)).toMatch(/database must be a number/);
  });
});

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('connecting to Redis', () => {
  it('connects to a running Redis', async () => {
    const redis = await connectRedis(db.url);
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('fails with one clear error, without the password, when nothing listens there', async () => {
    const gone = await db.startAnother();
    await gone.stop();
    const url = `redis://:hunter2@127.0.0.1:${gone.port}`;

    const failure = await connectRedis(url, 1_000).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(RedisUnreachableError);
    expect(String((failure as Error).message)).toMatch(new RegExp(`cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${gone.port}`));
    expect(String((failure as Error).message)).not.toContain('hunter2');
  });

  it('warns at start-up about what a Redis crash could lose, unless appendonly yes and appendfsync always', async () => {
    const other = await db.startAnother();
    const admin = db.connect({}, other.url);

    expect(await persistenceWarning(admin)).toBeUndefined();

    await admin.config('SET', 'appendfsync', 'everysec');
    expect(await persistenceWarning(admin)).toMatch(/up to 1 s of acknowledged messages/);

    await admin.config('SET', 'appendfsync', 'no');
    expect(await persistenceWarning(admin)).toMatch(/appendfsync no/);

    await admin.config('SET', 'appendonly', 'no');
    expect(await persistenceWarning(admin)).toMatch(/appendonly no/);
  });

  it('refuses a URL it cannot use before connecting, with the reason, its code and its cause', async () => {
    const failure = await connectRedis('http://127.0.0.1:1', 1_000).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(RedisUnreachableError);
    expect((failure as RedisUnreachableError).code).toBe('STATECHAT_ERR_REDIS');
    expect((failure as Error).message).toMatch(/not a redis:\/\/ or rediss:\/\/ URL/);
    expect(((failure as Error).cause as Error).message).toMatch(/not a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('fails a command at once while the connection is down, rather than queueing it', async () => {
    const other = await db.startAnother();
    const redis = await connectRedis(other.url);
    try {
      const closed = once(redis, 'close');
      await other.stop();
      await closed;

      await expect(redis.ping()).rejects.toThrow(/enableOfflineQueue/);
    } finally {
      redis.disconnect();
    }
  });

  it('warns when it cannot read the persistence settings (CONFIG not allowed)', async () => {
    const admin = db.connect();
    await admin.acl('SETUSER', 'noconfig', 'on', '>pw', '~*', '+@all', '-config');
    try {
      const limited = db.connect({ username: 'noconfig', password: 'pw' });

      expect(await persistenceWarning(limited)).toMatch(/cannot read Redis's persistence settings/);
    } finally {
      await admin.acl('DELUSER', 'noconfig');
    }
  });
});
