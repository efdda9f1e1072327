/**
 * The embedded TopicStore: topics.csv, one row per room that has a topic (`room,topic,set_by,at`,
 * the room as its key). Topics are few and rarely set, so the file is read whole at open and
 * rewritten whole on every change, crash-safe (durable-file.ts, `replaceFile`: temp file, fsync,
 * rename, fsync of the directory): after a crash it holds the topics before the change or after
 * it, never half of either.
 */
import { promises as fs } from 'node:fs';
import { ROOM_PATTERN, roomKey } from '../machines/protocol.js';
import { checkHeader, forEachRow, formatRow, headerLine } from './csv-strict.js';
import { createFile, removeReplacementLeftover, replaceFile, type ReplaceStep } from './durable-file.js';
import { CorruptFileError, StorageError, UnreadableFileError } from './errors.js';
import { isIsoTimestamp } from './history-store-csv.js';
import type { Topic, TopicStore } from './stores.js';

export const TOPICS_HEADER = ['room', 'topic', 'set_by', 'at'] as const;
const HEADER = headerLine(TOPICS_HEADER);

export interface CsvTopicStoreOptions {
  file: string;
  /** Test seam: awaited at each step of a rewrite (a crash test kills the process there). */
  onRewriteStep?: (step: ReplaceStep) => void | Promise<void>;
}

export async function openCsvTopicStore(opts: CsvTopicStoreOptions): Promise<TopicStore> {
  const { file } = opts;
  let content: Buffer;
  try {
    // A rewrite a crash interrupted before its rename left the old file whole: its temp file goes.
    await removeReplacementLeftover(file);
    await createFile(file, HEADER);
    content = await fs.readFile(file);
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
  return new CsvTopicStore(file, readTopics(file, content), opts.onRewriteStep);
}

/** Room key → topic. Every row is checked; an empty file (a crash right after creation) holds none. */
function readTopics(file: string, content: Buffer): Map<string, Topic> {
  const topics = new Map<string, Topic>();
  if (content.length === 0) return topics;
  const headerEnd = content.indexOf(0x0a);
  checkHeader(file, content.toString('utf8', 0, headerEnd === -1 ? content.length : headerEnd), TOPICS_HEADER);
  if (headerEnd === -1) throw new CorruptFileError(file, 1, 'the header is not terminated by a newline');
  forEachRow(content.subarray(headerEnd + 1), { file, firstLine: 2, columns: TOPICS_HEADER.length }, ([room, text, by, at]) => {
    if (!ROOM_PATTERN.test(room!)) return 'room is not "#" then 1 to 32 letters, digits, "-" or "_"';
    if (!isIsoTimestamp(at!)) return 'at is not an ISO 8601 date-time';
    const key = roomKey(room!);
    if (topics.has(key)) return `a second topic for ${key}`;
    topics.set(key, { text: text!, by: by!, at: at! });
    return undefined;
  });
  return topics;
}

class CsvTopicStore implements TopicStore {
  /** Rewrites run one at a time, in the order asked. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly file: string,
    /** What is on disk: replaced, never changed in place, once a rewrite is durable. */
    private topics: Map<string, Topic>,
    private readonly onRewriteStep: ((step: ReplaceStep) => void | Promise<void>) | undefined,
  ) {}

  all(): ReadonlyMap<string, Topic> {
    return this.topics;
  }

  set(room: string, topic: Topic | undefined): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError(this.file, new Error('the topic store is closed')));
    // Refused here what would make the file unreadable at the next start.
    if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) {
      return Promise.reject(new TypeError(`topics: room must be a room name ("#" then 1 to 32 of A-Z a-z 0-9 _ -), got ${String(room)}`));
    }
    if (topic !== undefined && (typeof topic.at !== 'string' || !isIsoTimestamp(topic.at))) {
      return Promise.reject(new TypeError(`topics: topic.at must be an ISO 8601 date-time, got ${String(topic.at)}`));
    }
    const key = roomKey(room);
    const stored = topic && { text: String(topic.text), by: String(topic.by), at: topic.at };
    const result = this.queue.then(async () => {
      const next = new Map(this.topics);
      if (stored === undefined) next.delete(key);
      else next.set(key, stored);
      const rows = [...next].map(([name, t]) => formatRow([name, t.text, t.by, t.at]));
      try {
        await replaceFile(this.file, HEADER + rows.join(''), { onStep: this.onRewriteStep });
      } catch (err) {
        throw new StorageError(this.file, err);
      }
      this.topics = next;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Waits for the rewrites asked before it. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }
}
