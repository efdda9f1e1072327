/**
 * The embedded HistoryStore: history.csv, one chat message per record, appended with group
 * commit (one write per chunk of input: see `scheduleBatch`). Start-up checks every record but
 * decodes only the newest `keep`, the ones replay needs: a history of millions of lines must not
 * delay the server.
 */
import { promises as fs } from 'node:fs';
import { checkHeader, countNewlines, forEachRow, formatRow, headerLine, RecordError, scanRecords } from './csv-strict.js';
import { AppendOnlyFile, createFile, type OpenAppendHandle, recoverInterruptedAppend } from './durable-file.js';
import { CorruptFileError, StorageError, UnreadableFileError } from './errors.js';
import type { ChatMessage, HistoryStore } from './stores.js';

export const HISTORY_HEADER = ['timestamp', 'login', 'text'] as const;
const HEADER = headerLine(HISTORY_HEADER);
const CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

export interface CsvHistoryStoreOptions {
  file: string;
  /** Messages held in memory for replay (default 1000). */
  keep?: number;
  /** How much of the file start-up reads at a time (default 1 MiB); small in tests of record boundaries. */
  chunkBytes?: number;
  /** Test seam: how the append handle is opened (inject disk failures). */
  openAppendHandle?: OpenAppendHandle;
  /** Told how many bytes of a batch interrupted by a crash were cut off at open. */
  onRecovered?: (bytes: number) => void;
}

export async function openCsvHistoryStore(
  opts: CsvHistoryStoreOptions,
): Promise<HistoryStore & { readonly writes: number }> {
  const { file } = opts;
  const keep = Math.max(0, opts.keep ?? 1000);
  // A batch a crash interrupted is cut off before anything is read (see durable-file.ts).
  const recoveredBytes = await recoverInterruptedAppend(file);
  if (recoveredBytes > 0) opts.onRecovered?.(recoveredBytes);
  try {
    await createFile(file, HEADER);
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
  const { size, messages } = await readHistory(file, keep, opts.chunkBytes ?? CHUNK_BYTES);
  const out = await AppendOnlyFile.open(file, size, opts.openAppendHandle);
  if (size === 0) {
    // An empty file (e.g. a crash right after creation) gets its header before anything else.
    await out.serially(() => out.append(Buffer.from(HEADER), { sync: true }));
  }
  return new CsvHistoryStore(file, keep, out, messages.slice(-keep));
}

export function isIsoTimestamp(text: string): boolean {
  return ISO_8601.test(text) && !Number.isNaN(Date.parse(text));
}

// ---- startup: check every record, keep the newest ---------------------------------------------

/**
 * Reads history.csv at start-up: every record is checked (`scanRecords`, which decodes nothing)
 * and only the newest `keep` are decoded for replay. Damage anywhere stops the start with the
 * file's name, line and what is wrong; the file is only read.
 */
async function readHistory(file: string, keep: number, chunkBytes: number): Promise<{ size: number; messages: ChatMessage[] }> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return { size, messages: [] };

    const head = await readAt(handle, 0, Math.min(size, 64 * 1024));
    const headerEnd = head.indexOf(NEWLINE);
    checkHeader(file, head.toString('utf8', 0, headerEnd === -1 ? head.length : headerEnd), HISTORY_HEADER);
    if (headerEnd === -1) throw new CorruptFileError(file, 1, 'the header is not terminated by a newline');
    const bodyStart = headerEnd + 1;
    if (size > bodyStart && (await readAt(handle, size - 1, 1))[0] !== NEWLINE) {
      const line = (await countNewlinesInFile(handle, size)) + 1;
      throw new CorruptFileError(file, line, 'the last record is not terminated by a newline (an interrupted write?)');
    }

    const newest = await checkAllRecords(file, handle, { bodyStart, size, keep, chunkBytes });
    const tail = await readAt(handle, newest, size - newest);
    const messages: ChatMessage[] = [];
    forEachRow(tail, { file, firstLine: 1, columns: HISTORY_HEADER.length }, ([at, login, text]) => {
      messages.push({ at: at!, login: login!, text: text! });
      return undefined;
    });
    return { size, messages };
  } catch (err) {
    if (err instanceof CorruptFileError) throw err;
    throw new UnreadableFileError(file, err);
  } finally {
    await handle.close();
  }
}

/** The longest record accepted at start-up: longer means a quote left open, not a message. */
const MAX_RECORD_BYTES = 16 << 20;

/**
 * Scans the records in [bodyStart, size) chunk by chunk, carrying a record cut by a chunk's end
 * into the next; returns the offset of the oldest of the newest `keep` records (`size` if none).
 */
