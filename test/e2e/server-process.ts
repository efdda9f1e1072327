/**
 * For browser tests: `statechat server` as a user starts it — a child process through
 * bin/statechat.js — on free ports, with a temp data dir, and its printed addresses parsed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BIN, CliProcess, REPO } from '../support/cli-process.js';

export interface ServerProcess {
  chatPort: number;
  /** The inspector page's URL, as the server printed it. */
  inspectorUrl: string;
  output(): string;
  /** Types a line on the server's console. */
  type(line: string): void;
  /** Console `shutdown`, then waits for the exit (killed if it hangs); removes the data dir. */
  stop(): Promise<void>;
}

export async function startServerProcess(extraArgs: string[] = [], startTimeoutMs = 15_000): Promise<ServerProcess> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-e2e-'));
  const server = new CliProcess(
    spawn(
      process.execPath,
      [BIN, 'server', '--port', '0', '--inspect', '0', '--data-dir', dataDir, '--scrypt-cost', '1024', ...extraArgs],
      { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] },
    ),
  );
  let chatPort: number;
  let inspectorUrl: string;
  try {
    chatPort = await server.port();
    [, inspectorUrl = ''] = await server.waitForStdout(/inspector on (http:\/\/\S+)/, startTimeoutMs);
  } catch (err) {
    await server.kill();
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    chatPort,
    inspectorUrl,
    output: () => server.stdout + server.stderr,
    type: (line) => server.type(line),
    async stop() {
      if (server.running) {
        server.type('shutdown');
        const killer = setTimeout(() => server.signal('SIGKILL'), 10_000);
        await server.exited;
        clearTimeout(killer);
      }
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
