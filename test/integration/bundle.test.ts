/**
 * bin/statechat.js runs a bundle of src/ (bin/bundle.js): built on the first start, rebuilt once a
 * source is newer — an edit is never run stale — and, where it cannot be built, the sources run
 * through tsx. Each case runs the real executable in a copy of the repository.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliProcess } from '../support/cli-process.js';
import { copyRepository } from '../support/repo-copy.js';

let copy: string;

beforeEach(async () => {
  copy = await copyRepository();
});

afterEach(async () => {
  await fs.rm(copy, { recursive: true, force: true });
});

/** `statechat echo --help` in the copy: its output and exit code. */
async function echoHelp(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(copy, 'bin', 'statechat.js'), 'echo', '--help'], { cwd: copy, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new CliProcess(child);
  const { code } = await proc.exited;
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

const bundleOf = (dir: string) => path.join(dir, 'dist', 'statechat.mjs');

describe('the bundle bin/statechat.js runs', () => {
  it('is built on the first start, and reused while no source is newer', { timeout: 60_000 }, async () => {
    await expect(fs.stat(bundleOf(copy))).rejects.toThrow();
    const first = await echoHelp();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Usage: statechat echo/);
    const built = await fs.stat(bundleOf(copy));
    const again = await echoHelp();
    expect(again.stdout).toBe(first.stdout);
    expect((await fs.stat(bundleOf(copy))).mtimeMs).toBe(built.mtimeMs);
  });

  it('is rebuilt after an edit: what runs is the edited source', { timeout: 60_000 }, async () => {
    expect((await echoHelp()).stdout).toMatch(/^Usage: statechat echo/);
    const config = path.join(copy, 'src', 'io', 'config.ts');
    const source = await fs.readFile(config, 'utf8');
    expect(source).toContain('Usage: statechat echo');
    await fs.writeFile(config, source.replace('Usage: statechat echo', 'Usage (edited): statechat echo'));
    // An edit in the same millisecond as the build would compare equal: the edit is dated after it.
    const later = new Date((await fs.stat(bundleOf(copy))).mtimeMs + 1000);
    await fs.utimes(config, later, later);
    const edited = await echoHelp();
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.stdout).toMatch(/^Usage \(edited\): statechat echo/);
    expect(await fs.readFile(bundleOf(copy), 'utf8')).toContain('Usage (edited): statechat echo');
  });

  it('where dist/ cannot be made, the sources run through tsx instead', { timeout: 60_000 }, async () => {
    // A file where the directory should be: the bundle cannot be written.
    await fs.writeFile(path.join(copy, 'dist'), 'not a directory');
    const help = await echoHelp();
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: statechat echo/);
    expect(await fs.readFile(path.join(copy, 'dist'), 'utf8')).toBe('not a directory');
  });
});
