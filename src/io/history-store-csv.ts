/**
 * The embedded HistoryStore: history.csv, one chat message per record (`timestamp,room,login,text`,
 * the room as its key: "#lobby", "#dev"), appended with group commit (one write per chunk of
 * input: see `scheduleBatch`). Start-up checks every record but decodes only the newest `keep` of
 * each room, the ones replay needs: a history of millions of lines must not delay the server.
 *
 * A file of the format before rooms (`timestamp,login,text`) is checked whole, then rewritten in
 * this one with every row in #lobby, crash-safe (durable-file.ts, `replaceFile`), at open.
 */
import { promises as fs } from 'node:fs';
import { LOBBY, ROOM_PATTERN, roomKey } from '../machines/protocol.js';
import { checkHeader, countNewlines, forEachRow, formatRow, headerLine, RecordError, type FieldCheck, type ScanOptions, scanRecords, truncate } from './csv-strict.js';
import {
  AppendOnlyFile,
  createFile,
  type OpenAppendHandle,
  recoverInterruptedAppend,
  removeReplacementLeftover,
  replaceFile,
  replacementFile,
  type ReplaceStep,
} from './durable-file.js';
import { CorruptFileError, StorageError, UnreadableFileError } from './errors.js';
import type { ChatMessage, HistoryStore } from './stores.js';

export const HISTORY_HEADER = ['timestamp', 'room', 'login', 'text'] as const;
/** history.csv before rooms: migrated at open (see the top of this file). */
export const OLD_HISTORY_HEADER = ['timestamp', 'login', 'text'] as const;
const HEADER = headerLine(HISTORY_HEADER);
const OLD_HEADER = headerLine(OLD_HISTORY_HEADER);
const CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

export interface CsvHistoryStoreOptions {
  file: string;
  /** Messages of each room held in memory for replay (default 1000). */
  keep?: number;
  /** How much of the file start-up reads at a time (default 1 MiB); small in tests of record boundaries. */
  chunkBytes?: number;
  /** Test seam: how the append handle is opened (inject disk failures). */
  openAppendHandle?: OpenAppendHandle;
  /** Told how many bytes of a batch interrupted by a crash were cut off at open. */
  onRecovered?: (bytes: number) => void;
  /** Told, once a file of the format before rooms has been rewritten in the room format, how many rows it held. */
  onMigrated?: (rows: number) => void;
  /** Test seam: awaited at each step of that rewrite (a crash test kills the process there). */
  onMigrationStep?: (step: ReplaceStep) => void | Promise<void>;
}