async function checkAllRecords(
  file: string,
  handle: fs.FileHandle,
  { bodyStart, size, keep, chunkBytes }: { bodyStart: number; size: number; keep: number; chunkBytes: number },
): Promise<number> {
  const newest = new Float64Array(Math.max(1, keep)); // a ring of the last record starts
  let seen = 0;
  let base = bodyStart; // file offset of chunk[0]
  let chunk: Buffer = Buffer.alloc(0);
  const scan = {
    columns: HISTORY_HEADER.length,
    checkFirstField: timestampChecker(),
    onRecord: (start: number) => {
      newest[seen++ % newest.length] = base + start;
    },
  };
  for (let position = bodyStart; position < size; ) {
    // At least as much as is carried over: a long record costs a doubling, not a re-scan per chunk.
    const want = Math.max(1, chunkBytes, chunk.length);
    const read = await readAt(handle, position, Math.min(want, size - position));
    if (read.length === 0) break; // the file shrank under us: what was read is all there is
    position += read.length;
    chunk = chunk.length === 0 ? read : Buffer.concat([chunk, read]);
    const final = position >= size;
    const result = scanRecords(chunk, 0, final, scan);
    if (result instanceof RecordError) throw await corruptAt(file, handle, base + result.recordStart, result.reason);
    if (!final && chunk.length - result > MAX_RECORD_BYTES) {
      throw await corruptAt(file, handle, base + result, `a record longer than ${MAX_RECORD_BYTES >> 20} MiB (a quoted field never closed?)`);
    }
    base += result;
    chunk = chunk.subarray(result);
  }
  if (keep === 0 || seen === 0) return size;
  return seen < newest.length ? newest[0]! : newest[seen % newest.length]!;
}

/** Names the line where the bad record starts: counting newlines is paid only on this path. */
async function corruptAt(file: string, handle: fs.FileHandle, offset: number, reason: string): Promise<CorruptFileError> {
  return new CorruptFileError(file, (await countNewlinesInFile(handle, offset)) + 1, reason);
}

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** `2025-01-01T00:00:00.000Z` as toISOString writes it: D a digit, any other byte itself. */
const ISO_PATTERN = Buffer.from('DDDD-DD-DDTDD:DD:DD.DDDZ');
const DATE_AND_HOUR = 13;

/**
 * A first-field check for `scanRecords`: the reason a field is not a timestamp, or undefined.
 * A timestamp in the server's own form, of the same date and hour (≤ 23) as the last one found
 * valid, needs only its minutes and seconds checked — Date.parse per row was most of the cost of
 * checking a million rows (docs/security.md, "Durability"); test/io/history-timestamp.test.ts
 * checks that it agrees with `isIsoTimestamp`.
 */
export function timestampChecker(): (input: Buffer, start: number, end: number, quoted: boolean) => string | undefined {
  const lastValidHour = Buffer.alloc(DATE_AND_HOUR);
  let haveLastValidHour = false;
  return (input, start, end, quoted) => {
    const sized = !quoted && end - start === ISO_PATTERN.length;
    // The date and hour are the last valid row's, which had the shape: only the rest is checked.
    if (sized && haveLastValidHour && sameBytes(input, start, lastValidHour) && hasIsoShape(input, start, DATE_AND_HOUR)) {
      const minutes = (input[start + 14]! - DIGIT_0) * 10 + (input[start + 15]! - DIGIT_0);
      const seconds = (input[start + 17]! - DIGIT_0) * 10 + (input[start + 18]! - DIGIT_0);
      if (minutes <= 59 && seconds <= 59) return undefined;
    }
    const text = input.toString('utf8', start, end);
    if (!isIsoTimestamp(quoted ? text.replaceAll('""', '"') : text)) return 'timestamp is not an ISO 8601 date-time';
    const hour = (input[start + 11]! - DIGIT_0) * 10 + (input[start + 12]! - DIGIT_0);
    if (sized && hasIsoShape(input, start, 0) && hour <= 23) {
      input.copy(lastValidHour, 0, start, start + DATE_AND_HOUR);
      haveLastValidHour = true;
    }
    return undefined;
  };
}

/** Whether `input` at `start` begins with `prefix` (a loop: Buffer#compare with offsets cost more than the check). */
function sameBytes(input: Buffer, start: number, prefix: Buffer): boolean {
  for (let i = 0; i < prefix.length; i++) if (input[start + i] !== prefix[i]) return false;
  return true;
}

