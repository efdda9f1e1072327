/**
 * The embedded HistoryStore: history.csv, one chat message per record, appended with group
 * commit (one write per chunk of input: see `scheduleBatch`). Startup reads only the tail of the
 * file: a history of millions of lines must not delay the server, and replay needs only the
 * newest `keep` messages.
 */
import { promises as fs } from 'node:fs';
import { checkHeader, countNewlines, forEachRow, formatRow, headerLine } from './csv-strict.js';
import { AppendOnlyFile, createFile, type OpenAppendHandle, recoverInterruptedAppend } from './durable-file.js';
import { CorruptFileError, StorageError, UnreadableFileError } from './errors.js';
import type { ChatMessage, HistoryStore } from './stores.js';

export const HISTORY_HEADER = ['timestamp', 'login', 'text'] as const;
const HEADER = headerLine(HISTORY_HEADER);
const CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;
const QUOTE = 0x22;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

export interface CsvHistoryStoreOptions {
  file: string;
  /** Messages held in memory for replay (default 1000). */
  keep?: number;
  /** How much of the file's end to parse first (default 1 MiB); grown until `keep` records fit. */
  tailBytes?: number;
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
  const { size, messages } = await readTail(file, keep, opts.tailBytes ?? CHUNK_BYTES);
  const out = await AppendOnlyFile.open(file, size, opts.openAppendHandle);
  if (size === 0) {
    // An empty file (e.g. a crash right after creation) gets its header before anything else.
    await out.serially(() => out.append(Buffer.from(HEADER), { sync: true }));
  }
  return new CsvHistoryStore(file, keep, out, messages.slice(-keep));
}

function isIsoTimestamp(text: string): boolean {
  return ISO_8601.test(text) && !Number.isNaN(Date.parse(text));
}

// ---- startup: find and parse the tail ---------------------------------------------------------

/**
 * In strict CSV every quoted field holds an even number of '"' (open, close, doubled escapes) and
 * unquoted fields hold none, so a '\n' preceded by an even number of quotes ends a record. Counting
 * quotes is a Buffer.indexOf scan — far cheaper than parsing — and lets us start parsing at a
 * record boundary near the end. Records before the tail are not validated beyond quote balance.
 */
async function readTail(file: string, keep: number, tailBytes: number): Promise<{ size: number; messages: ChatMessage[] }> {
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

    const totalQuotes = await countQuotesInFile(handle, bodyStart, size);
    if (totalQuotes % 2 !== 0) throw await locateCorruption(file, bodyStart);

    for (let want = Math.max(1, tailBytes); ; want *= 2) {
      const tailStart = Math.max(bodyStart, size - want);
      const tail = await readAt(handle, tailStart, size - tailStart);
      const recordStart = tailStart === bodyStart ? 0 : firstRecordStart(tail, totalQuotes - countQuotes(tail));
      if (recordStart !== -1) {
        const messages = await parseTail(file, handle, tail.subarray(recordStart), tailStart + recordStart);
        if (messages.length >= keep || tailStart === bodyStart) return { size, messages };
      }
    }
  } catch (err) {
    if (err instanceof CorruptFileError) throw err;
    throw new UnreadableFileError(file, err);
  } finally {
    await handle.close();
  }
}

async function parseTail(file: string, handle: fs.FileHandle, tail: Buffer, offset: number): Promise<ChatMessage[]> {
  const messages: ChatMessage[] = [];
  try {
    forEachRow(tail, { file, firstLine: 1, columns: HISTORY_HEADER.length }, ([at, login, text]) => {
      if (!isIsoTimestamp(at)) return 'timestamp is not an ISO 8601 date-time';
      messages.push({ at, login, text });
      return undefined;
    });
  } catch (err) {
    if (!(err instanceof CorruptFileError)) throw err;
    // Only now is it worth counting the lines before the tail.
    const linesBefore = await countNewlinesInFile(handle, offset);
    throw new CorruptFileError(file, linesBefore + err.line, err.reason);
  }
  return messages;
}

/** Index just after the first '\n' outside a quoted field, or -1. */
function firstRecordStart(tail: Buffer, quotesBefore: number): number {
  let parity = quotesBefore % 2;
  for (let from = 0; ; ) {
    const newline = tail.indexOf(NEWLINE, from);
    if (newline === -1) return -1;
    parity = (parity + countQuotes(tail.subarray(from, newline))) % 2;
    if (parity === 0) return newline + 1;
    from = newline + 1;
  }
}

/** Unbalanced quotes somewhere: parse the whole body (error path only) to name the line. */
async function locateCorruption(file: string, bodyStart: number): Promise<CorruptFileError> {
  let content: Buffer;
  try {
    content = await fs.readFile(file);
  } catch {
    // Beyond readFile's 2 GiB limit: still refuse to start, without a precise line.
    return new CorruptFileError(file, 2, 'a quoted field is never closed somewhere in this file (it is too large to locate)');
  }
  try {
    forEachRow(content.subarray(bodyStart), { file, firstLine: 2, columns: HISTORY_HEADER.length }, ([at]) =>
      isIsoTimestamp(at) ? undefined : 'timestamp is not an ISO 8601 date-time',
    );
  } catch (err) {
    if (err instanceof CorruptFileError) return err;
    throw err;
  }
  // Unreachable for strict CSV (an odd quote count cannot parse), kept as a safe verdict.
  return new CorruptFileError(file, countNewlines(content), 'the quotes in this file are unbalanced');
}

function countQuotes(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(QUOTE); at !== -1; at = bytes.indexOf(QUOTE, at + 1)) count++;
  return count;
}

async function countQuotesInFile(handle: fs.FileHandle, start: number, end: number): Promise<number> {
  let count = 0;
  await forEachChunk(handle, start, end, (chunk) => (count += countQuotes(chunk)));
  return count;
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