export async function openCsvHistoryStore(
  opts: CsvHistoryStoreOptions,
): Promise<HistoryStore & { readonly writes: number }> {
  const { file } = opts;
  const keep = Math.max(0, opts.keep ?? 1000);
  const chunkBytes = opts.chunkBytes ?? CHUNK_BYTES;
  // A batch a crash interrupted is cut off before anything is read (see durable-file.ts).
  const recoveredBytes = await recoverInterruptedAppend(file);
  if (recoveredBytes > 0) opts.onRecovered?.(recoveredBytes);
  try {
    // A migration a crash interrupted before its rename left the old file whole: it runs again.
    await removeReplacementLeftover(file);
    await createFile(file, HEADER);
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
  const migrated = await migrateIfOld(file, chunkBytes, opts.onMigrationStep);
  const { size, rooms } = await readHistory(file, keep, chunkBytes);
  if (migrated !== undefined) opts.onMigrated?.(migrated);
  const out = await AppendOnlyFile.open(file, size, opts.openAppendHandle);
  if (size === 0) {
    // An empty file (e.g. a crash right after creation) gets its header before anything else.
    await out.serially(() => out.append(Buffer.from(HEADER), { sync: true }));
  }
  return new CsvHistoryStore(file, keep, out, rooms);
}

export function isIsoTimestamp(text: string): boolean {
  return ISO_8601.test(text) && !Number.isNaN(Date.parse(text));
}

// ---- startup: check every record, keep the newest of each room --------------------------------

/** Where the scan is: `chunk` holds the file's bytes from offset `base` on. */
interface Cursor {
  chunk: Buffer;
  base: number;
}

/**
 * What start-up scans: the file's layout and how a record's fields are checked. `onRecord` is
 * told each record that passed as `cursor.chunk[start, end)` (at file offset `cursor.base + start`).
 */
interface Layout extends ScanOptions {
  /** Awaited after each chunk's records (the migration writes what it converted). */
  afterChunk?: () => Promise<void>;
}

/**
 * Reads history.csv at start-up: every record is checked (`scanRecords`, which decodes nothing)
 * and only the newest `keep` of each room are decoded for replay. Damage anywhere stops the start
 * with the file's name, line and what is wrong; the file is only read.
 *
 * The rooms are told apart during that check, from the room field's bytes, so the offsets of the
 * newest `keep` of every room are known when it ends — however far from the end of the file a
 * quiet room's are — and each of those records is decoded once. (Decoding every row instead took
 * 8 s for a million, most of them behind a quoted field, so through csv-parse; decoding backwards
 * until every room has its `keep` would come on top of the forward check every row needs anyway.)
 */
async function readHistory(file: string, keep: number, chunkBytes: number): Promise<{ size: number; rooms: Map<string, ChatMessage[]> }> {
  const rooms = new Map<string, ChatMessage[]>();
  const found = await withFile(file, async (handle, start) => {
    if (start.size === 0) return undefined;
    const rings = new Map<string, RecordRing>();
    await scanBody(file, handle, start, chunkBytes, HISTORY_HEADER, (cursor) => ({
      columns: HISTORY_HEADER.length,
      ...historyFields(keep, rings, cursor),
    }));
    await decodeKept(file, handle, rings, rooms);
    return start.size;
  });
  return { size: found ?? 0, rooms };
}

/** What a file holds before its records: its size, its first line and where the records start. */
interface FileStart {
  size: number;
  /** The first line without its line end ('' for an empty file). */
  firstLine: string;
  /** Where the line after the first starts; 0 when the first line has no newline. */
  bodyStart: number;
}

/**
 * Opens `file` for reading and runs `read` with how it starts. Errors other than
 * CorruptFileError and StorageError become UnreadableFileError.
 */
async function withFile<T>(file: string, read: (handle: fs.FileHandle, start: FileStart) => Promise<T>): Promise<T> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
  try {
    const { size } = await handle.stat();
    // Stryker disable next-line MethodExpression: asking for more than the file holds reads the same bytes
    const head = await readAt(handle, 0, Math.min(size, 64 * 1024));
    const headerEnd = head.indexOf(NEWLINE);
    const firstLine = head.toString('utf8', 0, headerEnd === -1 ? head.length : headerEnd);
    return await read(handle, { size, bodyStart: headerEnd + 1, firstLine: firstLine.endsWith('\r') ? firstLine.slice(0, -1) : firstLine });
  } catch (err) {
    if (err instanceof CorruptFileError || err instanceof StorageError) throw err;
    throw new UnreadableFileError(file, err);
  } finally {
    await handle.close();
  }
}

/**
 * Checks the header is `header`, newline-terminated, and that the file ends with a newline; then
 * `checkAllRecords`: every record in [bodyStart, size) goes through the layout.
 */
async function scanBody(
  file: string,
  handle: fs.FileHandle,
  { size, firstLine, bodyStart }: FileStart,
  chunkBytes: number,
  header: readonly string[],
  layout: (cursor: Cursor) => Layout,
): Promise<void> {
  checkHeader(file, firstLine, header);
  if (bodyStart === 0) throw new CorruptFileError(file, 1, 'the header is not terminated by a newline');
  if (size > bodyStart && (await readAt(handle, size - 1, 1))[0] !== NEWLINE) {
    const line = (await countNewlinesInFile(handle, size)) + 1;
    throw new CorruptFileError(file, line, 'the last record is not terminated by a newline (an interrupted write?)');
  }
  await checkAllRecords(file, handle, { bodyStart, size, chunkBytes }, layout);
}

