/**
 * The data-dir lock (statechat.pid) in one process: taken, refused while held, released, stale
 * when its process is gone, and checked before anything destructive. Two real server processes
 * on one dir: test/hostile/data-dir-lock.test.ts.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, LOCK_FILE_NAME, parseHolder } from '../../src/io/data-dir-lock.js';
import { DataDirLockedError } from '../../src/io/errors.js';

let dir: string;
const lockFile = () => path.join(dir, LOCK_FILE_NAME);

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-lock-'));
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('acquireDataDirLock', () => {
  it('writes this process into statechat.pid, mode 0600, and removes it on release', async () => {
    const lock = await acquireDataDirLock(dir);
    const holder = parseHolder(await fs.readFile(lockFile(), 'utf8'));
    expect(holder?.pid).toBe(process.pid);
    expect((await fs.stat(lockFile())).mode & 0o777).toBe(0o600);
    expect(lock.tookOverFrom).toBeUndefined();
    await lock.release();
    await expect(fs.stat(lockFile())).rejects.toMatchObject({ code: 'ENOENT' });
    await lock.release(); // idempotent
    expect(await fs.readdir(dir)).toEqual([]); // no temp file left behind
  });

  it('refuses a second holder while the first holds the dir, naming the dir and the pid', async () => {
    const first = await acquireDataDirLock(dir);
    const attempt = acquireDataDirLock(dir);
    await expect(attempt).rejects.toThrow(DataDirLockedError);
    await expect(attempt).rejects.toThrow(new RegExp(`data dir ${dir} is in use by another statechat server \\(pid ${process.pid}`));
    await first.release();
    const second = await acquireDataDirLock(dir);
    await second.release();
  });

  it('of many taking the dir at once, exactly one gets it', async () => {
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => acquireDataDirLock(dir)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DataDirLockedError);
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireDataDirLock>>>).value.release();
  });

  it('takes over the lock of a process that is gone, and says whose it was', async () => {
    const pid = await deadPid();
    await fs.writeFile(lockFile(), `${pid}\n12345\n2026-01-01T00:00:00.000Z\n`);
    const lock = await acquireDataDirLock(dir);
    expect(lock.tookOverFrom).toEqual({ pid, startTicks: '12345', since: '2026-01-01T00:00:00.000Z' });
    expect(parseHolder(await fs.readFile(lockFile(), 'utf8'))?.pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over a lock whose pid is alive but was started at another time (a reused pid)', async () => {
    await fs.writeFile(lockFile(), `${process.pid}\n1\n2026-01-01T00:00:00.000Z\n`);
    const lock = await acquireDataDirLock(dir);
    expect(lock.tookOverFrom?.pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over a lock file that is not a lock (written by hand)', async () => {
    await fs.writeFile(lockFile(), 'garbage');
    const lock = await acquireDataDirLock(dir);
    expect(lock.tookOverFrom?.pid).toBe(0);
    await lock.release();
  });

  it('verify() refuses once the lock file no longer names this process, and release() leaves the new holder alone', async () => {
    const lock = await acquireDataDirLock(dir);
    await lock.verify();
    const other = `${process.pid + 1}\nunknown\n2026-01-01T00:00:00.000Z\n`;
    await fs.writeFile(lockFile(), other);
    await expect(lock.verify()).rejects.toThrow(/this server no longer holds the lock/);
    await lock.release();
    expect(await fs.readFile(lockFile(), 'utf8')).toBe(other);
  });
});
