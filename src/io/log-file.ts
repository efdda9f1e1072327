/**
 * The server log (server.log): one timestamped line per write() call. Writing never blocks or
 * throws — a failing log must not take the server down — and lines written in the same turn go
 * out together. clear() is ordered with writes: lines written before it are cleared, lines
 * written after it are kept.
 */
import { openAppendHandle, type AppendHandle } from './durable-file.js';
import { StorageError, UnreadableFileError } from './errors.js';

export class LogFile {
  /** Lines waiting for a queued write; undefined once that write has taken them. */
  private batch: string[] | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly file: string,
    private readonly handle: AppendHandle,
  ) {}

  static async open(file: string): Promise<LogFile> {
    try {
      return new LogFile(file, await openAppendHandle(file));
    } catch (err) {
      throw new UnreadableFileError(file, err);
    }
  }

  write(line: string): void {
    if (this.closing) return;
    // CR/LF would let one call (or a client's text quoted in it) forge extra log lines.
    const entry = `${new Date().toISOString()} ${String(line).replace(/[\r\n]+/g, ' ')}\n`;
    if (this.batch) {
      this.batch.push(entry);
      return;
    }
    const batch = [entry];
    this.batch = batch;
    this.serially(async () => {
      if (this.batch === batch) this.batch = undefined;
      await this.handle.append(Buffer.from(batch.join('')));
    }).catch(() => {
      // Nowhere better to report a log failure; the lines are dropped.
    });
  }

  /** Empties the file; later writes keep appending at the (new) end. */
  clear(): Promise<void> {
    this.batch = undefined; // lines still waiting belong before the cut, in the queued write
    return this.serially(async () => {
      try {
        await this.handle.truncate(0);
      } catch (err) {
        throw new StorageError(this.file, err);
      }
    });
  }

  /** Resolves once every line written so far has reached the file. */
  flush(): Promise<void> {
    return this.serially(async () => undefined);
  }

  close(): Promise<void> {
    this.closing ??= this.serially(() => this.handle.close()).catch(() => undefined);
    return this.closing;
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
