/**
 * Connecting a node to the cluster's Redis (the cluster issue): the URL as the user gave it
 * (`redis://host:port[/db]`, a password allowed), named in logs and errors without its password,
 * and the start-up check of Redis's persistence: statechat acknowledges a message once Redis has
 * it, so what Redis would lose in a crash is what users were told was sent.
 */
import { Redis } from 'ioredis';
import { StatechatError } from './errors.js';

/**
 * The URL without its password, for logs and errors. A user name without a password is masked
 * too: older clients read `redis://secret@host` as the password.
 */
export function redisUrlForLog(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    else if (parsed.username) parsed.username = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(an unparsable Redis URL)';
  }
}

/** Why `url` is no Redis URL statechat can use, or undefined. */
export function redisUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL; expected redis://host:port[/db]`;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `"${redisUrlForLog(url)}" is not a redis:// or rediss:// URL`;
  if (!parsed.hostname) return `"${redisUrlForLog(url)}" has no host`;
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) return `"${redisUrlForLog(url)}": the database must be a number (redis://host:port/0)`;
  return undefined;
}

export class RedisUnreachableError extends StatechatError {
  constructor(url: string, cause: unknown) {
    super('STATECHAT_ERR_REDIS', `cannot reach Redis at ${redisUrlForLog(url)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * A connected client, or RedisUnreachableError within `timeoutMs`. Commands sent while the
 * connection is down later fail at once (no offline queue): the caller decides what to tell users.
 */
export async function connectRedis(url: string, timeoutMs = 5_000): Promise<Redis> {
  const problem = redisUrlProblem(url);
  if (problem) throw new RedisUnreachableError(url, new Error(problem));
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 1, enableOfflineQueue: false, enableAutoPipelining: true });
  // A lost connection is reported by the commands that fail; ioredis reconnects by itself.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new RedisUnreachableError(url, err);
  }
  return redis;
}

/**
 * What a crash of Redis could lose of what users were told was sent, as a line for the log, or
 * undefined when nothing (`appendonly yes` with `appendfsync always`).
 */
export async function persistenceWarning(redis: Redis): Promise<string | undefined> {
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  try {
    const [, only] = (await redis.config('GET', 'appendonly')) as string[];
    const [, fsync] = (await redis.config('GET', 'appendfsync')) as string[];
    appendonly = only;
    appendfsync = fsync;
  } catch {
    return 'warning: cannot read Redis\'s persistence settings (CONFIG GET is not allowed): acknowledged messages may be lost if Redis crashes unless it runs with appendonly yes and appendfsync always';
  }
  if (appendonly !== 'yes') {
    return 'warning: Redis runs without its append-only file (appendonly no): acknowledged messages since the last snapshot are lost if Redis crashes; set appendonly yes and appendfsync always';
  }
  if (appendfsync === 'everysec') {
    return 'warning: Redis syncs its append-only file once a second (appendfsync everysec): up to 1 s of acknowledged messages is lost if the Redis machine crashes; appendfsync always makes acknowledged = durable';
  }
  if (appendfsync !== 'always') {
    return `warning: Redis leaves syncing its append-only file to the OS (appendfsync ${appendfsync}): acknowledged messages may be lost if the Redis machine crashes; appendfsync always makes acknowledged = durable`;
  }
  return undefined;
}
