/**
 * The HistoryStore of a cluster (`--cluster redis://…`, the cluster issue), and the room log it is
 * part of: one Redis Stream per room, `<prefix>room:<room key>`. The entry ID Redis gives an
 * `XADD` is the room's order, the same for every node; `append` resolves only once the `XADD` has
 * returned, so a message is acknowledged (delivered anywhere) only once Redis has it — durable as
 * far as Redis's `appendfsync` makes it (`always`: acknowledged = on disk).
 *
 * Everything a room's members see is an entry (docs/cluster.md), told apart by `kind`: a `post`
 * (a chat message: what history is), a `join` (where a member's replay ends and their live
 * delivery starts) and a `notice` (a line such as a leave or a topic change). Entries carry the
 * node and connection they came from, so that no node delivers a post back to its sender. An
 * entry without `kind` is a post (as entries were written before kinds).
 *
 * Replay and /history want posts only, so `recent` pages back past the other kinds until it has
 * enough. Trimming keeps at least `retain` posts (10,000 by default, never fewer than `keep`)
 * however many other entries come between: the script marks every `retain / 100`-th post and
 * trims the entries before the oldest of ~100 marks (`XTRIM MINID ~`, Redis's cheap approximate
 * trim, which keeps more rather than less) — O(1) per post, and far behind any node's tail. Group
 * commit is ioredis's auto pipelining: the appends of one event-loop turn go out in one write.
 */
import { Redis } from 'ioredis';
import { roomKey } from '../machines/protocol.js';
import { StorageError } from './errors.js';
import { parseTopic } from './topic-store-redis.js';
import type { ChatMessage, HistoryStore, Topic } from './stores.js';

export interface RedisHistoryStoreOptions {
  /** A connected client (the caller owns it: `close` does not quit it). */
  redis: Redis;
  /** The fewest messages each room keeps (the longest replay or /history). */
  keep: number;
  /**
   * The fewest posts each room's stream keeps (at least `keep`; default DEFAULT_RETAINED_POSTS):
   * a node's tail that lags behind by fewer entries than this finds none of them trimmed away.
   */
  retain?: number;
  /** Prefix of every key. Default "statechat:". */
  prefix?: string;
  /** How Redis is named in errors (the URL without a password). */
  where: string;
}

/** The history store of a cluster, with what the room log adds: entries other than posts, and replays that end at a join. */
export interface RoomLog extends HistoryStore {
  /** Appends an entry to `room`'s log; resolves with its ID (its place in the room's order) once Redis has it. */
  appendEntry(room: string, entry: RoomLogEntry): Promise<string>;
  /** The newest `limit` posts of `room` before the entry `id` (before all: undefined), oldest first. */
  postsBefore(room: string, id: string | undefined, limit: number): Promise<ChatMessage[]>;
  /** The same up to and with the entry `id`: a tail started after `id` goes on from there without a gap or a double. */
  postsThrough(room: string, id: string, limit: number): Promise<ChatMessage[]>;
  /** The ID of the room's newest entry; "0-0" for a room with none. */
  lastEntryId(room: string): Promise<string>;
  /** The same, with that entry's number in the room (`seq`; 0 for none, undefined for an entry written before numbers). */
  lastEntry(room: string): Promise<{ id: string; seq: number | undefined }>;
}

/**
 * Posts a room's stream keeps by default: far more than a replay reads, so that trimming never
 * takes what a node's tail has not read yet — a tail lagging 10,000 posts behind is a node that
 * has stalled for seconds (and whose lease lapses: its users are signed out, its rooms read anew).
 */
export const DEFAULT_RETAINED_POSTS = 10_000;

export function openRedisHistoryStore(opts: RedisHistoryStoreOptions): RoomLog {
  return new RedisHistoryStore(opts.redis, Math.max(1, opts.keep, opts.retain ?? DEFAULT_RETAINED_POSTS), opts.prefix ?? 'statechat:', opts.where);
}

/** The key of a room's stream. */
export function roomStreamKey(prefix: string, room: string): string {
  return `${prefix}room:${roomKey(room)}`;
}

/** Where an entry came from: the node, and the connection on it (none for the server's own). */
export interface EntryOrigin {
  node: string;
  conn?: string;
}

