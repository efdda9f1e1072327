/**
 * All-or-nothing appends for the CSV stores: one persistent append-mode handle, writes run one
 * at a time, and a failed write is rolled back by truncating to the size before it, so a reader
 * never finds half a record. `AppendHandle` is deliberately narrow: it is the seam tests use to
 * inject disk failures.
 *
 * A process killed in the middle of a write (kill -9, the OOM killer) cannot roll back, and the
 * kernel may have copied only part of the write (Linux stops a write at a page boundary when a
 * fatal signal arrives). So while an append is in flight, `<file>.appending` holds the file's size
 * before it and the append's length; it is cleared once the append has finished or been rolled
 * back, and removed on close. At the next start, `recoverInterruptedAppend` finds a marker still
 * there and cuts the file back to its size before that append — whose content nobody was ever
 * told about, since the stores answer only once a write has completed. Without a marker nothing
 * is cut: damage of any other kind is the operator's to look at, and the stores refuse to start.
 *
 * A file rewritten whole (topics.csv; history.csv once, migrating to the room format) is replaced
 * by `replaceFile`: temp file, fsync, rename over, fsync of the directory. A file that is appended
 * to and sometimes rewritten whole (clients.csv: `/passwd`, `/deleteaccount`) does both through
 * its `AppendOnlyFile`, whose `replace` runs in the same queue as the appends and reopens the handle.
 */
