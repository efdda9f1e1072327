/**
 * A copy of the repository's files (tracked and untracked, not ignored) in a temp dir, with
 * node_modules linked: for tests that run the package's own commands as a user would, without
 * touching this checkout's data/ or dist/.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './cli-process.js';

export async function copyRepository(): Promise<string> {
  const copy = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-copy-'));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const file of files) {
    const from = path.join(REPO, file);
    if (!(await fs.stat(from).catch(() => undefined))?.isFile()) continue; // deleted, not yet committed
    await fs.mkdir(path.dirname(path.join(copy, file)), { recursive: true });
    await fs.copyFile(from, path.join(copy, file));
  }
  await fs.symlink(path.join(REPO, 'node_modules'), path.join(copy, 'node_modules'));
  return copy;
}
