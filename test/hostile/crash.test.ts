/**
 * The real process (`node bin/statechat.js server`) killed outright, and started on data files
 * that are damaged or under the wrong key.
 *
 * kill -9 during bursts: afterwards every message any client received is in history.csv, each
 * sender's stored messages are a gapless prefix of what it sent, and both CSV files open with the
 * real stores — and the server starts again on them (cutting off an append the kill interrupted).
 *
 * Damaged files (test/integration/cli.test.ts has a clients.csv with a wrong column count and a
 * missing key; these are the rest): a clear error naming the file, exit code 1, and every file in
 * the data dir byte-for-byte as it was.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDataDir, register, signIn, startTestServer, TestClient } from '../integration/harness.js';
import { reopenStores, snapshotDir } from './helpers.js';
import { startServerProcess } from './server-process.js';

const FAST = ['--scrypt-cost', '1024'];
const NAMES = ['alice', 'bob', 'carol'] as const;
/** Texts that CSV must quote: commas, quotes, a leading "=". */
const burst = (who: string, from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `=${who} says "${from + i}", in full`);

/** "login: text" of every chat line a client received from someone else. */
function chatReceived(client: TestClient): string[] {
  return client.lines.filter((l) => /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \w+: /.test(l)).map((l) => l.slice(l.indexOf('] ') + 2));
}

describe('kill -9 during a burst of messages', () => {
  it('keeps every message any client received, nothing half-written, and the server starts again — twice over', async ({
    onTestFinished,
  }) => {
    const dataDir = await makeDataDir();
    onTestFinished(() => fs.rm(dataDir, { recursive: true, force: true }));
    const sent = new Map<string, number>(NAMES.map((n) => [n, 0]));

    for (let run = 1; run <= 2; run++) {
      const server = startServerProcess(['--port', '0', '--data-dir', dataDir, '--rate-limit', '0', ...FAST], onTestFinished);
      const port = await server.port();
      const clients = await Promise.all(NAMES.map((name, i) => signIn(port, name, `secret${i + 1}`, run > 1)));
      clients.forEach((client, i) => {
        const name = NAMES[i]!;
        client.send(...burst(name, sent.get(name)!, 1000));
      });
      await clients[1]!.expect(/ alice: =alice says "\d*50", in full$/, 10_000);

      server.kill('SIGKILL');
      await server.exited;
      await Promise.all(clients.map((client) => client.closed));

      const { users, messages } = await reopenStores(dataDir); // both files parse
      expect(users).toBe(3);
      const stored = new Set(messages);
      for (const client of clients) for (const message of chatReceived(client)) expect(stored).toContain(message);
      for (const name of NAMES) {
        const mine = messages.filter((m) => m.startsWith(`${name}: =`)).map((m) => m.slice(name.length + 2));
        expect(mine).toEqual(burst(name, 0, mine.length));
        sent.set(name, mine.length); // the next run goes on from what was stored
      }
      expect(chatReceived(clients[1]!).length).toBeGreaterThan(0);
    }
  }, 60_000); // two starts of the real process (Node + tsx), slow on a loaded machine
});

