/**
 * The server log (server.log): one timestamped line per write() call. Writing never throws — a
 * failing log must not take the server down — and the lines of one event-loop turn go out
 * together, in one append when the turn ends. clear() is ordered with writes: lines written
 * before it are cleared, lines written after it are kept.
 */
import { isoNow } from './clock.js';
import { openAppendHandle, type AppendHandle } from './durable-file.js';
import { StorageError, UnreadableFileError } from './errors.js';

export class LogFile {
  /**
   * Lines of this event-loop turn, appended together when it ends: one write(2) per turn instead
   * of one per line (a sign-in logs two; 10,000 sign-ins in ten seconds were 20,000 writes).
   */
  private pending: string[] = [];
  private writeScheduled = false;
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
    this.pending.push(`${isoNow()} ${String(line).replace(/[\r\n]+/g, ' ')}\n`);
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    setImmediate(() => this.writePending());
  }

  /** Empties the file; later writes keep appending at the (new) end. */
  clear(): Promise<void> {
    this.pending = []; // lines not written yet belong before the cut
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
    this.writePending();
    return this.serially(async () => undefined);
  }

  close(): Promise<void> {
    if (!this.closing) this.writePending();
    this.closing ??= this.serially(() => this.handle.close()).catch(() => undefined);
    return this.closing;
  }

  /** Queues this turn's lines as one append. */
  private writePending(): void {
    this.writeScheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.serially(() => this.handle.append(Buffer.from(lines.join('')))).catch(() => {
      // Nowhere better to report a log failure; the lines are dropped.
    });
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