/** What a room's log holds (see the top of this file). `pid`: the post's id on its node, to know it again if the XADD's answer was lost. */
export type RoomLogEntry =
  | ({ kind: 'post'; message: ChatMessage; pid?: string } & Partial<EntryOrigin>)
  | ({ kind: 'join'; at: string; login: string } & EntryOrigin)
  /** `topic`: the room's new topic, when the notice announces one (other nodes' rooms take it). */
  | ({ kind: 'notice'; at: string; line: string; topic?: Topic } & EntryOrigin);

/** An entry's fields as XADD takes them. */
export function fieldsOfEntry(entry: RoomLogEntry): string[] {
  const origin = entry.node === undefined ? [] : entry.conn === undefined ? ['node', entry.node] : ['node', entry.node, 'conn', entry.conn];
  switch (entry.kind) {
    case 'post':
      return ['kind', 'post', 'at', entry.message.at, 'login', entry.message.login, 'text', entry.message.text, ...origin, ...(entry.pid === undefined ? [] : ['pid', entry.pid])];
    case 'join':
      return ['kind', 'join', 'at', entry.at, 'login', entry.login, ...origin];
    case 'notice':
      return ['kind', 'notice', 'at', entry.at, 'line', entry.line, ...origin, ...(entry.topic ? ['topic', JSON.stringify(entry.topic)] : [])];
  }
}

/** A stream entry's fields as Redis returns them ([name, value, name, value…]) → the entry, or why not. */
export function entryOfFields(room: string, fields: readonly string[]): RoomLogEntry | string {
  const value = (name: string) => fieldOf(fields, name);
  const kind = value('kind') ?? 'post';
  const at = value('at');
  const node = value('node');
  const conn = value('conn');
  const origin = { ...(node === undefined ? {} : { node }), ...(conn === undefined ? {} : { conn }) };
  if (at === undefined) return 'an entry without at';
  if (kind === 'post') {
    const login = value('login');
    const text = value('text');
    if (login === undefined || text === undefined) return 'a post without login or text';
    const pid = value('pid');
    return { kind, message: { at, room: roomKey(room), login, text }, ...origin, ...(pid === undefined ? {} : { pid }) };
  }
  if (kind !== 'join' && kind !== 'notice') return `an entry of an unknown kind (${kind})`;
  if (node === undefined) return `a ${kind} without node`;
  if (kind === 'join') {
    const login = value('login');
    return login === undefined ? 'a join without login' : { kind, at, login, node, ...(conn === undefined ? {} : { conn }) };
  }
  const line = value('line');
  if (line === undefined) return 'a notice without line';
  const topic = topicOf(value('topic'));
  if (topic === null) return 'a notice whose topic is not one';
  return { kind, at, line, node, ...(conn === undefined ? {} : { conn }), ...(topic ? { topic } : {}) };
}

/** A notice's `topic` field: undefined when there is none, null when it is not a topic (damage). */
function topicOf(json: string | undefined): Topic | undefined | null {
  if (json === undefined) return undefined;
  const topic = parseTopic(json);
  return typeof topic === 'string' ? null : topic;
}

/** A field of a stream entry ([name, value, name, value…] as Redis returns them), or undefined. */
export function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * An entry's number in its room (1, 2, 3…, given by the append script): a reader that finds one
 * missing knows entries were trimmed before it read them. Undefined for entries from before numbers.
 */
