/**
 * The HistoryStore of a cluster (`--cluster redis://…`, the cluster issue): one Redis Stream per
 * room, `<prefix>room:<room key>`, each entry a chat message (`at`, `login`, `text`). The entry ID
 * Redis gives an `XADD` is the room's order, the same for every node; `append` resolves only once
 * the `XADD` has returned, so a message is acknowledged (delivered anywhere) only once Redis has it
 * — durable as far as Redis's `appendfsync` makes it (`always`: acknowledged = on disk).
 *
 * Each stream is trimmed (`MAXLEN ~ keep`, Redis's cheap approximate trim) to at least `keep`
 * entries: never below what a replay or /history reads back. Group commit is ioredis's auto
 * pipelining: the appends of one event-loop turn go out in one write.
 */
import { Redis } from 'ioredis';
import { roomKey } from '../machines/protocol.js';
import { StorageError } from './errors.js';
import type { ChatMessage, HistoryStore } from './stores.js';

export interface RedisHistoryStoreOptions {
  /** A connected client (the caller owns it: `close` does not quit it). */
  redis: Redis;
  /** The fewest messages each room keeps (the longest replay or /history). */
  keep: number;
  /** Prefix of every key. Default "statechat:". */
  prefix?: string;
  /** How Redis is named in errors (the URL without a password). */
  where: string;
}

export function openRedisHistoryStore(opts: RedisHistoryStoreOptions): HistoryStore {
  return new RedisHistoryStore(opts.redis, opts.keep, opts.prefix ?? 'statechat:', opts.where);
}

/** The key of a room's stream. */
export function roomStreamKey(prefix: string, room: string): string {
  return `${prefix}room:${roomKey(room)}`;
}

/** A stream entry's fields as Redis returns them ([name, value, name, value…]) → the message, or why not. */
export function messageOfEntry(room: string, fields: readonly string[]): ChatMessage | string {
  const value = (name: string) => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const at = value('at');
  const login = value('login');
  const text = value('text');
  if (at === undefined || login === undefined || text === undefined) return 'an entry without at, login or text';
  return { at, room: roomKey(room), login, text };
}

class RedisHistoryStore implements HistoryStore {
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keep: number,
    private readonly prefix: string,
    private readonly where: string,
  ) {}

  append(message: ChatMessage): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError(this.where, new Error('the history store is closed')));
    const adding = this.redis
      .xadd(roomStreamKey(this.prefix, message.room), 'MAXLEN', '~', String(this.keep), '*', 'at', message.at, 'login', message.login, 'text', message.text)
      .then(
        () => undefined,
        (err: unknown) => {
          throw new StorageError(this.where, err);
        },
      );
    this.pending.add(adding);
    void adding.finally(() => this.pending.delete(adding)).catch(() => undefined);
    return adding;
  }

  async recent(room: string, limit: number): Promise<ChatMessage[]> {
    if (limit <= 0) return [];
    let entries: [string, string[]][];
    try {
      entries = await this.redis.xrevrange(roomStreamKey(this.prefix, room), '+', '-', 'COUNT', limit);
    } catch (err) {
      throw new StorageError(this.where, err);
    }
    const messages: ChatMessage[] = [];
    for (const [, fields] of entries.reverse()) {
      const message = messageOfEntry(room, fields);
      // An entry not written by statechat (by hand, another tool) is not a message: skipped.
      if (typeof message !== 'string') messages.push(message);
    }
    return messages;
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