/** The longest record accepted at start-up: longer means a quote left open, not a message. */
const MAX_RECORD_BYTES = 16 << 20;

/**
 * Scans the records in [bodyStart, size) chunk by chunk, carrying a record cut by a chunk's end
 * into the next, and tells `layout.onRecord` each one that passed.
 */
async function checkAllRecords(
  file: string,
  handle: fs.FileHandle,
  { bodyStart, size, chunkBytes }: { bodyStart: number; size: number; chunkBytes: number },
  layoutAt: (cursor: Cursor) => Layout,
): Promise<void> {
  const cursor: Cursor = { chunk: Buffer.alloc(0), base: bodyStart };
  const scan = layoutAt(cursor);
  // One buffer for the whole scan: the record cut by a chunk's end is moved to its front and the
  // next bytes are read in behind it. (A new buffer per chunk, joined with Buffer.concat, was a
  // tenth of the scan in copies and fresh pages: docs/performance.md, S5.) So a layout keeps
  // nothing that refers into a chunk past its `afterChunk`: rooms and timestamps are copied,
  // records kept as file offsets, and the migration writes its pieces out in `afterChunk`.
  // Stryker disable next-line MethodExpression,ArithmeticOperator: the first buffer's size; it grows as a record needs
  let buffer = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, size - bodyStart)));
  let carried = 0;
  let base = bodyStart;
  // Stryker disable next-line EqualityOperator: at `size` the read gives 0 bytes, and the loop ends there
  for (let position = bodyStart; position < size; ) {
    // At least as much as is carried over: a long record costs a doubling, not a re-scan per chunk.
    // Stryker disable next-line MethodExpression,ArithmeticOperator: how much is read at a time changes the reads, not the records
    const want = Math.min(Math.max(1, chunkBytes, carried), size - position);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: growing a buffer that is big enough changes nothing
    if (carried + want > buffer.length) {
      const grown = Buffer.allocUnsafe(carried + want);
      buffer.copy(grown, 0, 0, carried);
      buffer = grown;
    }
    const read = await readInto(handle, buffer, carried, want, position);
    // Stryker disable next-line ConditionalExpression: a file that shrinks while it is scanned is not something a test can arrange
    if (read === 0) break; // the file shrank under us: what was read is all there is
    position += read;
    const chunk = buffer.subarray(0, carried + read);
    cursor.chunk = chunk;
    cursor.base = base;
    const final = position >= size;
    const result = scanRecords(chunk, 0, final, scan);
    if (result instanceof RecordError) throw await corruptAt(file, handle, base + result.recordStart, result.reason);
    if (!final && chunk.length - result > MAX_RECORD_BYTES) {
      throw await corruptAt(file, handle, base + result, `a record longer than ${MAX_RECORD_BYTES >> 20} MiB (a quoted field never closed?)`);
    }
    await scan.afterChunk?.();
    base += result;
    carried = chunk.length - result;
    buffer.copyWithin(0, result, chunk.length);
  }
}

/**
 * The checks of history.csv's timestamp and room fields for `scanRecords`, and the `onRecord`
 * that puts the record into its room's ring. A row of the same room as the row before (the common case: a conversation) costs
 * a byte comparison; of another room already seen, a hash of its bytes and a lookup (no string is
 * made per row: that cost 0.7 s more in a million rows of 50 rooms taking turns); a new spelling,
 * the pattern check. A ring is made for a room on its first record: rooms without messages cost
 * nothing.
 */
