/**
 * The data-dir lock (statechat.pid) in one process: taken, refused while held, released, stale
 * when its process is gone, and checked before anything destructive. Two real server processes
 * on one dir: test/hostile/data-dir-lock.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquireDataDirLock, LOCK_FILE_NAME, parseHolder, startTicksOf } from '../../src/io/data-dir-lock.js';
import { DataDirLockedError, UnreadableFileError } from '../../src/io/errors.js';

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

describe('acquireDataDirLock, the odd cases', () => {
  it('says whose lock it took over when the old one was not a lock: nobody known', async () => {
    await fs.writeFile(lockFile(), `${process.pid}\n`);
    const lock = await acquireDataDirLock(dir);
    expect(lock.tookOverFrom).toEqual({ pid: 0, startTicks: 'unknown', since: 'unknown' });
    expect(await fs.readdir(dir)).toEqual([LOCK_FILE_NAME]); // the old one moved aside, then removed
    await lock.release();
  });

  it('refuses a live holder whose start time is unknown (no /proc when it wrote the lock)', async () => {
    await fs.writeFile(lockFile(), `${process.pid}\nunknown\n2026-01-01T00:00:00.000Z\n`);
    const attempt = acquireDataDirLock(dir);
    await expect(attempt).rejects.toThrow(DataDirLockedError);
    await expect(attempt).rejects.toMatchObject({ pid: process.pid });
  });

  it('says a lock it cannot read (a directory) cannot be read, and leaves it', async () => {
    await fs.mkdir(lockFile());
    const attempt = acquireDataDirLock(dir);
    await expect(attempt).rejects.toThrow(UnreadableFileError);
    await expect(attempt).rejects.toThrow(`${lockFile()}: cannot be read (EISDIR`);
    expect((await fs.stat(lockFile())).isDirectory()).toBe(true);
  });

  it('gives up, saying so, on a lock that is there but never readable (a dangling symlink)', async () => {
    await fs.symlink(path.join(dir, 'nowhere'), lockFile());
    const attempt = acquireDataDirLock(dir);
    await expect(attempt).rejects.toThrow(UnreadableFileError);
    await expect(attempt).rejects.toThrow('the lock kept changing under us (5 attempts)');
  });

  it('says a data dir that does not exist cannot take a lock', async () => {
    const missing = path.join(dir, 'missing');
    const attempt = acquireDataDirLock(missing);
    await expect(attempt).rejects.toThrow(UnreadableFileError);
    await expect(attempt).rejects.toThrow(`${path.join(missing, LOCK_FILE_NAME)}: cannot be read (ENOENT`);
  });
});

describe('a held lock', () => {
  /** The 'exit' listener that acquiring a lock added (the crash path: no shutdown, no release). */
  async function acquireWithExitHook(): Promise<{ lock: Awaited<ReturnType<typeof acquireDataDirLock>>; onExit: () => void }> {
    const before = new Set(process.listeners('exit'));
    const lock = await acquireDataDirLock(dir);
    const added = process.listeners('exit').filter((listener) => !before.has(listener));
    expect(added).toHaveLength(1);
    return { lock, onExit: added[0] as () => void };
  }

  it('is removed when the process exits without releasing it, and release() then takes its exit hook away', async () => {
    const { lock, onExit } = await acquireWithExitHook();
    onExit();
    await expect(fs.stat(lockFile())).rejects.toMatchObject({ code: 'ENOENT' });
    onExit(); // gone already: nothing to do, nothing thrown
    await lock.release();
    expect(process.listeners('exit')).not.toContain(onExit);
  });

  it('is not removed at exit once another server holds the dir', async () => {
    const { lock, onExit } = await acquireWithExitHook();
    const other = `${process.pid + 1}\nunknown\n2026-01-01T00:00:00.000Z\n`;
    await fs.writeFile(lockFile(), other);
    onExit();
    expect(await fs.readFile(lockFile(), 'utf8')).toBe(other);
    await lock.release();
  });

  it('verify() names the new holder, or nobody when the lock file was removed', async () => {
    const lock = await acquireDataDirLock(dir);
    await fs.writeFile(lockFile(), `${process.pid + 1}\nunknown\n2026-01-01T00:00:00.000Z\n`);
    const named = lock.verify();
    await expect(named).rejects.toMatchObject({ pid: process.pid + 1 });
    await expect(named).rejects.toThrow(`(${dir} is held by pid ${process.pid + 1}, since 2026-01-01T00:00:00.000Z)`);
    await fs.rm(lockFile());
    const nobody = lock.verify();
    await expect(nobody).rejects.toThrow(DataDirLockedError);
    await expect(nobody).rejects.toThrow(`(${dir} is held by another process)`);
    await lock.release();
  });

  it('once released, neither verifies nor removes the lock of its successor, even one written in the same millisecond', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-01T12:00:00.000Z') });
    try {
      const first = await acquireDataDirLock(dir);
      await first.release();
      const second = await acquireDataDirLock(dir);
      const text = await fs.readFile(lockFile(), 'utf8');
      await expect(first.verify()).rejects.toThrow(/this server no longer holds the lock/);
      await first.release();
      expect(await fs.readFile(lockFile(), 'utf8')).toBe(text);
      await second.verify();
      await second.release();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('parseHolder', () => {
  it('reads pid, start ticks and since, one a line', () => {
    expect(parseHolder('42\n123\n2026-01-01T00:00:00.000Z\n')).toEqual({ pid: 42, startTicks: '123', since: '2026-01-01T00:00:00.000Z' });
    expect(parseHolder('42\nunknown\nx\n')).toEqual({ pid: 42, startTicks: 'unknown', since: 'x' });
  });

  it.each([['x42\n1\ns\n'], ['\n42\n1\ns\n'], ['42\n1\ns\nmore\n'], ['42\n1\ns'], ['042\n1\ns\n'], ['42\n1x\ns\n'], ['42\n1\n\n']])(
    'is no holder for %j',
    (text) => {
      expect(parseHolder(text)).toBeUndefined();
    },
  );
});

describe('startTicksOf', () => {
  it("is a process's start in clock ticks after boot (/proc/<pid>/stat field 22)", () => {
    const ticks = Number(startTicksOf(process.pid));
    const bootTime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
    const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    const startedAt = Date.now() / 1000 - process.uptime();
    expect(Math.abs(bootTime + ticks / ticksPerSecond - startedAt)).toBeLessThan(3);
  });

  it('is unknown for a process that is gone', async () => {
    expect(startTicksOf(await deadPid())).toBe('unknown');
  });
});
