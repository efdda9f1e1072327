/**
 * The UserStore of a cluster (`--cluster redis://…`, the cluster issue): one Redis hash per
 * registered login, shared by every node. Same secrets as the CSV store (user-store-csv.ts): the
 * key is the keyed login index (HMAC), the login and the address are AES-GCM tokens, the password
 * an scrypt hash — a copied dump tells neither who registered nor from where.
 *
 *   <prefix>user:<login_key>          hash  login, address, password, registered_at, skeleton
 *   <prefix>skeleton:<skeleton_key>   string → the login_key that has this confusable skeleton
 *   <prefix>users                     set of login_keys (the count, and `clear`)
 *   <prefix>keycheck                  a keyed hash of a constant: every node must hold the same key
 *
 * Each write that must see what another node wrote at the same moment is one Lua script (Redis
 * runs a script alone): of two nodes registering one login at once — or two that look alike —
 * exactly one wins; a password change applies only over the hash it checked.
 */
import { Redis } from 'ioredis';
import { hashPassword, verifyPassword, type Keyring, type ScryptParams } from './crypto.js';
import { asStorageError, KeyMismatchError, StorageError } from './errors.js';
import { skeletonKey } from './login-skeleton.js';
import type { PasswordChangeResult, RegistrationResult, UserStore } from './stores.js';

export const DEFAULT_PREFIX = 'statechat:';
/** What the key check hashes: any constant, as long as every node hashes the same one. */
const KEY_CHECK_INPUT = 'statechat key check v1';

export interface RedisUserStoreOptions {
  /** A connected client (the caller owns it: `close` does not quit it). */
  redis: Redis;
  keyring: Keyring;
  scrypt: ScryptParams;
  /** Prefix of every key (tests isolate themselves with their own). Default "statechat:". */
  prefix?: string;
  /** How Redis is named in errors (the URL without a password). */
  where: string;
}

const REGISTER = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'taken' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'confusable' end
redis.call('HSET', KEYS[1], 'login', ARGV[2], 'address', ARGV[3], 'password', ARGV[4], 'registered_at', ARGV[5], 'skeleton', ARGV[6])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 'registered'
`;

/** Sets the new hash only over the one the caller checked the current password against. */
const CHANGE_PASSWORD = `
if redis.call('HGET', KEYS[1], 'password') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'password', ARGV[2])
return 1
`;

const DELETE_USER = `
local skeleton = redis.call('HGET', KEYS[1], 'skeleton')
if not skeleton then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', ARGV[1] .. 'skeleton:' .. skeleton) == ARGV[2] then redis.call('DEL', ARGV[1] .. 'skeleton:' .. skeleton) end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
`;

const CLEAR = `
for _, loginKey in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local skeleton = redis.call('HGET', ARGV[1] .. 'user:' .. loginKey, 'skeleton')
  redis.call('DEL', ARGV[1] .. 'user:' .. loginKey)
  if skeleton then redis.call('DEL', ARGV[1] .. 'skeleton:' .. skeleton) end
