/**
 * The OfflineMessageStore of a cluster (`--cluster redis://…`, the cluster issue): one Redis list
 * per recipient, `<prefix>offline:<login_key>`, of tokens sealed as offline.csv's are
 * (waiting-message-token.ts: sender, time and text encrypted, tied to the recipient).
 *
 * `leave` checks the limit and appends in one Lua script, so two nodes leaving the 50th and 51st
 * message at once store exactly one. `deliver` reads the list, hands it over, and then removes only
 * the entries it handed over (`LTRIM` from their count): a message another node appended
 * meanwhile stays for the next sign-in, never lost.
 */
import { Redis } from 'ioredis';
import type { Keyring } from './crypto.js';
import { asStorageError } from './errors.js';
import type { LeaveResult, OfflineMessageStore, WaitingMessage } from './stores.js';
import { sealWaiting, unsealWaiting } from './waiting-message-token.js';

export interface RedisOfflineStoreOptions {
  /** A connected client (the caller owns it: `close` does not quit it). */
  redis: Redis;
  keyring: Keyring;
  maxPerUser: number;
  /** Prefix of every key. Default "statechat:". */
  prefix?: string;
  /** How Redis is named in errors (the URL without a password). */
  where: string;
  /** Told of a token that is not a message for its list (damage): it is skipped, and removed with the rest. */
  onDamaged?: (reason: string) => void;
}

const LEAVE = `
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
`;

const CLEAR = `
for _, list in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('DEL', list) end
redis.call('DEL', KEYS[1])
return 1
`;

/** Adds a waiting message's token as offline.csv stores it (for `statechat migrate`); false when the recipient's list is full. */
export async function importWaitingToken(opts: Pick<RedisOfflineStoreOptions, 'redis' | 'prefix' | 'where' | 'maxPerUser'>, toKey: string, token: string): Promise<boolean> {
  const prefix = opts.prefix ?? 'statechat:';
  const stored = await asStorageError(opts.where, () => opts.redis.eval(LEAVE, 2, `${prefix}offline:${toKey}`, `${prefix}offline`, String(opts.maxPerUser), token));
  return stored === 1;
}

export function openRedisOfflineStore(opts: RedisOfflineStoreOptions): OfflineMessageStore {
  return new RedisOfflineStore(opts);
}

class RedisOfflineStore implements OfflineMessageStore {
  private readonly prefix: string;

  constructor(private readonly opts: RedisOfflineStoreOptions) {
    this.prefix = opts.prefix ?? 'statechat:';
  }

  private listOf(login: string): { key: string; toKey: string } {
    const toKey = this.opts.keyring.loginKey(login);
    return { key: `${this.prefix}offline:${toKey}`, toKey };
  }

  /** A command whose failure is a StorageError naming Redis (as a CSV store names its file). */
  private run<T>(command: () => Promise<T>): Promise<T> {
    return asStorageError(this.opts.where, command);
  }

  async leave(to: string, message: WaitingMessage): Promise<LeaveResult> {
    const { key, toKey } = this.listOf(to);
    const token = sealWaiting(this.opts.keyring, toKey, message);
    const stored = await this.run(() => this.opts.redis.eval(LEAVE, 2, key, `${this.prefix}offline`, String(this.opts.maxPerUser), token));
    return stored === 1 ? 'stored' : 'full';
  }

  async deliver(login: string, to: (messages: readonly WaitingMessage[]) => boolean): Promise<void> {
    const { key, toKey } = this.listOf(login);
    const tokens = await this.run(() => this.opts.redis.lrange(key, 0, -1));
    if (tokens.length === 0) return;
    const messages: WaitingMessage[] = [];
    for (const token of tokens) {
      const message = unsealWaiting(this.opts.keyring, token, toKey);
      if (typeof message === 'string') this.opts.onDamaged?.(message);
      else messages.push(message);
    }
    if (messages.length > 0 && !to(messages)) return;
    // Only those read: whatever was appended since stays.
    await this.run(() => this.opts.redis.ltrim(key, tokens.length, -1));
  }

  async forget(login: string): Promise<void> {
    await this.run(() => this.opts.redis.del(this.listOf(login).key));
  }

  async clear(): Promise<void> {
    await this.run(() => this.opts.redis.eval(CLEAR, 1, `${this.prefix}offline`));
  }

  async close(): Promise<void> {}
}
