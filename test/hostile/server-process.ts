/**
 * `statechat server …` in a child process, for the cases that need a process to kill or an exit
 * code to read. Every process is killed after its test (the test's own `onTestFinished`, which
 * concurrent tests need).
 */
import { spawn } from 'node:child_process';
import { BIN, CliProcess, REPO } from '../support/cli-process.js';

export { CliProcess as ServerProcess, REPO } from '../support/cli-process.js';

/** `statechat server <args>`, killed when the test finishes. `STATECHAT_KEY` only if given. */
export function startServerProcess(
  args: string[],
  onTestFinished: (cleanup: () => Promise<void>) => void,
  env: Record<string, string> = {},
): CliProcess {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!env.STATECHAT_KEY) delete fullEnv.STATECHAT_KEY;
  const child = spawn(process.execPath, [BIN, 'server', ...args], { cwd: REPO, env: fullEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  const server = new CliProcess(child);
  onTestFinished(() => server.kill());
  return server;
}
