/**
 * One writer per data dir: `<data-dir>/statechat.pid`, after PostgreSQL's `postmaster.pid`. It
 * names the process holding the dir (pid and the kernel's start time of that process, so that a
 * pid reused after a reboot or a kill -9 is not mistaken for the holder). Taken before anything
 * else in the dir is read or written; removed on shutdown and on exit. A lock whose process is
 * gone is stale: it is taken over, and the caller logs that it was.
 *
 * The lock file is created whole or not at all (durable-file.ts, `linkNewFile`), so of two
 * servers starting together exactly one gets the dir, and nobody reads a half-written lock.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { linkNewFile } from './durable-file.js';
import { DataDirLockedError, UnreadableFileError } from './errors.js';

export const LOCK_FILE_NAME = 'statechat.pid';

/** Who holds a data dir, as its lock file says. */
export interface LockHolder {
  pid: number;
  /** The holder's start time in clock ticks after boot (/proc/<pid>/stat), or 'unknown'. */
  startTicks: string;
  /** When the holder took the lock, ISO 8601. */
  since: string;
}

export interface DataDirLock {
  readonly file: string;
  /** The holder whose lock was taken over because its process is gone, if there was one. */
  readonly tookOverFrom: LockHolder | undefined;
  /**
   * Throws DataDirLockedError unless the lock file still names this process: run before anything
   * destructive (`clear file`, `clear log`), so that a lock removed by hand and taken by another
   * server stops this one from clearing that server's files.
   */
  verify(): Promise<void>;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** A few rounds: each either takes the lock, finds it live, or clears a stale one for the next. */
const MAX_ATTEMPTS = 5;

export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE_NAME);
  const me: LockHolder = { pid: process.pid, startTicks: startTicksOf(process.pid), since: new Date().toISOString() };
  const content = formatHolder(me);
  let tookOverFrom: LockHolder | undefined;

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await linkLock(file, content)) return heldLock(dir, file, content, tookOverFrom);
    const found = await readHolder(file);
    if (found === undefined) continue; // released between our link and our read: try again
    if (found.holder && isAlive(found.holder)) throw new DataDirLockedError(dir, found.holder.pid, found.holder.since);
    // Stale (its process is gone) or unreadable as a lock: move it aside, but only if it is still
    // the file we judged — a racer may have taken over and written a live lock in the meantime.
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await fs.rename(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new UnreadableFileError(file, err);
    }
    const moved = await fs.readFile(aside, 'utf8').catch(() => undefined);
    if (moved !== found.text) {
      await fs.link(aside, file).catch(() => undefined); // put the racer's lock back
    } else {
      tookOverFrom = found.holder ?? { pid: 0, startTicks: 'unknown', since: 'unknown' };
    }
    await fs.rm(aside, { force: true });
  }
  throw new UnreadableFileError(file, new Error(`the lock kept changing under us (${MAX_ATTEMPTS} attempts)`));
}

function heldLock(dir: string, file: string, content: string, tookOverFrom: LockHolder | undefined): DataDirLock {
  let released = false;
  const isOurs = (text: string | undefined) => text === content;
  // A crash (an uncaught exception) ends the process without a shutdown: the lock goes with it.
  const onExit = () => {
    try {
      if (!released && isOurs(readFileSync(file, 'utf8'))) unlinkSync(file);
    } catch {
      // gone already, or unreadable: the next start judges it stale by its pid
    }
  };
  process.once('exit', onExit);
  return {
    file,
    tookOverFrom,
    async verify() {
      const text = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (released || !isOurs(text)) {
        const holder = text === undefined ? undefined : parseHolder(text);
        throw new DataDirLockedError(dir, holder?.pid, holder?.since, 'this server no longer holds the lock on its data dir');
      }
    },
    async release() {
      if (released) return;
      released = true;
      process.removeListener('exit', onExit);
      const text = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (isOurs(text)) await fs.rm(file, { force: true });
    },
  };
}

async function linkLock(file: string, content: string): Promise<boolean> {
  try {
    return await linkNewFile(file, content);
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
}

/** The lock file's text and the holder it names (undefined holder: not a lock we can read). */
async function readHolder(file: string): Promise<{ text: string; holder: LockHolder | undefined } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UnreadableFileError(file, err);
  }
  return { text, holder: parseHolder(text) };
}

function formatHolder(holder: LockHolder): string {
  return `${holder.pid}\n${holder.startTicks}\n${holder.since}\n`;
}

export function parseHolder(text: string): LockHolder | undefined {
  const match = /^([1-9]\d{0,9})\n(\d+|unknown)\n([^\n]+)\n$/.exec(text);
  if (!match) return undefined;
  return { pid: Number(match[1]), startTicks: match[2]!, since: match[3]! };
}

/** Whether the process a lock names still runs: its pid exists and, where /proc tells, started when it did. */
function isAlive(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: it exists, run by another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTicksOf(holder.pid);
  return now === 'unknown' || holder.startTicks === 'unknown' || now === holder.startTicks;
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
export function startTicksOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