function historyFields(keep: number, rings: Map<string, RecordRing>, cursor: Cursor): Pick<ScanOptions, 'fields' | 'onRecord'> {
  interface Seen {
    bytes: Buffer;
    ring: RecordRing | undefined;
  }
  /** Spellings found valid, by a hash of their bytes. */
  const seen = new Map<number, Seen[]>();
  let lastBytes: Buffer = Buffer.alloc(0);
  let lastLength = -1;
  /** The ring of the record being checked (undefined when nothing is kept). */
  let current: RecordRing | undefined;
  const checkRoom: FieldCheck = (input, start, end, quoted) => {
    const length = end - start;
    // Stryker disable next-line all: a shortcut only; without it the lookup below finds the same room
    if (length === lastLength && sameBytes(input, start, lastBytes)) return undefined;
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ input[i]!, 0x01000193);
    hash &= 0x3fffffff; // a small integer: a Map key without a heap number
    const bucket = seen.get(hash);
    let found: Seen | undefined;
    if (bucket !== undefined) {
      for (const s of bucket) if (s.bytes.length === length && sameBytes(input, start, s.bytes)) found = s;
    }
    if (found === undefined) {
      // Quoted or not, a valid room holds no quote: its bytes are the name as they are.
      const name = input.toString('latin1', start, end);
      if (!ROOM_PATTERN.test(name)) return badRoom(input, start, end, quoted);
      const key = roomKey(name);
      let ring = rings.get(key);
      // Stryker disable next-line all: memory only; a ring of 0 records keeps nothing either
      if (ring === undefined && keep > 0) rings.set(key, (ring = new RecordRing(keep)));
      found = { bytes: Buffer.from(input.subarray(start, end)), ring };
      if (bucket) bucket.push(found);
      else seen.set(hash, [found]);
    }
    lastBytes = found.bytes;
    lastLength = length;
    current = found.ring;
    return undefined;
  };
  return {
    fields: [timestampChecker(), checkRoom],
    onRecord: (start, end) => {
      if (current !== undefined) current.push(cursor.base + start, cursor.base + end);
    },
  };
}

function badRoom(input: Buffer, start: number, end: number, quoted: boolean): string {
  const found = truncate(input.toString('utf8', start, end), 40);
  return `room is not "#" then 1 to 32 letters, digits, "-" or "_" (found ${quoted ? 'quoted ' : ''}"${found}")`;
}


/**
 * The file offsets [start, end) of a room's newest `keep` records. Grows by doubling up to
 * `keep`, so a room with a few messages holds a few offsets; it wraps only once it is full.
 */
class RecordRing {
  private slots: Float64Array;
  /** Records pushed, and the slot (an even index) the next one goes to. */
  private seen = 0;
  private next = 0;

  constructor(private readonly keep: number) {
    // Stryker disable next-line MethodExpression: memory only; recent() gives at most `keep` however many are kept
    this.slots = new Float64Array(2 * Math.min(keep, 8));
  }

  push(start: number, end: number): void {
    if (this.next === this.slots.length) {
      if (this.slots.length < 2 * this.keep) {
        // Not yet wrapped (it wraps only when full at `keep`): the records are in order from slot 0.
        // Stryker disable next-line MethodExpression: memory only, as in the constructor
        const grown = new Float64Array(Math.min(2 * this.keep, 2 * this.slots.length));
        grown.set(this.slots);
        this.slots = grown;
      } else {
        this.next = 0;
      }
    }
    this.slots[this.next] = start;
    this.slots[this.next + 1] = end;
    this.next += 2;
    this.seen++;
  }

  /** Calls `each` for the kept records, in no particular order (decodeKept sorts them). */
  forEach(each: (start: number, end: number) => void): void {
    const filled = 2 * Math.min(this.seen, this.slots.length >> 1);
    for (let slot = 0; slot < filled; slot += 2) each(this.slots[slot]!, this.slots[slot + 1]!);
  }
}

/** Reads closer together than this are one read (a quiet room's records are scattered)… */
const READ_GAP_BYTES = 64 * 1024;
/** …unless that read would grow past this. */
const READ_WINDOW_BYTES = 4 << 20;

/** One read of decodeKept: bytes [from, to) of the file, holding the runs of records `runs` ([start, end) pairs). */
export interface PlannedRead {
  from: number;
  to: number;
  runs: number[];
}

/**
 * How the records at `ranges` ([start, end) pairs of file offsets, in any order) are read:
 * sorted, adjacent records merged into runs (the whole tail, when one room does all the talking,
 * is one run), and runs closer than READ_GAP_BYTES to the one before share a read, up to
 * READ_WINDOW_BYTES per read. (A quiet room's records are scattered: a read per record was
 * thousands of reads.)
 */
