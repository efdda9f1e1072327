/**
 * history.csv of the format before rooms (`timestamp,login,text`) is rewritten at open in the
 * room format, every row in #lobby: checked whole first (a damaged file is refused, untouched),
 * then written beside it and renamed over it — so a kill -9 at any moment leaves the complete old
 * file or the complete new one, and the next open finishes the job.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replacementFile } from '../../src/io/durable-file.js';
import { CorruptFileError, StorageError } from '../../src/io/errors.js';
import { HISTORY_HEADER, OLD_HISTORY_HEADER, openCsvHistoryStore } from '../../src/io/history-store-csv.js';
import type { ChatMessage } from '../../src/io/stores.js';
import { LOBBY } from '../../src/machines/protocol.js';
import { CliProcess, REPO, STARTUP_MS } from '../support/cli-process.js';

const OLD_HEADER_LINE = `${OLD_HISTORY_HEADER.join(',')}\n`;
const NEW_HEADER_LINE = `${HISTORY_HEADER.join(',')}\n`;
const FIXTURE = path.join(REPO, 'test', 'io', 'fixtures', 'migrate-history.ts');

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-migration-'));
  file = path.join(dir, 'history.csv');
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** `count` messages as the old format held them: awkward texts, logins, a CRLF row or two. */
function oldMessages(count: number): ChatMessage[] {
  const start = Date.UTC(2025, 0, 1);
  return Array.from({ length: count }, (_, i) => ({
    at: new Date(start + i * 1000).toISOString(),
    room: LOBBY,
    login: `user${i % 13}`,
    text: i % 5 === 0 ? `line ${i}, with "quotes"\nand a newline` : i % 7 === 0 ? '' : `message ${i}`,
  }));
}

/** The bytes of an old-format history.csv holding `messages`. */
function oldFile(messages: ChatMessage[]): Buffer {
  return Buffer.from(OLD_HEADER_LINE + stringify(messages.map((m) => [m.at, m.login, m.text])));
}

/** The bytes the migration must produce for `messages`: the same rows with #lobby after the timestamp. */
function newFile(messages: ChatMessage[]): Buffer {
  return Buffer.from(NEW_HEADER_LINE + stringify(messages.map((m) => [m.at, LOBBY, m.login, m.text])));
}

async function allMessages(keep: number): Promise<ChatMessage[]> {
  const store = await openCsvHistoryStore({ file, keep });
  try {
    return await store.recent(LOBBY, keep);
  } finally {
    await store.close();
  }
}

