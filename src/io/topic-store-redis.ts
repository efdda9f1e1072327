/**
 * The TopicStore of a cluster (the cluster issue): one Redis hash, `<prefix>topics`, room key →
 * the topic as JSON (`text`, `by`, `at`). Read whole at open, like topics.csv; `set` resolves once
 * Redis has the change. What another node sets reaches this one's rooms through the room's stream
 * (the tail), not through `all()`, which answers from what this node loaded and set.
 */
import { Redis } from 'ioredis';
import { ROOM_PATTERN, roomKey } from '../machines/protocol.js';
import { StorageError } from './errors.js';
import { isIsoTimestamp } from './history-store-csv.js';
import type { Topic, TopicStore } from './stores.js';

export interface RedisTopicStoreOptions {
  redis: Redis;
  prefix?: string;
  where: string;
  /** Told of a field that is not a topic (damage): it is left out. */
  onDamaged?: (room: string, reason: string) => void;
}

export async function openRedisTopicStore(opts: RedisTopicStoreOptions): Promise<TopicStore> {
  const key = `${opts.prefix ?? 'statechat:'}topics`;
  let fields: Record<string, string>;
  try {
    fields = await opts.redis.hgetall(key);
  } catch (err) {
    throw new StorageError(opts.where, err);
  }
  const topics = new Map<string, Topic>();
  for (const [room, json] of Object.entries(fields)) {
    const topic = parseTopic(json);
    if (!ROOM_PATTERN.test(room)) opts.onDamaged?.(room, 'not a room name');
    else if (typeof topic === 'string') opts.onDamaged?.(room, topic);
    else topics.set(roomKey(room), topic);
  }
  return new RedisTopicStore(opts.redis, key, opts.where, topics);
}

/**
 * A room's topic as Redis has it now (undefined: none; a damaged one is left out, as at open): a
 * room that starts on a node after another node set its topic reads it here, not from `all()`.
 */
export async function readRedisTopic(opts: Pick<RedisTopicStoreOptions, 'redis' | 'prefix' | 'where'>, room: string): Promise<Topic | undefined> {
  let json: string | null;
  try {
    json = await opts.redis.hget(`${opts.prefix ?? 'statechat:'}topics`, roomKey(room));
  } catch (err) {
    throw new StorageError(opts.where, err);
  }
  if (json === null) return undefined;
  const topic = parseTopic(json);
  return typeof topic === 'string' ? undefined : topic;
}

/** A topic as stored (JSON: text, by, at), or why it is not one. Also what a topic notice in a room's stream carries. */
export function parseTopic(json: string): Topic | string {
  let value: Partial<Topic>;
  try {
    value = JSON.parse(json) as Partial<Topic>;
  } catch {
    return 'not JSON';
  }
  if (value === null || typeof value !== 'object') return 'not a JSON object';
  if (typeof value.text !== 'string' || typeof value.by !== 'string') return 'no text or setter';
  if (typeof value.at !== 'string' || !isIsoTimestamp(value.at)) return 'at is not an ISO 8601 date-time';
  return { text: value.text, by: value.by, at: value.at };
}

class RedisTopicStore implements TopicStore {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly where: string,
    private readonly topics: Map<string, Topic>,
  ) {}

  all(): ReadonlyMap<string, Topic> {
    return this.topics;
  }

  async set(room: string, topic: Topic | undefined): Promise<void> {
    if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) throw new TypeError(`topics: room must be a room name, got ${String(room)}`);
    const name = roomKey(room);
    try {
      if (topic === undefined) await this.redis.hdel(this.key, name);
      else await this.redis.hset(this.key, name, JSON.stringify({ text: topic.text, by: topic.by, at: topic.at }));
    } catch (err) {
      throw new StorageError(this.where, err);
    }
    if (topic === undefined) this.topics.delete(name);
    else this.topics.set(name, { text: topic.text, by: topic.by, at: topic.at });
  }

  async close(): Promise<void> {}
}