import { constants as fsConstants, promises as fs, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { StorageError, UnreadableFileError } from './errors.js';

export interface AppendHandle {
  /** Appends all of `data` (a short write continues where it stopped). */
  append(data: Uint8Array): Promise<void>;
  truncate(length: number): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export type OpenAppendHandle = (file: string) => Promise<AppendHandle>;

/**
 * The real handle. Appends are written synchronously: a batch of chat messages is a few KB into
 * the page cache, one write(2) of a few µs, while a thread-pool write made delivery wait for the
 * next event-loop turn (and for any scrypt hashes queued on the pool before it) — history-first
 * delivery cost fan-out a third of its throughput (bench/, scenario 1). Syncing to the device
 * (`datasync`) stays asynchronous: that is the part that can take milliseconds.
 */
export const openAppendHandle: OpenAppendHandle = async (file) => {
  const handle = await fs.open(file, 'a', 0o600);
  return {
    async append(data) {
      for (let offset = 0; offset < data.length; ) offset += writeSync(handle.fd, data, offset, data.length - offset);
    },
    truncate: (length) => handle.truncate(length),
    datasync: () => handle.datasync(),
    close: () => handle.close(),
  };
};

/** The side file that marks an append in flight (see the top of this file). */
export function appendMarkerFile(file: string): string {
  return `${file}.appending`;
}

/** "<size before> <length>" of the append in flight, padded; all spaces when none is. */
const MARKER_BYTES = 42;
const IDLE_MARKER = Buffer.from(`${' '.repeat(MARKER_BYTES - 1)}\n`);

function inFlightMarker(offset: number, length: number): Buffer {
  return Buffer.from(`${offset} ${length}`.padEnd(MARKER_BYTES - 1) + '\n');
}

/**
 * Undoes an append that a crash interrupted: if `<file>.appending` names one that did not reach
 * its full length, the file is cut back to its size before it. Returns the bytes cut (0 when
 * there was nothing to undo). Run before the file is read; touches nothing when there is no
 * marker, or an idle one.
 */
export async function recoverInterruptedAppend(file: string): Promise<number> {
  const markerFile = appendMarkerFile(file);
  let marker: string;
  try {
    marker = await fs.readFile(markerFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new UnreadableFileError(markerFile, err);
  }
  const match = /^(\d+) (\d+) *\n$/.exec(marker);
  if (!match) return 0; // idle: the last append finished
  const offset = Number(match[1]);
  const length = Number(match[2]);
  try {
    const handle = await fs.open(file, 'r+');
    try {
      const { size } = await handle.stat();
      const torn = size > offset && size < offset + length;
      if (torn) {
        await handle.truncate(offset);
        await handle.datasync();
      }
      await fs.rm(markerFile, { force: true });
      return torn ? size - offset : 0;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new UnreadableFileError(file, err);
  }
}

export class AppendOnlyFile {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** `<file>.appending`, opened at the first append. */
  private marker: fs.FileHandle | undefined;
  /** Set when a rollback itself failed: the tail of the file is unknown, so stop appending. */
  private broken: unknown = undefined;

  private constructor(
    readonly file: string,
    /** Replaced (not written to) by `replace`, whose rename puts a new file under the name. */
    private handle: AppendHandle,
    private size: number,
  ) {}

  /** `size` is the file's current length, which the caller has just read. */
  static async open(file: string, size: number, openHandle: OpenAppendHandle = openAppendHandle): Promise<AppendOnlyFile> {
    return new AppendOnlyFile(file, await openHandle(file), size);
  }

  /**
   * Runs `task` after every task queued before it has settled, so appends never interleave
   * and the tracked size stays exact. A failing task does not stop the queue.
   */
  serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(() => {
      if (this.closed) throw new StorageError(this.file, new Error('the file is closed'));
      return task();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Call inside `serially`. Writes `data` (then datasyncs if asked) or leaves the file as it was. */
  async append(data: Uint8Array, opts: { sync: boolean }): Promise<void> {
    if (this.broken !== undefined) throw new StorageError(this.file, this.broken);
    const before = this.size;
    await this.mark(inFlightMarker(before, data.length), opts.sync);
    try {
      await this.handle.append(data);
      if (opts.sync) await this.handle.datasync();
      this.size = before + data.length;
    } catch (err) {
      try {
        await this.handle.truncate(before);
      } catch (rollbackErr) {
        // The marker stays: the next start cuts the file back to `before`, as this could not.
        this.broken = rollbackErr;
        throw new StorageError(this.file, err);
      }
      this.markIdle();
      throw new StorageError(this.file, err);
    }
    this.markIdle();
  }

  /** Clears the marker once the append is over (not synced: a stale marker only names a complete append). */
  private markIdle(): void {
    try {
      if (this.marker) writeSync(this.marker.fd, IDLE_MARKER, 0, IDLE_MARKER.length, 0);
    } catch {
      // Harmless: recovery cuts nothing when the file already holds the whole append it names.
    }
  }

  /**
   * Writes the in-flight marker in place (one small positional write: no new block, so it is not
   * itself torn). A synced append syncs its marker first, so that it survives what the data does.
   *
   * An unsynced append writes its marker synchronously: a 42-byte write into the page cache costs
   * a syscall (~2 µs), while the thread pool's round trip made every history batch wait a turn
   * longer, and queued it behind scrypt hashes in a login storm (bench/, scenarios 1 and 4).
   */
  private async mark(content: Buffer, sync: boolean): Promise<void> {
    const markerFile = appendMarkerFile(this.file);
    try {
      this.marker ??= await fs.open(markerFile, 'w', 0o600);
      if (!sync) {
        writeSync(this.marker.fd, content, 0, content.length, 0);
        return;
      }
      await this.marker.write(content, 0, content.length, 0);
      await this.marker.datasync();
    } catch (err) {
      throw new StorageError(markerFile, err);
    }
  }

  /** Call inside `serially`. Cuts the file back to `length` bytes and syncs. */
  async truncate(length: number): Promise<void> {
    try {
      await this.handle.truncate(length);
      await this.handle.datasync();
      this.size = length;
      this.broken = undefined;
      this.markIdle();
    } catch (err) {
      throw new StorageError(this.file, err);
    }
  }

  /**
   * Call inside `serially`. Replaces the whole file with `content` through `replaceFile` (the old
   * file or the new one under the name after a crash, each whole), then appends go on to the new
   * file through a handle `reopen` opens — the old handle writes to the file renamed over. Rejects
   * with StorageError; until the rename the old file and handle are untouched. Once the rename is
   * done the name holds the new content even if a later step failed (the directory's fsync, the
   * reopen: appends are then refused, since no handle on the new file is open).
   */
  async replace(content: Uint8Array, reopen: OpenAppendHandle = openAppendHandle, opts: ReplaceFileOptions = {}): Promise<void> {
    if (this.broken !== undefined) throw new StorageError(this.file, this.broken);
    let renamed = false;
    let failure: unknown;
    try {
      await replaceFile(this.file, content, {
        onStep: async (step) => {
          if (step === 'renamed') renamed = true;
          await opts.onStep?.(step);
        },
      });
    } catch (err) {
      failure = err;
    }
    if (renamed) {
      const old = this.handle;
      try {
        this.handle = await reopen(this.file);
        this.size = content.length;
      } catch (err) {
        // No handle on the file under the name: appends (and truncates) must not go to the old one.
        this.broken = err;
        this.handle = unusableHandle(err);
        failure ??= err;
      }
      await old.close().catch(() => undefined);
    }
    if (failure !== undefined) throw new StorageError(this.file, failure);
  }

  async datasync(): Promise<void> {
    try {
      await this.handle.datasync();
    } catch (err) {
      throw new StorageError(this.file, err);
    }
  }

  /** Waits for queued work, then closes. Idempotent. */
  async close(): Promise<void> {
    await this.serially(async () => {
      this.closed = true;
      await this.handle.close();
      if (this.marker) {
        await this.marker.close();
        this.marker = undefined;
        // Kept if a rollback failed: the next start must still cut the file back.
        if (this.broken === undefined) await fs.rm(appendMarkerFile(this.file), { force: true });
      }
    }).catch((err: unknown) => {
      if (!(err instanceof StorageError)) throw err;
    });
  }
}

/** What `AppendOnlyFile.replace` is left with when it could not open the new file: every call fails. */
function unusableHandle(cause: unknown): AppendHandle {
  const fail = () => Promise.reject(cause);
  return { append: fail, truncate: fail, datasync: fail, close: () => Promise.resolve() };
}

/**
 * Creates `file` holding `content` (mode 0600) whole or not at all: written and fsync'ed under a
 * temp name, then link()ed into place — link fails atomically when the name exists, so of two
 * processes creating one file exactly one wins, and nobody ever reads it half-written. False if
 * it existed. The temp file is always removed.
 */
export async function linkNewFile(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.link(tmp, file);
    await fsyncDir(path.dirname(file));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** Creates `file` holding `content` with mode 0600, durably. False if it already existed. */
export async function createFile(file: string, content: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDir(path.dirname(file));
  return true;
}

/** Makes a newly created directory entry durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The temp file `replaceFile` writes `file`'s new content to: in the same directory (a rename
 * does not cross file systems) and under a fixed name, so the next open finds and removes one a
 * crash left behind (`removeReplacementLeftover`). Fixed is safe: the data-dir lock keeps a
 * second server out.
 */
export function replacementFile(file: string): string {
  return `${file}.replacing`;
}

/** Where `replaceFile` is: told to `onStep` (a test seam: a crash test kills the process there). */
export type ReplaceStep = 'writing' | 'written' | 'renamed';

export interface ReplaceFileOptions {
  /** Test seam: awaited at each step of the replacement (see ReplaceStep). */
  onStep?: (step: ReplaceStep) => void | Promise<void>;
}

/**
 * Replaces `file` with new content (mode 0600) whole or not at all: the content is written to
 * `replacementFile(file)` and fsync'ed, renamed over `file`, then the directory is fsync'ed. A
 * crash at any point leaves either the old file or the new one under the name, each complete;
 * at worst a temp file is left beside it. `content` is the bytes, or a function that writes them
 * through `write` (a large file, produced piece by piece). Errors are the caller's to wrap.
 */
export async function replaceFile(
  file: string,
  content: string | Uint8Array | ((write: (data: Uint8Array) => Promise<void>) => Promise<void>),
  opts: ReplaceFileOptions = {},
): Promise<void> {
  const tmp = replacementFile(file);
  let renamed = false;
  try {
    const handle = await fs.open(tmp, 'w', 0o600);
    try {
      if (typeof content === 'function') {
        let first = true;
        await content(async (data) => {
          await handle.writeFile(data);
          if (first) await opts.onStep?.('writing');
          first = false;
        });
      } else {
        await handle.writeFile(content);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await opts.onStep?.('written');
    await fs.rename(tmp, file);
    renamed = true;
    await opts.onStep?.('renamed');
    await fsyncDir(path.dirname(file));
  } finally {
    // Best effort: the error that got here is the one to report, and the next open removes it too.
    if (!renamed) await fs.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** Removes a temp file a replacement interrupted by a crash left behind (the old file is intact). */
export async function removeReplacementLeftover(file: string): Promise<void> {
  await fs.rm(replacementFile(file), { force: true });
}

/**
 * What a file appended to and sometimes rewritten (clients.csv, offline.csv) needs before it is
 * read: the temp file of a rewrite a crash interrupted before its rename goes (the old file is
 * whole), and an append a crash interrupted is cut off (see the top of this file). `onRecovered`
 * is told how many bytes were cut.
 */
export async function recoverAfterCrash(file: string, onRecovered?: (bytes: number) => void): Promise<void> {
  try {
    await removeReplacementLeftover(file);
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
  const recoveredBytes = await recoverInterruptedAppend(file);
  if (recoveredBytes > 0) onRecovered?.(recoveredBytes);
}
