/**
 * Out of file descriptors: the server caps its connections just below RLIMIT_NOFILE, drops
 * the excess itself and says so in the log, keeps every live session, and serves again as soon
 * as connections close. Runs the real executable under a small `ulimit -n`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { REPO, ServerProcess } from './server-process.js';

const FD_LIMIT = 96;
const CLIENTS = 100;

function greeting(socket: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    socket.once('data', () => resolve(true));
    socket.once('close', () => resolve(false));
  });
}

describe('running out of file descriptors', () => {
  it('drops the excess with a log line, keeps live sessions, and serves again once some close', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-fd-'));
    const child = spawn(
      'bash',
      ['-c', `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`, process.execPath, path.join(REPO, 'bin', 'statechat.js'), 'echo', '--port', '0', '--data-dir', dataDir],
      { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const server = new ServerProcess(child);
    const sockets: net.Socket[] = [];
    onTestFinished(async () => {
      for (const s of sockets) s.destroy();
      server.kill();
      await server.exited;
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    const port = await server.port();

    // Connect one at a time so the order of who gets in is the order of connecting.
    const greeted: boolean[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      sockets.push(socket);
      greeted.push(await greeting(socket));
    }

    const served = greeted.filter(Boolean).length;
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThan(CLIENTS);
    expect(greeted.slice(0, served).every(Boolean)).toBe(true); // the first ones in stay in
    await server.waitForStdout(/accept failed \(EMFILE/);

    // A live session still works while the excess is being dropped.
    const live = sockets[0]!;
    const echoed = new Promise<string>((resolve) => live.on('data', (d: Buffer) => resolve(d.toString())));
    live.write('still here\n');
    expect(await echoed).toContain('still here');

    for (const s of sockets) s.destroy();
    await server.waitForStdout(new RegExp(`disconnected conn=c${served} `));
    const again = net.connect(port, '127.0.0.1');
    sockets.push(again);
    expect(await greeting(again)).toBe(true);
    expect(server.child.exitCode).toBe(null);
  }, 60_000);
});