export function planReads(ranges: readonly number[]): PlannedRead[] {
  const order = Array.from({ length: ranges.length >> 1 }, (_, i) => i).sort((a, b) => ranges[a << 1]! - ranges[b << 1]!);
  const runs: number[] = [];
  for (const i of order) {
    const start = ranges[i << 1]!;
    const end = ranges[(i << 1) + 1]!;
    if (runs.length > 0 && runs[runs.length - 1] === start) runs[runs.length - 1] = end;
    else runs.push(start, end);
  }
  const reads: PlannedRead[] = [];
  for (let r = 0; r < runs.length; ) {
    const from = runs[r]!;
    let next = r + 2;
    while (next < runs.length && runs[next]! - runs[next - 1]! < READ_GAP_BYTES && runs[next + 1]! - from <= READ_WINDOW_BYTES) next += 2;
    reads.push({ from, to: runs[next - 1]!, runs: runs.slice(r, next) });
    r = next;
  }
  return reads;
}

/** Decodes the records the rings kept into `rooms` (room key → messages, oldest first), in file order (planReads). */
async function decodeKept(
  file: string,
  handle: fs.FileHandle,
  rings: Map<string, RecordRing>,
  rooms: Map<string, ChatMessage[]>,
): Promise<void> {
  const ranges: number[] = [];
  for (const ring of rings.values()) ring.forEach((start, end) => ranges.push(start, end));
  const decode = (input: Buffer) =>
    forEachRow(input, { file, firstLine: 1, columns: HISTORY_HEADER.length }, ([at, room, login, text]) => {
      const key = roomKey(room!);
      let messages = rooms.get(key);
      if (messages === undefined) rooms.set(key, (messages = []));
      messages.push({ at: at!, room: key, login: login!, text: text! });
      return undefined;
    });
  for (const { from, to, runs } of planReads(ranges)) {
    const window = await readAt(handle, from, to - from);
    for (let k = 0; k < runs.length; k += 2) decode(window.subarray(runs[k]! - from, runs[k + 1]! - from));
  }
}

// ---- migration from the format before rooms ----------------------------------------------------

const LOBBY_FIELD = Buffer.from(`${LOBBY},`);

/**
 * If `file` has the header of the format before rooms, checks every record as start-up always
 * has (refusing a damaged file with its line, untouched), then rewrites it with a room column,
 * every row in #lobby and otherwise byte for byte as it was, through `replaceFile`: the old file
 * stays whole under its name until the new one, complete and fsync'ed, is renamed over it.
 * Returns the number of rows migrated, or undefined for a file in the room format.
 */
