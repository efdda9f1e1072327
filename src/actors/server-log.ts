/**
 * The server's log: every line goes to server.log; the console shows it too unless the operator
 * said `stop log`. Console replies (answers to commands) are always shown. Nothing logged here
 * may carry a password; logins are logged as pseudonyms (see `pseudonym`).
 */
import type { Writable } from 'node:stream';
import type { LogFile } from '../io/log-file.js';

export class ServerLog {
  private shown = true;

  constructor(
    private readonly file: LogFile,
    private readonly out: Writable,
    /** Maps a login to what the log may show; the chat server passes a keyed hash. */
    readonly pseudonym: (login: string) => string = (login) => login,
  ) {}

  /** An event worth keeping: connection, login, failure, command, error. */
  info(line: string): void {
    this.file.write(line);
    if (this.shown) this.out.write(`${timeOfDay()} ${line}\n`);
  }

  /** An answer to the operator, shown whatever the log display says; not written to the file. */
  reply(lines: readonly string[]): void {
    for (const line of lines) this.out.write(`${line}\n`);
  }

  setShown(shown: boolean): void {
    this.shown = shown;
  }

  get isShown(): boolean {
    return this.shown;
  }

  /** Clears a terminal screen; on a pipe there is no screen, so nothing is written. */
  clearScreen(): void {
    if ((this.out as { isTTY?: boolean }).isTTY) this.out.write('\x1b[2J\x1b[3J\x1b[H');
  }

  clearFile(): Promise<void> {
    return this.file.clear();
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

function timeOfDay(): string {
  return new Date().toISOString().slice(11, 19);
}
