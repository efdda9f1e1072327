/**
 * Who is online in a cluster (the cluster issue): a login is online on at most one node.
 *
 *   <prefix>epoch               counter: each node start takes the next value (its epoch)
 *   <prefix>lease:<node id>     the node's epoch, with a time to live (3 s); renewed every second
 *   <prefix>online              hash: login_key → "<node id> <epoch> <login token>"
 *
 * A claim is a Lua script (run alone by Redis): it succeeds if nobody holds the login, or if its
 * holder's lease is gone or belongs to an older epoch of that node (the holder died, or restarted:
 * its users are gone with it). A node whose own lease has lapsed is fenced: it may not claim — it
 * may have been cut off while the others took over its users — and `renew` tells it so, so that it
 * kicks its own users. Releases and renewals apply only to the caller's own epoch, so a stale node
 * cannot undo what a live one did.
 *
 * The login is kept as an AES-GCM token (crypto.ts) beside the keyed index, as clients.csv keeps
 * it: `/who` across the cluster needs the spelling, a copy of Redis must not show it.
 */
import { Redis } from 'ioredis';
import type { Keyring } from './crypto.js';
import { asStorageError } from './errors.js';

export const LEASE_MS = 3_000;
export const RENEW_EVERY_MS = 1_000;

export type ClaimResult = 'claimed' | 'online elsewhere' | 'fenced';

export interface ClusterPresenceOptions {
  redis: Redis;
  keyring: Keyring;
  /** This node's name, unique in the cluster (host:port, or a random id). */
  nodeId: string;
  prefix?: string;
  /** How long a lease lives unless renewed. Default 3 s. */
  leaseMs?: number;
  where: string;
}

/**
 * Lua: whether `owner` ("<node> <epoch> …") holds a live lease — its node's lease key holds its
 * epoch. Shared by every script that must leave out what dead nodes left behind.
 */
export const OWNER_IS_LIVE = `
local function live(prefix, owner)
  local node, epoch = string.match(owner, '^(%S+) (%d+) ')
  if not node then return false end
  return redis.call('GET', prefix .. 'lease:' .. node) == epoch
end
`;

const CLAIM = `${OWNER_IS_LIVE}
if redis.call('GET', ARGV[1] .. 'lease:' .. ARGV[2]) ~= ARGV[3] then return 'fenced' end
local owner = redis.call('HGET', KEYS[1], ARGV[4])
if owner and live(ARGV[1], owner) then return 'online elsewhere' end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[5])
return 'claimed'
`;

/** The node holding a login with a live lease, or nil. */
const NODE_OF = `${OWNER_IS_LIVE}
local owner = redis.call('HGET', KEYS[1], ARGV[2])
if owner and live(ARGV[1], owner) then return string.match(owner, '^(%S+) ') end
return false
`;

const RELEASE = `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and string.sub(owner, 1, string.len(ARGV[2])) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end
return 0
`;

const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

const LEAVE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/** Lua: the login tokens of a hash's live entries (KEYS[1]; stale ones, of dead nodes, are left out). */
export const LIVE_TOKENS = `${OWNER_IS_LIVE}
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if live(ARGV[1], all[i + 1]) then
    local token = string.match(all[i + 1], '^%S+ %d+ (%S+)$')
    if token then table.insert(out, token) end
  end
end
return out
`;

export class ClusterPresence {
  private readonly prefix: string;
  private readonly leaseMs: number;
  private epoch = '';

  private constructor(private readonly opts: ClusterPresenceOptions) {
    this.prefix = opts.prefix ?? 'statechat:';
    this.leaseMs = opts.leaseMs ?? LEASE_MS;
  }

  /** Takes a new epoch and this node's lease. */
  static async join(opts: ClusterPresenceOptions): Promise<ClusterPresence> {
    const presence = new ClusterPresence(opts);
    await presence.rejoin();
    return presence;
  }

  /**
   * Takes a new epoch and lease: at start-up, and after this node's lease lapsed (its users are
   * gone; what it held under the old epoch stays fenced).
   */
  async rejoin(): Promise<void> {
    const { redis } = this.opts;
    await this.run(async () => {
      const epoch = String(await redis.incr(`${this.prefix}epoch`));
      await redis.set(this.leaseKey, epoch, 'PX', this.leaseMs);
      this.epoch = epoch;
    });
  }

  get nodeEpoch(): string {
    return this.epoch;
  }

  /** How long this node's lease lives unless renewed. */
  get leaseDurationMs(): number {
    return this.leaseMs;
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  /** How this node (this epoch) marks what it holds: "<node> <epoch> ". */
  get ownerTag(): string {
    return `${this.opts.nodeId} ${this.epoch} `;
  }

  private get leaseKey(): string {
    return `${this.prefix}lease:${this.opts.nodeId}`;
  }

  /** A command whose failure is a StorageError naming Redis (as a CSV store names its file). */
  private run<T>(command: () => Promise<T>): Promise<T> {
    return asStorageError(this.opts.where, command);
  }

  async claim(login: string): Promise<ClaimResult> {
    const { redis, keyring, nodeId } = this.opts;
    return (await this.run(() =>
      redis.eval(CLAIM, 1, `${this.prefix}online`, this.prefix, nodeId, this.epoch, keyring.loginKey(login), keyring.encrypt(login)),
    )) as ClaimResult;
  }

  /** The id of the node the login is signed in on, anywhere in the cluster (this node's too), or undefined. */
  async nodeOf(login: string): Promise<string | undefined> {
    const { redis, keyring } = this.opts;
    const node = await this.run(() => redis.eval(NODE_OF, 1, `${this.prefix}online`, this.prefix, keyring.loginKey(login)));
    return typeof node === 'string' ? node : undefined;
  }

  /** Gives the login up, if this node (this epoch) holds it. */
  async release(login: string): Promise<boolean> {
    const { redis, keyring } = this.opts;
    const released = await this.run(() => redis.eval(RELEASE, 1, `${this.prefix}online`, keyring.loginKey(login), this.ownerTag));
    return released === 1;
  }

  /** Extends the lease; false when it had lapsed (this node is fenced: it must kick its users). */
  async renew(): Promise<boolean> {
    const renewed = await this.run(() => this.opts.redis.eval(RENEW, 1, this.leaseKey, this.epoch, String(this.leaseMs)));
    return renewed === 1;
  }

  /** The logins online anywhere in the cluster (held by a live lease), in no particular order. */
  async logins(): Promise<string[]> {
    const tokens = (await this.run(() => this.opts.redis.eval(LIVE_TOKENS, 1, `${this.prefix}online`, this.prefix))) as string[];
    return tokens.map((token) => this.opts.keyring.decrypt(token));
  }

  /** Leaves the cluster: the lease goes, and with it every claim of this epoch. */
  async leave(): Promise<void> {
    await this.run(() => this.opts.redis.eval(LEAVE, 1, this.leaseKey, this.epoch));
  }
}
