/**
 * The server's log: every line goes to server.log; the console shows it too unless the operator
 * said `stop log`. Console replies (answers to commands) are always shown. Nothing logged here
 * may carry a password; logins are logged as pseudonyms (see `pseudonym`).
 */
import type { Writable } from 'node:stream';
import { isoNow } from '../io/clock.js';
import type { LogFile } from '../io/log-file.js';

export class ServerLog {
  private shown = true;
  /**
   * Console text of this turn, written together when the turn ends: one write instead of one
   * per line (stdout to a terminal, file or pipe is a blocking write(2) per call in Node; 10,000
   * sign-ins logged 20,000 of them). Replies go through here too, so the order is kept.
   */
  private consoleText = '';
  private consoleFlushScheduled = false;

  constructor(
    private readonly file: LogFile,
    private readonly out: Writable,
    /** Maps a login to what the log may show; the chat server passes a keyed hash. */
    readonly pseudonym: (login: string) => string = (login) => login,
  ) {}

  /** An event worth keeping: connection, login, failure, command, error. */
  info(line: string): void {
    this.file.write(line);
    if (this.shown) this.show(`${isoNow().slice(11, 19)} ${line}\n`);
  }

  /** An answer to the operator, shown whatever the log display says; not written to the file. */
  reply(lines: readonly string[]): void {
    for (const line of lines) this.show(`${line}\n`);
  }

  /** Writes what this turn showed so far, now. */
  flushConsole(): void {
    this.consoleFlushScheduled = false;
    if (this.consoleText === '') return;
    const text = this.consoleText;
    this.consoleText = '';
    this.out.write(text);
  }

  private show(text: string): void {
    this.consoleText += text;
    if (this.consoleFlushScheduled) return;
    this.consoleFlushScheduled = true;
    setImmediate(() => this.flushConsole());
  }

  setShown(shown: boolean): void {
    this.shown = shown;
  }

  get isShown(): boolean {
    return this.shown;
  }

  /** Clears a terminal screen; on a pipe there is no screen, so nothing is written. */
  clearScreen(): void {
    if ((this.out as { isTTY?: boolean }).isTTY) this.show('\x1b[2J\x1b[3J\x1b[H');
  }

  clearFile(): Promise<void> {
    return this.file.clear();
  }

  close(): Promise<void> {
    this.flushConsole();
    return this.file.close();
  }
}

