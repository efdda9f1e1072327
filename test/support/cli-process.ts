/**
 * The real executable (`node bin/statechat.js …`, or `npm start -- …`) in a child process, for
 * the tests that need what only a process has: its stdout, stderr, stdin, exit code and signals.
 * Output is collected as it comes and can be awaited by pattern.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(REPO, 'bin', 'statechat.js');
/** Starting Node + tsx can take a few seconds on a loaded machine. */
export const STARTUP_MS = 20_000;

export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  /** Set once the process has exited and its output streams are closed: nothing more will come. */
  private done = false;

  /** `group`: the child leads a process group of its own (npm runs the server in a child): signal all of it. */
  constructor(
    readonly child: ChildProcess,
    private readonly group = false,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    child.stdin?.on('error', () => {}); // writing to a process that has just exited
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.done = true;
        this.notify();
        resolve({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The port from the banner "statechat … server listening on 127.0.0.1:<port> …". */
  async port(): Promise<number> {
    const [, port] = await this.waitForStdout(/server listening on [\d.]+:(\d+)/);
    return Number(port);
  }

  /** Resolves with stdout's first match of `pattern`; rejects if the process exits first. */
  waitForStdout(pattern: RegExp, timeoutMs = STARTUP_MS): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = this.stdout.match(pattern);
        if (match) return finish(() => resolve(match));
        if (this.done) {
          finish(() => reject(new Error(`exited before printing ${pattern}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`timed out waiting for ${pattern}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** A line on the process's stdin (the server's console). */
  type(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    if (this.group) process.kill(-this.child.pid!, signal);
    else this.child.kill(signal);
  }

  /** Sends `signal` (default SIGKILL) unless the process has exited already; resolves once it has. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.signal(signal);
    await this.exited;
  }

  private notify(): void {
    for (const check of this.waiters) check();
  }
}
