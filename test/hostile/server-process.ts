/**
 * The real executable (`node bin/statechat.js server …`) in a child process, for the cases that
 * need a process to kill or an exit code to read. Every process is killed after its test (the
 * test's own `onTestFinished`, which concurrent tests need).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(REPO, 'bin', 'statechat.js');
/** Starting Node + tsx can take a few seconds on a loaded machine. */
const STARTUP_MS = 20_000;

export class ServerProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly changed = new Set<() => void>();
  private done = false;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    child.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.done = true;
        this.notify();
        resolve({ code, signal });
      }),
    );
  }

  /** The port from the banner "… listening on 127.0.0.1:<port> …". */
  async port(): Promise<number> {
    const [, port] = await this.waitForStdout(/listening on 127\.0\.0\.1:(\d+)/);
    return Number(port);
  }

  waitForStdout(pattern: RegExp, timeoutMs = STARTUP_MS): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = this.stdout.match(pattern);
        if (match) return finish(() => resolve(match));
        if (this.done) finish(() => reject(new Error(`exited before printing ${pattern}:\n${this.stdout}\n${this.stderr}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${pattern}:\n${this.stdout}\n${this.stderr}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.changed.delete(check);
        settle();
      };
      this.changed.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  private notify(): void {
    for (const check of this.changed) check();
  }
}

/** `statechat server <args>`, killed when the test finishes. `STATECHAT_KEY` only if given. */
export function startServerProcess(
  args: string[],
  onTestFinished: (cleanup: () => Promise<void>) => void,
  env: Record<string, string> = {},
): ServerProcess {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!env.STATECHAT_KEY) delete fullEnv.STATECHAT_KEY;
  const child = spawn(process.execPath, [BIN, 'server', ...args], { cwd: REPO, env: fullEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  const server = new ServerProcess(child);
  onTestFinished(async () => {
    server.kill();
    await server.exited;
  });
  return server;
}
