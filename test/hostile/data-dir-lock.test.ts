/**
 * One server per data dir, with real processes: a second server on a locked dir is refused at
 * once and touches nothing; a kill -9 leaves a stale lock the next server takes over; shutdown,
 * SIGINT and SIGTERM release it; and a server whose lock was taken from it clears nothing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME, parseHolder, startTicksOf } from '../../src/io/data-dir-lock.js';
import { makeDataDir, register, signIn } from '../integration/harness.js';
import { snapshotDir } from './helpers.js';
import { startServerProcess } from './server-process.js';

const FAST = ['--scrypt-cost', '1024'];
const TIMEOUT = 45_000; // hang guard: each test starts two or three Node processes

async function lockHolderPid(dataDir: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(dataDir, LOCK_FILE_NAME), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseHolder(text)?.pid;
}

describe('one server per data dir', () => {
  it('refuses a second server on a locked dir: exit 1, one line naming the dir and the pid, no byte changed', { timeout: TIMEOUT }, async ({ onTestFinished }) => {
    const dataDir = await makeDataDir();
    const first = startServerProcess(['--port', '0', '--data-dir', dataDir, ...FAST], onTestFinished);
    const port = await first.port();
    await register(port, 'alice', 'secret1');
    const before = await snapshotDir(dataDir);

    const second = startServerProcess(['--port', '0', '--data-dir', dataDir, ...FAST], onTestFinished);
    const { code } = await second.exited;

    expect(code).toBe(1);
    const lines = second.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^statechat: cannot start: data dir ${path.resolve(dataDir)} is in use by another statechat server \\(pid ${first.child.pid}, since `),
    );
    expect(lines[0]).toMatch(/\[STATECHAT_ERR_DATA_DIR_LOCKED\]$/);
    expect(second.stdout).toBe('');
    expect(await snapshotDir(dataDir)).toEqual(before);
    // The first server is unharmed.
    const alice = await signIn(port, 'alice', 'secret1', true);
    alice.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('after kill -9, the next server takes the stale lock over, says so, and serves', { timeout: TIMEOUT }, async ({ onTestFinished }) => {
    const dataDir = await makeDataDir();
    const first = startServerProcess(['--port', '0', '--data-dir', dataDir, ...FAST], onTestFinished);
    await register(await first.port(), 'alice', 'secret1');
    await first.kill('SIGKILL');
    expect(await lockHolderPid(dataDir)).toBe(first.child.pid); // the kill left it behind

    const next = startServerProcess(['--port', '0', '--data-dir', dataDir, ...FAST], onTestFinished);
    const port = await next.port();
    expect(next.stdout).toContain(`data dir: took over ${path.resolve(dataDir, LOCK_FILE_NAME)} from pid ${first.child.pid}`);
    expect(await lockHolderPid(dataDir)).toBe(next.child.pid);
    const alice = await signIn(port, 'alice', 'secret1', true);
    alice.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it.for(['SIGTERM', 'SIGINT', 'shutdown'] as const)('releases the lock on %s', { timeout: TIMEOUT }, async (how, { expect, onTestFinished }) => {
    const dataDir = await makeDataDir();
    const server = startServerProcess(['--port', '0', '--data-dir', dataDir, ...FAST], onTestFinished);
    await server.port();
    expect(await lockHolderPid(dataDir)).toBe(server.child.pid);
    if (how === 'shutdown') server.type('shutdown');
    else server.signal(how);
    expect((await server.exited).code).toBe(0);
    expect(await fs.readdir(dataDir)).not.toContain(LOCK_FILE_NAME);
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('clears nothing once its lock is no longer its own (removed by hand and taken by another)', { timeout: TIMEOUT }, async ({ onTestFinished }) => {
    const dataDir = await makeDataDir();
    const server = startServerProcess(['--port', '0', '--data-dir', dataDir, ...FAST], onTestFinished);
    await register(await server.port(), 'alice', 'secret1');
    // Another live process now holds the dir: this test runner, by its real start time.
    const startTicks = startTicksOf(process.pid);
    await fs.writeFile(path.join(dataDir, LOCK_FILE_NAME), `${process.pid}\n${startTicks}\n2026-01-01T00:00:00.000Z\n`);
    const clients = await fs.readFile(path.join(dataDir, 'clients.csv'));
    const logBefore = await fs.readFile(path.join(dataDir, 'server.log'), 'utf8');

    server.type('clear file');
    await server.waitForStdout(/clear file failed: .*this server no longer holds the lock on its data dir/);
    server.type('clear log');
    await server.waitForStdout(/clear log failed: .*this server no longer holds the lock/);

    expect(await fs.readFile(path.join(dataDir, 'clients.csv'))).toEqual(clients);
    expect(await fs.readFile(path.join(dataDir, 'server.log'), 'utf8')).toContain(logBefore);
    await server.kill('SIGTERM');
    // Its shutdown leaves the other holder's lock in place.
    expect(await lockHolderPid(dataDir)).toBe(process.pid);
    await fs.rm(dataDir, { recursive: true, force: true });
  });
});
