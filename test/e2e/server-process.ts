/**
 * For browser tests: `statechat server` as a user starts it — a child process through
 * bin/statechat.js — on free ports, with a temp data dir, and its printed addresses parsed.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerProcess {
  chatPort: number;
  /** The inspector page's URL, as the server printed it. */
  inspectorUrl: string;
  output(): string;
  /** Console `shutdown`, then waits for the exit (killed if it hangs); removes the data dir. */
  stop(): Promise<void>;
}

export async function startServerProcess(extraArgs: string[] = [], startTimeoutMs = 15_000): Promise<ServerProcess> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-e2e-'));
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['bin/statechat.js', 'server', '--port', '0', '--inspect', '0', '--data-dir', dataDir, '--scrypt-cost', '1024', ...extraArgs],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let printed = '';
  child.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const addresses = await new Promise<{ chatPort: number; inspectorUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${startTimeoutMs} ms:\n${printed}`)), startTimeoutMs);
    const check = () => {
      const chat = /listening on [\d.]+:(\d+) \(/.exec(printed);
      const inspector = /inspector on (http:\/\/\S+)/.exec(printed);
      if (chat && inspector) {
        clearTimeout(timer);
        resolve({ chatPort: Number(chat[1]), inspectorUrl: inspector[1]! });
      }
    };
    child.stdout.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`server exited before it started:\n${printed}`));
    });
  });

  return {
    ...addresses,
    output: () => printed,
    async stop() {
      if (child.exitCode === null) {
        child.stdin.write('shutdown\n');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
