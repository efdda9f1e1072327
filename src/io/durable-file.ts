/**
 * All-or-nothing appends for the CSV stores: one persistent append-mode handle, writes run one
 * at a time, and a failed write is rolled back by truncating to the size before it, so a reader
 * never finds half a record. `AppendHandle` is deliberately narrow: it is the seam tests use to
 * inject disk failures.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { StorageError } from './errors.js';

export interface AppendHandle {
  /** Appends all of `data` (a short write continues where it stopped). */
  append(data: Uint8Array): Promise<void>;
  truncate(length: number): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export type OpenAppendHandle = (file: string) => Promise<AppendHandle>;

export const openAppendHandle: OpenAppendHandle = async (file) => {
  const handle = await fs.open(file, 'a', 0o600);
  return {
    async append(data) {
      for (let offset = 0; offset < data.length; ) {
        const { bytesWritten } = await handle.write(data, offset, data.length - offset);
        offset += bytesWritten;
      }
    },
    truncate: (length) => handle.truncate(length),
    datasync: () => handle.datasync(),
    close: () => handle.close(),
  };
};

export class AppendOnlyFile {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Set when a rollback itself failed: the tail of the file is unknown, so stop appending. */
  private broken: unknown = undefined;

  private constructor(
    readonly file: string,
    private readonly handle: AppendHandle,
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
    try {
      await this.handle.append(data);
      if (opts.sync) await this.handle.datasync();
      this.size = before + data.length;
    } catch (err) {
      try {
        await this.handle.truncate(before);
      } catch (rollbackErr) {
        this.broken = rollbackErr;
      }
      throw new StorageError(this.file, err);
    }
  }

  /** Call inside `serially`. Cuts the file back to `length` bytes and syncs. */
  async truncate(length: number): Promise<void> {
    try {
      await this.handle.truncate(length);
      await this.handle.datasync();
      this.size = length;
      this.broken = undefined;
    } catch (err) {
      throw new StorageError(this.file, err);
    }
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
    }).catch((err: unknown) => {
      if (!(err instanceof StorageError)) throw err;
    });
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