async function migrateIfOld(
  file: string,
  chunkBytes: number,
  onStep?: (step: ReplaceStep) => void | Promise<void>,
): Promise<number | undefined> {
  const header = await withFile(file, async (_handle, start) => start.firstLine);
  if (header !== OLD_HEADER.slice(0, -1)) return undefined;
  let rows = 0;
  const oldLayout = (onRecord: Layout['onRecord'], afterChunk?: Layout['afterChunk']): Layout => ({
    columns: OLD_HISTORY_HEADER.length,
    fields: [timestampChecker()],
    onRecord,
    afterChunk,
  });
  // First every record is checked; nothing is written for a file that would be refused.
  await withFile(file, (handle, start) => scanBody(file, handle, start, chunkBytes, OLD_HISTORY_HEADER, () => oldLayout(() => rows++)),
  );
  try {
    await replaceFile(
      file,
      (write) =>
        withFile(file, async (handle, start) => {
          let pieces: Buffer[] = [Buffer.from(HEADER)];
          const flush = async () => {
            const data = Buffer.concat(pieces);
            pieces = [];
            try {
              await write(data);
            } catch (err) {
              throw new StorageError(replacementFile(file), err);
            }
          };
          // The room goes in after the timestamp's comma; a timestamp holds no comma, even quoted.
          const layout = (cursor: Cursor) => oldLayout(
            (start, end) => {
              const { chunk } = cursor;
              const comma = chunk.indexOf(0x2c, start);
              pieces.push(chunk.subarray(start, comma + 1), LOBBY_FIELD, chunk.subarray(comma + 1, end));
            },
            flush,
          );
          await scanBody(file, handle, start, chunkBytes, OLD_HISTORY_HEADER, layout);
          await flush();
        }),
      { onStep },
    );
  } catch (err) {
    if (err instanceof CorruptFileError || err instanceof UnreadableFileError || err instanceof StorageError) throw err;
    throw new StorageError(file, err);
  }
  return rows;
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

/** What reading a file needs of its handle (a test hands in one that answers short reads). */
export type ReadHandle = Pick<fs.FileHandle, 'read'>;

/** Hands `onChunk` the bytes [start, end) of the file, a buffer at a time, however few each read returns. */
export async function forEachChunk(handle: ReadHandle, start: number, end: number, onChunk: (chunk: Buffer) => void): Promise<void> {
  // Stryker disable next-line MethodExpression,ArithmeticOperator: the buffer's size changes the reads, not the bytes handed on
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, end - start)));
  for (let position = start; position < end; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
    if (bytesRead === 0) break;
    onChunk(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

async function readAt(handle: ReadHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  return buffer.subarray(0, await readInto(handle, buffer, 0, length, position));
}

/** Reads up to `length` bytes at file `position` into `buffer` at `offset`; returns how many (fewer only at the end of the file). */
export async function readInto(handle: ReadHandle, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, offset + filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
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
  /** The last room name found valid, and its key. */
  private lastCheckedRoom = LOBBY;
  private lastRoomKey = LOBBY;

  constructor(
    private readonly file: string,
    private readonly keep: number,
    private readonly out: AppendOnlyFile,
    /** Room key → its newest messages, oldest first: a ring per room that has any. */
    private readonly rooms: Map<string, ChatMessage[]>,
  ) {}

  append(message: ChatMessage): Promise<void> {
    if (this.closing) return Promise.reject(new StorageError(this.file, new Error('the history store is closed')));
    // A bad timestamp would make the file unreadable at the next start; refuse it here. (Messages
    // of the same millisecond share their timestamp: checked once.)
    if (message.at !== this.lastCheckedAt || this.lastCheckedAt === undefined) {
      if (typeof message.at !== 'string' || !isIsoTimestamp(message.at)) {
        return Promise.reject(new TypeError(`history: message.at must be an ISO 8601 date-time, got ${String(message.at)}`));
      }
      this.lastCheckedAt = message.at;
    }
    // So would a bad room; a room is stored (and given back) as its key.
    if (message.room !== this.lastCheckedRoom) {
      if (typeof message.room !== 'string' || !ROOM_PATTERN.test(message.room)) {
        const problem = `history: message.room must be a room name ("#" then 1 to 32 of A-Z a-z 0-9 _ -), got ${String(message.room)}`;
        return Promise.reject(new TypeError(problem));
      }
      this.lastCheckedRoom = message.room;
      this.lastRoomKey = roomKey(message.room);
    }
    const stored: ChatMessage = { at: message.at, room: this.lastRoomKey, login: message.login, text: message.text };
    const row = formatRow([stored.at, stored.room, stored.login, stored.text]);
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
    // Stryker disable next-line all: memory only; recent() gives nothing for a keep of 0
    if (this.keep === 0) return;
    const ring = this.rooms.get(message.room);
    if (ring === undefined) {
      this.rooms.set(message.room, [message]);
      return;
    }
    ring.push(message);
    // Trim in bulk so the ring costs O(1) amortized per message.
    // Stryker disable next-line all: memory only; recent() gives at most `keep` however many are held
    if (ring.length >= 2 * this.keep) ring.splice(0, ring.length - this.keep);
  }

  /** The newest `limit` messages of `room` (any spelling: rooms are case-insensitive), oldest first. */
  async recent(room: string, limit: number): Promise<ChatMessage[]> {
    const ring = this.rooms.get(roomKey(room));
    const n = Math.min(Math.floor(limit), this.keep, ring?.length ?? 0);
    return n > 0 ? ring!.slice(-n) : [];
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