export function seqOfFields(fields: readonly string[]): number | undefined {
  const seq = Number(fieldOf(fields, 'seq'));
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

/** A stream entry's fields → the chat message it holds; why not, for anything but a well-formed post. */
export function messageOfEntry(room: string, fields: readonly string[]): ChatMessage | string {
  const entry = entryOfFields(room, fields);
  if (typeof entry === 'string') return entry;
  return entry.kind === 'post' ? entry.message : `a ${entry.kind}, not a post`;
}

/**
 * Appends an entry, and trims the stream in O(1): KEYS[1] the stream, KEYS[2] a hash of each
 * room's posts since its last mark, KEYS[3] the room's marks (the IDs of every `every`-th post,
 * newest first); ARGV[1] how many marks to keep, ARGV[2] the room, ARGV[3] `every`, then the
 * entry's fields (ARGV[4] 'kind', ARGV[5] its kind). Once there is a mark more than kept, the
 * entries before the oldest mark go (`XTRIM MINID ~`, which keeps more rather than less): the
 * stream keeps at least marks × every posts, however many other entries come between.
 */
const APPEND = `
local fields = { unpack(ARGV, 4) }
table.insert(fields, 'seq')
table.insert(fields, redis.call('HINCRBY', KEYS[4], ARGV[2], 1))
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
if ARGV[5] ~= 'post' then return id end
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) < tonumber(ARGV[3]) then return id end
redis.call('HSET', KEYS[2], ARGV[2], 0)
redis.call('LPUSH', KEYS[3], id)
if redis.call('LLEN', KEYS[3]) > tonumber(ARGV[1]) then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', redis.call('RPOP', KEYS[3]))
end
return id
`;

class RedisHistoryStore implements RoomLog {
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly redis: Redis,
    /** The fewest posts a room's stream keeps (`retain`, at least `keep`). */
    private readonly retain: number,
    private readonly prefix: string,
    private readonly where: string,
  ) {}

  append(message: ChatMessage): Promise<void> {
    return this.appendEntry(message.room, { kind: 'post', message }).then(() => undefined);
  }

  /** Appends an entry to `room`'s log; resolves with its ID (its place in the room's order) once Redis has it. */
  appendEntry(room: string, entry: RoomLogEntry): Promise<string> {
    if (this.closed) return Promise.reject(new StorageError(this.where, new Error('the history store is closed')));
    const key = roomKey(room);
    // A mark every `every` posts, at most ~100 marks a room: the list stays short however much is retained.
    const every = Math.ceil(this.retain / 100);
    const marks = Math.ceil(this.retain / every);
    const adding = (
      this.redis.eval(
        APPEND,
        4,
        roomStreamKey(this.prefix, key),
        `${this.prefix}posts-since-trim`,
        `${this.prefix}trim-marks:${key}`,
        `${this.prefix}room-seq`,
        String(marks),
        key,
        String(every),
        ...fieldsOfEntry(entry),
      ) as Promise<string>
    ).then(
      (id) => id,
      (err: unknown) => {
        throw new StorageError(this.where, err);
      },
    );
    this.pending.add(adding);
    void adding.finally(() => this.pending.delete(adding)).catch(() => undefined);
    return adding;
  }

  recent(room: string, limit: number): Promise<ChatMessage[]> {
    return this.postsBefore(room, undefined, limit);
  }

  /**
   * The newest `limit` posts of `room` before the entry `id` (all of them: undefined), oldest
   * first: a welcome's replay, which ends where the member's join entry is. Pages back past the
   * other kinds of entry; an entry not written by statechat (by hand, another tool) is skipped.
   */
  postsBefore(room: string, id: string | undefined, limit: number): Promise<ChatMessage[]> {
    return this.postsFrom(room, id === undefined ? '+' : `(${id}`, limit);
  }

  postsThrough(room: string, id: string, limit: number): Promise<ChatMessage[]> {
    return this.postsFrom(room, id, limit);
  }

  async lastEntryId(room: string): Promise<string> {
    return (await this.lastEntry(room)).id;
  }

  async lastEntry(room: string): Promise<{ id: string; seq: number | undefined }> {
    try {
      const [newest] = await this.redis.xrevrange(roomStreamKey(this.prefix, room), '+', '-', 'COUNT', 1);
      return newest ? { id: newest[0], seq: seqOfFields(newest[1]) } : { id: '0-0', seq: 0 };
    } catch (err) {
      throw new StorageError(this.where, err);
    }
  }

  /** The newest `limit` posts from `end` (an XREVRANGE end: "+", "(id" or "id") back, oldest first. */
  private async postsFrom(room: string, end: string, limit: number): Promise<ChatMessage[]> {
    if (limit <= 0) return [];
    const key = roomStreamKey(this.prefix, room);
    const newestFirst: ChatMessage[] = [];
    let before = end;
    // A page as long as what is wanted: one page when the room is mostly posts.
    const page = Math.max(limit, 16);
    for (;;) {
      let entries: [string, string[]][];
      try {
        entries = await this.redis.xrevrange(key, before, '-', 'COUNT', page);
      } catch (err) {
        throw new StorageError(this.where, err);
      }
      for (const [, fields] of entries) {
        const message = messageOfEntry(room, fields);
        if (typeof message !== 'string') newestFirst.push(message);
        if (newestFirst.length === limit) return newestFirst.reverse();
      }
      if (entries.length < page) return newestFirst.reverse();
      before = `(${entries[entries.length - 1]![0]}`;
    }
  }

  /** Every append made before it has been answered by Redis. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