describe.concurrent('a damaged data dir', () => {
  let template: string;
  beforeAll(async () => {
    template = await makeDataDir();
    const t = await startTestServer({ dataDir: template });
    await register(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    bob.send('first, "quoted"', 'second', 'third');
    await bob.sync();
    await t.stop();
  });
  afterAll(() => fs.rm(template, { recursive: true, force: true }));

  const line = (text: string, n: number) => text.split('\n')[n - 1]!;

  it.for([
    {
      what: 'history.csv with a row cut short in the middle',
      file: 'history.csv',
      damage: (text: string) => text.replace(line(text, 3), line(text, 3).slice(0, 20)),
      error: /history\.csv, line 3: /,
    },
    {
      what: 'history.csv with its last row cut off by hand (no crash marker)',
      file: 'history.csv',
      damage: (text: string) => text.slice(0, -7),
      error: /history\.csv, line 4: /,
    },
    {
      what: 'history.csv with a quote that is never closed',
      file: 'history.csv',
      damage: (text: string) => `${text}2026-01-01T00:00:00.000Z,alice,"never closed\n2026-01-01T00:00:01.000Z,bob,hi\n`,
      error: /history\.csv, line 5: /,
    },
    {
      what: 'history.csv with a row of four columns',
      file: 'history.csv',
      damage: (text: string) => `${text}2026-01-01T00:00:00.000Z,alice,hi,extra\n`,
      error: /history\.csv, line 5: /,
    },
    {
      // Start-up keeps only the newest rows for replay, but checks every one.
      what: 'history.csv with a bad timestamp in its first row, more than 1 MiB before its end',
      file: 'history.csv',
      damage: (text: string) =>
        text.replace(line(text, 2), line(text, 2).replace(/^[^,]+/, '2026-13-01T00:00:00.000Z')) +
        Array.from({ length: 30_000 }, (_, i) => `${new Date(Date.UTC(2026, 1, 1) + i * 1000).toISOString()},bob,filler ${i}\n`).join(''),
      error: /history\.csv, line 2: timestamp is not an ISO 8601 date-time/,
    },
    {
      what: 'clients.csv with a stray quote in a record',
      file: 'clients.csv',
      damage: (text: string) => text.replace(line(text, 2), `${line(text, 2).slice(0, 70)}"${line(text, 2).slice(70)}`),
      error: /clients\.csv, line 2: /,
    },
    {
      what: 'clients.csv with its last record cut off by hand',
      file: 'clients.csv',
      damage: (text: string) => text.slice(0, -40),
      error: /clients\.csv, line 3: /,
    },
    {
      what: 'a statechat.key that is not a key',
      file: 'statechat.key',
      damage: () => 'not a key\n',
      error: /statechat\.key does not hold a key/,
    },
    {
      what: 'a statechat.key that is another key',
      file: 'statechat.key',
      damage: () => `${randomBytes(32).toString('hex')}\n`,
      error: /the key does not match the records in .*clients\.csv/,
    },
  ])('refuses to start on $what: a clear error, exit 1, every file as it was', { timeout: 45_000 }, async ({ file, damage, error }, { expect, onTestFinished }) => {
    const dataDir = await copyOf(template);
    const target = path.join(dataDir, file);
    await fs.writeFile(target, damage(await fs.readFile(target, 'utf8')));
    const before = await snapshotDir(dataDir);

    const server = startServerProcess(['--port', '0', '--data-dir', dataDir, ...FAST], onTestFinished);
    const { code } = await server.exited;

    expect(code).toBe(1);
    expect(server.stderr).toMatch(/^statechat: cannot start: /);
    expect(server.stderr).toMatch(error);
    expect(await snapshotDir(dataDir)).toEqual(before);
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('refuses to start with a STATECHAT_KEY that is not the one the records were written with', async ({ expect, onTestFinished }) => {
    const dataDir = await copyOf(template);
    const before = await snapshotDir(dataDir);

    const server = startServerProcess(['--port', '0', '--data-dir', dataDir, ...FAST], onTestFinished, {
      STATECHAT_KEY: randomBytes(32).toString('hex'),
    });
    const { code } = await server.exited;

    expect(code).toBe(1);
    expect(server.stderr).toMatch(/the key does not match the records in .*clients\.csv \[STATECHAT_ERR_KEY_MISMATCH\]/);
    expect(await snapshotDir(dataDir)).toEqual(before);
    await fs.rm(dataDir, { recursive: true, force: true });
  }, 45_000);
});

async function copyOf(dir: string): Promise<string> {
  const copy = await makeDataDir();
  await fs.cp(dir, copy, { recursive: true });
  return copy;
}
