/**
 * Who is in which room, across the cluster (the cluster issue: `/names`, `/rooms` and the
 * console's `rooms` cluster-wide). One hash per room, `<prefix>members:<room>`: login_key →
 * "<node> <epoch> <login token>", and the set `<prefix>rooms` of rooms that have members. Members
 * of a node whose lease is gone are left out (and their entries dropped), as presence does: a dead
 * node's users are not in any room. Each node still keeps its own members in memory for
 * delivery (RoomState); this is only for the lists.
 */
import type { Redis } from 'ioredis';
import type { Keyring } from './crypto.js';
import { asStorageError } from './errors.js';
import { type ClusterPresence, LIVE_TOKENS, OWNER_IS_LIVE } from './presence-redis.js';
import { roomKey } from '../machines/protocol.js';

export interface ClusterRoomsOptions {
  redis: Redis;
  keyring: Keyring;
  /** This node's presence: its id and epoch mark the members it adds. */
  presence: ClusterPresence;
  prefix?: string;
  where: string;
}

const LEAVE = `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and string.sub(owner, 1, string.len(ARGV[2])) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return 1
`;

/** Every room with its live member count, flat ([room, n, room, n…]); rooms left with none are forgotten. */
const ROOMS = `${OWNER_IS_LIVE}
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. 'members:' .. room
  local all = redis.call('HGETALL', key)
  local n = 0
  for i = 1, #all, 2 do
    if live(ARGV[1], all[i + 1]) then n = n + 1 else redis.call('HDEL', key, all[i]) end
  end
  if n == 0 then redis.call('SREM', KEYS[1], room) else table.insert(out, room) table.insert(out, n) end
end
return out
`;

export class ClusterRooms {
  private readonly prefix: string;

  constructor(private readonly opts: ClusterRoomsOptions) {
    this.prefix = opts.prefix ?? 'statechat:';
  }

  private membersKey(room: string): string {
    return `${this.prefix}members:${roomKey(room)}`;
  }

  /** A command whose failure is a StorageError naming Redis (as a CSV store names its file). */
  private run<T>(command: () => Promise<T>): Promise<T> {
    return asStorageError(this.opts.where, command);
  }

  async join(room: string, login: string): Promise<void> {
    const { redis, keyring, presence } = this.opts;
    await this.run(() =>
      redis
        .multi()
        .hset(this.membersKey(room), keyring.loginKey(login), `${presence.ownerTag}${keyring.encrypt(login)}`)
        .sadd(`${this.prefix}rooms`, roomKey(room))
        .exec(),
    );
  }

  /** Only this node's (this epoch's) membership: a stale node cannot remove a live one's member. */
  async leave(room: string, login: string): Promise<void> {
    const { redis, keyring, presence } = this.opts;
    await this.run(() => redis.eval(LEAVE, 2, this.membersKey(room), `${this.prefix}rooms`, keyring.loginKey(login), presence.ownerTag, roomKey(room)));
  }

  /** The room's members on every live node, in no particular order. */
  async names(room: string): Promise<string[]> {
    const tokens = (await this.run(() => this.opts.redis.eval(LIVE_TOKENS, 1, this.membersKey(room), this.prefix))) as string[];
    return tokens.map((token) => this.opts.keyring.decrypt(token));
  }

  /** Every room with members on a live node, and how many. */
  async rooms(): Promise<{ name: string; size: number }[]> {
    const flat = (await this.run(() => this.opts.redis.eval(ROOMS, 1, `${this.prefix}rooms`, this.prefix))) as (string | number)[];
    const rooms: { name: string; size: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) rooms.push({ name: String(flat[i]), size: Number(flat[i + 1]) });
    return rooms;
  }
}