/** Whether bytes `from`… of the field at `start` have the shape of ISO_PATTERN's. */
function hasIsoShape(input: Buffer, start: number, from: number): boolean {
  for (let i = from; i < ISO_PATTERN.length; i++) {
    const byte = input[start + i]!;
    if (ISO_PATTERN[i] === 0x44 /* D */ ? byte < DIGIT_0 || byte > DIGIT_9 : byte !== ISO_PATTERN[i]) return false;
  }
  return true;
}

async function countNewlinesInFile(handle: fs.FileHandle, end: number): Promise<number> {
  let count = 0;
  await forEachChunk(handle, 0, end, (chunk) => (count += countNewlines(chunk)));
  return count;
}

async function forEachChunk(handle: fs.FileHandle, start: number, end: number, onChunk: (chunk: Buffer) => void): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, end - start)));
  for (let position = start; position < end; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
    if (bytesRead === 0) break;
    onChunk(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

// ---- running: group commit -------------------------------------------------------------------

interface PendingAppend {
  readonly message: ChatMessage;
  readonly row: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

class CsvHistoryStore implements HistoryStore {
  writes = 0;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  /** Batches handed to the file and not yet written. */
  private writing = 0;
  private closing: Promise<void> | undefined;
  /** The last timestamp found valid (see `append`). */
  private lastCheckedAt: string | undefined;

  constructor(
    private readonly file: string,
    private readonly keep: number,
    private readonly out: AppendOnlyFile,
    private ring: ChatMessage[],
  ) {}

  append(message: ChatMessage): Promise<void> {
    if (this.closing) return Promise.reject(new StorageError(this.file, new Error('the history store is closed')));
    // A bad timestamp would make the file unreadable at the next start; refuse it here. (Messages
    // of the same millisecond share their timestamp: checked once.)
    if (message.at !== this.lastCheckedAt) {
      if (typeof message.at !== 'string' || !isIsoTimestamp(message.at)) {
        return Promise.reject(new TypeError(`history: message.at must be an ISO 8601 date-time, got ${String(message.at)}`));
      }
      this.lastCheckedAt = message.at;
    }
    const stored: ChatMessage = { at: message.at, login: message.login, text: message.text };
    const row = formatRow([stored.at, stored.login, stored.text]);
    return new Promise((resolve, reject) => {
      this.pending.push({ message: stored, row, resolve, reject });
      this.scheduleBatch();
    });
  }

  /**
   * The next batch goes out as soon as the code that appended has run to its end (a microtask:
   * every message of one chunk of input, in one write) — or, while a write is still in progress,
   * once it is done, with everything appended meanwhile. The write itself is synchronous
   * (durable-file.ts), so a message is stored and delivered in the turn that read it, as the
   * baseline delivers (bench/, scenario 1); waiting for the end of the turn added a turn of
   * latency for nothing. Writing a batch regardless of one in progress queued ever more small
   * writes behind a slow one (a busy disk): delivery fell behind by seconds while the CPU idled
   * (bench/, scenario 2). Now a slow write makes the next batch bigger instead.
   */
  private scheduleBatch(): void {
    if (this.flushScheduled || this.writing > 0 || this.pending.length === 0) return;
    this.flushScheduled = true;
    queueMicrotask(() => void this.writeBatch());
  }

  /** One write for everything appended since the last batch; settles every caller's promise. */
  private writeBatch(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return Promise.resolve();
    this.writing++;
    return this.out
      .serially(async () => {
        this.writes++;
        await this.out.append(Buffer.from(batch.map((p) => p.row).join('')), { sync: false });
        for (const p of batch) this.remember(p.message);
      })
      .then(
        () => batch.forEach((p) => p.resolve()),
        (err: unknown) => batch.forEach((p) => p.reject(err)),
      )
      .finally(() => {
        this.writing--;
        this.scheduleBatch();
      });
  }

  private remember(message: ChatMessage): void {
    if (this.keep === 0) return;
    this.ring.push(message);
    // Trim in bulk so the ring costs O(1) amortized per message.
    if (this.ring.length >= 2 * this.keep) this.ring = this.ring.slice(-this.keep);
  }

  async recent(limit: number): Promise<ChatMessage[]> {
    const n = Math.min(Math.floor(limit), this.keep, this.ring.length);
    return n > 0 ? this.ring.slice(-n) : [];
  }

  async flush(): Promise<void> {
    await this.writeBatch();
    await this.out.serially(() => this.out.datasync());
  }

  close(): Promise<void> {
    this.closing ??= this.flush()
      .catch(() => undefined) // a failed batch was already reported to its appenders
      .then(() => this.out.close());
    return this.closing;
  }
}