end
redis.call('DEL', KEYS[1])
return 1
`;

/** A clients.csv record as stored (the login and address tokens, the scrypt hash), for `statechat migrate`. */
export interface StoredUserRecord {
  loginKey: string;
  login: string;
  address: string;
  password: string;
  registeredAt: string;
  skeleton: string;
}

/** Adds a record as it is stored elsewhere (nothing decrypted or hashed again), by the registration's own script. */
export async function importUserRecord(redis: Redis, prefix: string, where: string, r: StoredUserRecord): Promise<RegistrationResult> {
  return (await asStorageError(where, () =>
    redis.eval(REGISTER, 3, `${prefix}user:${r.loginKey}`, `${prefix}skeleton:${r.skeleton}`, `${prefix}users`, r.loginKey, r.login, r.address, r.password, r.registeredAt, r.skeleton),
  )) as RegistrationResult;
}

/**
 * Checks (or, on a Redis no node has used yet, sets) the key check, then answers. A node whose key
 * differs is refused with KeyMismatchError: it could read none of the records.
 */
export async function openRedisUserStore(opts: RedisUserStoreOptions): Promise<UserStore> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const { redis, keyring, where } = opts;
  const check = keyring.loginKey(KEY_CHECK_INPUT);
  let count: number;
  try {
    await redis.set(`${prefix}keycheck`, check, 'NX');
    const stored = await redis.get(`${prefix}keycheck`);
    if (stored !== check) {
      throw new KeyMismatchError(`the key does not match the one the cluster at ${where} uses: every node must start with the same STATECHAT_KEY or key file`);
    }
    count = await redis.scard(`${prefix}users`);
  } catch (err) {
    if (err instanceof KeyMismatchError) throw err;
    throw new StorageError(where, err);
  }
  return new RedisUserStore(redis, keyring, opts.scrypt, prefix, where, count);
}

class RedisUserStore implements UserStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyring: Keyring,
    private readonly scrypt: ScryptParams,
    private readonly prefix: string,
    private readonly where: string,
    /** The number of registrations as this node last saw it (count() must answer at once). */
    private known: number,
  ) {}

  private userKey(login: string): string {
    return `${this.prefix}user:${this.keyring.loginKey(login)}`;
  }

  /** A command whose failure is a StorageError naming Redis (as a CSV store names its file). */
  private run<T>(command: () => Promise<T>): Promise<T> {
    return asStorageError(this.where, command);
  }

  async isRegistered(login: string): Promise<boolean> {
    return (await this.run(() => this.redis.exists(this.userKey(login)))) === 1;
  }

  async registeredLogin(login: string): Promise<string | undefined> {
    const token = await this.run(() => this.redis.hget(this.userKey(login), 'login'));
    return token === null ? undefined : this.keyring.decrypt(token);
  }

  async verifyPassword(login: string, password: string): Promise<boolean> {
    const hash = await this.run(() => this.redis.hget(this.userKey(login), 'password'));
    return hash === null ? false : verifyPassword(password, hash);
  }

  async register(login: string, password: string, remoteAddress: string): Promise<RegistrationResult> {
    const loginKey = this.keyring.loginKey(login);
    const skeleton = skeletonKey(this.keyring, login);
    // A loser answers without scrypt when the login is visibly taken already.
    if (await this.isRegistered(login)) return 'taken';
    const hash = await hashPassword(password, this.scrypt);
    const outcome = (await this.run(() =>
      this.redis.eval(
        REGISTER,
        3,
        `${this.prefix}user:${loginKey}`,
        `${this.prefix}skeleton:${skeleton}`,
        `${this.prefix}users`,
        loginKey,
        this.keyring.encrypt(login),
        this.keyring.encrypt(remoteAddress),
        hash,
        new Date().toISOString(),
        skeleton,
      ),
    )) as RegistrationResult;
    if (outcome === 'registered') this.known++;
    return outcome;
  }

  async changePassword(login: string, current: string, next: string): Promise<PasswordChangeResult> {
    const key = this.userKey(login);
    for (;;) {
      const checked = await this.run(() => this.redis.hget(key, 'password'));
      if (checked === null || !(await verifyPassword(current, checked))) return 'wrong';
      const hash = await hashPassword(next, this.scrypt);
      const changed = await this.run(() => this.redis.eval(CHANGE_PASSWORD, 1, key, checked, hash));
      if (changed === 1) return 'changed';
      // Changed by someone else since it was checked: check the current password again.
    }
  }

  async deleteUser(login: string): Promise<boolean> {
    const loginKey = this.keyring.loginKey(login);
    const deleted = await this.run(() =>
      this.redis.eval(DELETE_USER, 2, `${this.prefix}user:${loginKey}`, `${this.prefix}users`, this.prefix, loginKey),
    );
    if (deleted === 1) this.known = Math.max(0, this.known - 1);
    return deleted === 1;
  }

  async clear(): Promise<void> {
    await this.run(() => this.redis.eval(CLEAR, 1, `${this.prefix}users`, this.prefix));
    this.known = 0;
  }

  count(): number {
    // Refreshed for the next call: other nodes register too.
    this.redis.scard(`${this.prefix}users`).then(
      (n) => (this.known = n),
      () => undefined,
    );
    return this.known;
  }

  async close(): Promise<void> {}
}