describe('migration of history.csv to the room format', () => {
  it('rewrites every row into #lobby, byte for byte otherwise, and says how many rows it moved', async () => {
    const messages = oldMessages(500);
    await fs.writeFile(file, oldFile(messages));
    const told: number[] = [];

    const store = await openCsvHistoryStore({ file, keep: 1000, onMigrated: (rows) => told.push(rows) });
    const recent = await store.recent(LOBBY, 1000);
    await store.close();

    expect(told).toEqual([500]);
    expect(recent).toEqual(messages);
    expect((await fs.readFile(file)).equals(newFile(messages)), 'the file is the new format of the same rows').toBe(true);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    await expect(fs.access(replacementFile(file))).rejects.toThrow();
  });

  it('keeps the line ends of a file saved with CRLF, and migrates a file with only its header', async () => {
    await fs.writeFile(file, 'timestamp,login,text\r\n2025-01-01T00:00:00.000Z,alice,hi\r\n2025-01-01T00:00:01.000Z,bob,"a,b"\r\n');
    const told: number[] = [];
    const store = await openCsvHistoryStore({ file, onMigrated: (rows) => told.push(rows) });
    expect((await store.recent(LOBBY, 10)).map((m) => `${m.room} ${m.login}: ${m.text}`)).toEqual(['#lobby alice: hi', '#lobby bob: a,b']);
    await store.close();
    expect(await fs.readFile(file, 'utf8')).toBe(
      `${NEW_HEADER_LINE}2025-01-01T00:00:00.000Z,#lobby,alice,hi\r\n2025-01-01T00:00:01.000Z,#lobby,bob,"a,b"\r\n`,
    );

    await fs.writeFile(file, OLD_HEADER_LINE);
    const empty = await openCsvHistoryStore({ file, onMigrated: (rows) => told.push(rows) });
    await empty.close();
    expect(told).toEqual([2, 0]);
    expect(await fs.readFile(file, 'utf8')).toBe(NEW_HEADER_LINE);
  });

  it('does not migrate again at the next open, and appends in the new format after the migrated rows', async () => {
    const messages = oldMessages(20);
    await fs.writeFile(file, oldFile(messages));
    const told: number[] = [];
    const first = await openCsvHistoryStore({ file, onMigrated: (rows) => told.push(rows) });
    const after: ChatMessage = { at: '2026-01-01T00:00:00.000Z', room: '#dev', login: 'carol', text: 'new' };
    await first.append(after);
    await first.close();

    const again = await openCsvHistoryStore({ file, onMigrated: (rows) => told.push(rows) });
    expect(await again.recent(LOBBY, 100)).toEqual(messages);
    expect(await again.recent('#dev', 100)).toEqual([after]);
    await again.close();

    expect(told).toEqual([20]);
    expect((await fs.readFile(file, 'utf8')).endsWith('2026-01-01T00:00:00.000Z,#dev,carol,new\n')).toBe(true);
  });

  it('refuses a damaged old file with its line, leaves it byte-identical and writes nothing beside it', async () => {
    // The damage is far from the end (a start-up reading only the tail would miss it), in small chunks.
    const rows = oldFile(oldMessages(3000)).toString('utf8').split('\n');
    rows.splice(11, 0, '2025-01-01T00:00:00.000Z,only two'); // line 12 of the file
    await fs.writeFile(file, rows.join('\n'));
    const before = await fs.readFile(file);
    const told: number[] = [];

    const attempt = openCsvHistoryStore({ file, chunkBytes: 1024, onMigrated: (n) => told.push(n) });

    await expect(attempt).rejects.toBeInstanceOf(CorruptFileError);
    await expect(attempt).rejects.toMatchObject({ file, line: 12, reason: expect.stringMatching(/expected 3 fields, found 2/) });
    expect((await fs.readFile(file)).equals(before), 'the file is byte-identical').toBe(true);
    expect(await fs.readdir(dir)).toEqual(['history.csv']);
    expect(told).toEqual([]);
  });

  it('refuses an old file with a bad timestamp, untouched', async () => {
    await fs.writeFile(file, `${OLD_HEADER_LINE}2025-01-01T00:00:00.000Z,a,b\nyesterday,a,b\n`);
    const before = await fs.readFile(file);
    await expect(openCsvHistoryStore({ file })).rejects.toMatchObject({ line: 3, reason: expect.stringMatching(/ISO 8601/) });
    expect((await fs.readFile(file)).equals(before)).toBe(true);
  });

  it('fails a rewrite that could not be completed with a StorageError, the old file whole, and migrates at the next open', async () => {
    const messages = oldMessages(50);
    await fs.writeFile(file, oldFile(messages));
    const before = await fs.readFile(file);

    // While the temp file is written: the error names the temp file, where the write failed.
    const writing = openCsvHistoryStore({ file, onMigrationStep: (step) => { if (step === 'writing') throw new Error('disk full'); } });
    await expect(writing).rejects.toBeInstanceOf(StorageError);
    await expect(writing).rejects.toThrow(`${replacementFile(file)}: `);
    expect((await fs.readFile(file)).equals(before)).toBe(true);

    // After it was written, before the rename: an error that is not a file's becomes history.csv's.
    const written = openCsvHistoryStore({ file, onMigrationStep: (step) => { if (step === 'written') throw new Error('power cut'); } });
    await expect(written).rejects.toBeInstanceOf(StorageError);
    await expect(written).rejects.toMatchObject({ file, cause: expect.objectContaining({ message: 'power cut' }) });
    expect((await fs.readFile(file)).equals(before)).toBe(true);

    expect(await allMessages(100)).toEqual(messages);
  });

  it('removes a temp file a crash left behind, and migrates from the intact old file', async () => {
    const messages = oldMessages(10);
    await fs.writeFile(file, oldFile(messages));
    await fs.writeFile(replacementFile(file), 'timestamp,room,login,text\n2025-01-01T00:00:00.000Z,#lob'); // half-written

    expect(await allMessages(100)).toEqual(messages);
    await expect(fs.access(replacementFile(file))).rejects.toThrow();
  });

  describe('killed with SIGKILL half-way', () => {
    /** Enough rows (about 13 MB) that the rewrite takes many writes. */
    const ROWS = 200_000;
    let messages: ChatMessage[];
    let oldBytes: Buffer;
    let newBytes: Buffer;
    beforeEach(() => {
      messages ??= oldMessages(ROWS);
      oldBytes ??= oldFile(messages);
      newBytes ??= newFile(messages);
    });

    /** Runs the fixture on the old file until it stops at `step`, then kills it there. */
    async function killAt(step: 'writing' | 'written' | 'renamed'): Promise<void> {
      await fs.writeFile(file, oldBytes);
      const child = new CliProcess(spawn(process.execPath, ['--import', 'tsx', FIXTURE, file, step], { cwd: REPO, stdio: 'pipe' }));
      try {
        await child.waitForStdout(new RegExp(`paused at ${step}`), STARTUP_MS);
      } finally {
        await child.kill('SIGKILL');
      }
      expect((await child.exited).signal).toBe('SIGKILL');
    }

    it.each([
      ['while writing the new file', 'writing'],
      ['with the new file written and synced, before the rename', 'written'],
    ] as const)('%s: leaves the complete old file, and the next open migrates every row', async (_, step) => {
      await killAt(step);

      expect((await fs.readFile(file)).equals(oldBytes), 'history.csv is the complete old file').toBe(true);
      // The kill came where it was meant to: the new file part-written, or whole, beside the old.
      const tmp = await fs.readFile(replacementFile(file));
      if (step === 'writing') expect(tmp.length).toBeGreaterThan(0);
      if (step === 'writing') expect(tmp.length).toBeLessThan(newBytes.length);
      if (step === 'written') expect(tmp.equals(newBytes)).toBe(true);
      const told: number[] = [];
      const store = await openCsvHistoryStore({ file, keep: ROWS, onMigrated: (rows) => told.push(rows) });
      const recent = await store.recent(LOBBY, ROWS);
      await store.close();
      expect(told).toEqual([ROWS]);
      expect(recent).toEqual(messages);
      expect((await fs.readFile(file)).equals(newBytes), 'history.csv is now the complete new file').toBe(true);
      await expect(fs.access(replacementFile(file))).rejects.toThrow();
    }, 60_000);

    it('just after the rename: leaves the complete new file, which the next open reads without migrating', async () => {
      await killAt('renamed');

      expect((await fs.readFile(file)).equals(newBytes), 'history.csv is the complete new file').toBe(true);
      const told: number[] = [];
      const store = await openCsvHistoryStore({ file, keep: ROWS, onMigrated: (rows) => told.push(rows) });
      const recent = await store.recent(LOBBY, ROWS);
      await store.close();
      expect(told).toEqual([]);
      expect(recent).toEqual(messages);
    }, 60_000);
  });
});
