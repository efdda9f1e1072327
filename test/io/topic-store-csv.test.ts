/**
 * topics.csv: one row per room with a topic, rewritten whole (temp file, fsync, rename) on every
 * change; every row checked at open, a damaged file refused with its line and left as it was.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replacementFile, type ReplaceStep } from '../../src/io/durable-file.js';
import { CorruptFileError, StorageError, UnreadableFileError } from '../../src/io/errors.js';
import type { Topic, TopicStore } from '../../src/io/stores.js';
import { openCsvTopicStore, TOPICS_HEADER } from '../../src/io/topic-store-csv.js';

const HEADER_LINE = `${TOPICS_HEADER.join(',')}\n`;
let dir: string;
let file: string;
const opened: TopicStore[] = [];

async function open(onRewriteStep?: (step: ReplaceStep) => void | Promise<void>): Promise<TopicStore> {
  const store = await openCsvTopicStore({ file, onRewriteStep });
  opened.push(store);
  return store;
}

const topic = (text: string, by = 'alice', at = '2026-01-01T10:00:00.000Z'): Topic => ({ text, by, at });

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-topics-'));
  file = path.join(dir, 'topics.csv');
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await fs.rm(dir, { recursive: true, force: true });
});

describe('CSV topic store', () => {
  it('creates a missing file with just the header, mode 0600, and holds no topics', async () => {
    const store = await open();
    expect(store.all().size).toBe(0);
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it('sets, replaces and clears topics, and a reopened store reads back exactly what was left', async () => {
    const store = await open();
    await store.set('#dev', topic('releases, "Friday"\nand a second line', 'bob'));
    await store.set('#lobby', topic('=welcome'));
    await store.set('#ops', topic('pager duty'));
    await store.set('#dev', topic('release on Monday', 'carol', '2026-01-02T00:00:00.000Z'));
    await store.set('#ops', undefined);

    const expected = new Map([
      ['#dev', topic('release on Monday', 'carol', '2026-01-02T00:00:00.000Z')],
      ['#lobby', topic('=welcome')],
    ]);
    expect(new Map(store.all())).toEqual(expected);
    await store.close();

    expect(new Map((await open()).all())).toEqual(expected);
    // Strict CSV an independent parser reads the same; one row per room; no temp file left.
    const rows = parse(await fs.readFile(file), { relax_quotes: false, relax_column_count: false }) as string[][];
    expect(rows).toEqual([
      [...TOPICS_HEADER],
      ['#dev', 'release on Monday', 'carol', '2026-01-02T00:00:00.000Z'],
      ['#lobby', '=welcome', 'alice', '2026-01-01T10:00:00.000Z'],
    ]);
    await expect(fs.access(replacementFile(file))).rejects.toThrow();
  });

  it('keys rooms case-insensitively: #Dev and #dev are one room, stored as its key', async () => {
    const store = await open();
    await store.set('#Dev', topic('first'));
    await store.set('#DEV', topic('second'));
    expect([...store.all().keys()]).toEqual(['#dev']);
    expect(store.all().get('#dev')?.text).toBe('second');
    await store.set('#dEv', undefined);
    expect(store.all().size).toBe(0);
  });

  it('clearing a room without a topic changes nothing that matters', async () => {
    const store = await open();
    await store.set('#dev', topic('kept'));
    await store.set('#nowhere', undefined);
    await store.close();
    expect([...(await open()).all().keys()]).toEqual(['#dev']);
  });

  it('resolves a set only once the new file is in place, and all() shows it only then', async () => {
    let release!: () => void;
    const steps: ReplaceStep[] = [];
    const store = await open(async (step) => {
      steps.push(step);
      if (step === 'written') await new Promise<void>((resolve) => (release = resolve));
    });
    let settled = false;
    const setting = store.set('#dev', topic('pending')).then(() => (settled = true));
    await expect.poll(() => steps).toEqual(['written']);

    expect(settled).toBe(false);
    expect(store.all().has('#dev')).toBe(false);
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE); // not renamed yet: the old file
    release();
    await setting;
    expect(steps).toEqual(['written', 'renamed']);
    expect(store.all().get('#dev')?.text).toBe('pending');
    expect(await fs.readFile(file, 'utf8')).toContain('#dev,pending');
  });

  it('applies concurrent sets in the order asked', async () => {
    const store = await open();
    await Promise.all([store.set('#a', topic('1')), store.set('#a', topic('2')), store.set('#b', topic('3')), store.set('#a', undefined)]);
    expect(new Map(store.all())).toEqual(new Map([['#b', topic('3')]]));
    await store.close();
    expect(new Map((await open()).all())).toEqual(new Map([['#b', topic('3')]]));
  });

  it('refuses a bad room or timestamp without touching the file, and a set after close', async () => {
    const store = await open();
    await expect(store.set('dev', topic('x'))).rejects.toThrow(TypeError);
    await expect(store.set('#has space', topic('x'))).rejects.toThrow(TypeError);
    await expect(store.set('#dev', topic('x', 'a', 'tomorrow'))).rejects.toThrow(TypeError);
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
    await store.close();
    await expect(store.set('#dev', topic('x'))).rejects.toThrow(StorageError);
  });

  it('rejects with StorageError when the file cannot be replaced, and keeps what it had', async () => {
    const store = await open();
    await store.set('#dev', topic('kept'));
    await fs.mkdir(replacementFile(file)); // the temp file's name is taken by a directory
    await expect(store.set('#dev', topic('lost'))).rejects.toThrow(StorageError);
    expect(store.all().get('#dev')?.text).toBe('kept');
    expect(await fs.readFile(file, 'utf8')).toContain('#dev,kept');
  });

  it('removes a temp file a crash left behind and reads the file that was in place', async () => {
    await fs.writeFile(file, `${HEADER_LINE}#dev,old,alice,2026-01-01T00:00:00.000Z\n`);
    await fs.writeFile(replacementFile(file), `${HEADER_LINE}#dev,ne`);
    const store = await open();
    expect(store.all().get('#dev')?.text).toBe('old');
    await expect(fs.access(replacementFile(file))).rejects.toThrow();
  });

  it('reads an empty file (a crash right after creating it) as no topics, and can set one', async () => {
    await fs.writeFile(file, '');
    const store = await open();
    expect(store.all().size).toBe(0);
    await store.set('#dev', topic('x'));
    await store.close();
    expect((await open()).all().get('#dev')?.text).toBe('x');
  });

  describe('refuses a damaged file, names the line and leaves the file untouched', () => {
    const row = (room: string, at = '2026-01-01T00:00:00.000Z') => `${room},a topic,alice,${at}\n`;
    it.each([
      ['a wrong header', `room,topic,by\n${row('#dev')}`, 1, /expected the header/],
      ['a room that is not a room name', `${HEADER_LINE}${row('#dev')}${row('ops')}`, 3, /room is not/],
      ['an empty room', `${HEADER_LINE}${row('')}`, 2, /room is not/],
      ['a timestamp that is not ISO 8601', `${HEADER_LINE}${row('#dev')}${row('#ops', 'yesterday')}`, 3, /ISO 8601/],
      ['a room twice', `${HEADER_LINE}${row('#dev')}${row('#ops')}${row('#dev')}`, 4, /second topic for #dev/],
      ['a room twice in different case', `${HEADER_LINE}${row('#Dev')}${row('#dEV')}`, 3, /second topic for #dev/],
      ['a wrong column count', `${HEADER_LINE}${row('#dev')}#ops,two\n`, 3, /expected 4 fields, found 2/],
      ['an unclosed quote', `${HEADER_LINE}${row('#dev')}#ops,"never closed,alice,2026-01-01T00:00:00.000Z\n`, 3, /never closed/],
      ['a last row cut short', `${HEADER_LINE}${row('#dev')}#ops,half`, 3, /not terminated/],
    ])('%s', async (_, content, line, reason) => {
      await fs.writeFile(file, content);
      const before = await fs.readFile(file);
      const attempt = openCsvTopicStore({ file });
      await expect(attempt).rejects.toBeInstanceOf(CorruptFileError);
      await expect(attempt).rejects.toMatchObject({ file, line, reason: expect.stringMatching(reason) });
      expect((await fs.readFile(file)).equals(before), 'the file is byte-identical').toBe(true);
    });
  });

  it('refuses a header without its newline as a damaged line 1, and leaves the file as it was', async () => {
    await fs.writeFile(file, TOPICS_HEADER.join(','));
    const attempt = openCsvTopicStore({ file });
    await expect(attempt).rejects.toBeInstanceOf(CorruptFileError);
    await expect(attempt).rejects.toMatchObject({ file, line: 1, reason: expect.stringMatching(/header is not terminated/) });
    expect(await fs.readFile(file, 'utf8')).toBe(TOPICS_HEADER.join(','));
  });

  it('reads a file of just the header as no topics', async () => {
    await fs.writeFile(file, HEADER_LINE);
    expect((await open()).all().size).toBe(0);
  });

  it('reads every row of a file with several topics, keyed by room', async () => {
    await fs.writeFile(
      file,
      `${HEADER_LINE}#Dev,"a, quoted ""topic""",bob,2026-01-02T03:04:05.678Z\n#ops,plain,carol,2026-01-01T00:00:00.000Z\n`,
    );
    expect(new Map((await open()).all())).toEqual(
      new Map([
        ['#dev', topic('a, quoted "topic"', 'bob', '2026-01-02T03:04:05.678Z')],
        ['#ops', topic('plain', 'carol', '2026-01-01T00:00:00.000Z')],
      ]),
    );
  });

  it('rejects with UnreadableFileError when the file cannot be read', async () => {
    await fs.mkdir(file);
    const attempt = openCsvTopicStore({ file });
    await expect(attempt).rejects.toBeInstanceOf(UnreadableFileError);
    await expect(attempt).rejects.toMatchObject({ file });
  });

  it('stores text and setter as strings, and refuses a room or timestamp that only looks like one', async () => {
    const store = await open();
    const asText = (text: string) => ({ toString: () => text }) as unknown as string;
    await store.set('#dev', { text: 42 as unknown as string, by: asText('bob'), at: '2026-01-01T10:00:00.000Z' });
    expect(store.all().get('#dev')).toEqual(topic('42', 'bob'));
    await expect(store.set(asText('#ops'), topic('x'))).rejects.toThrow(TypeError);
    await expect(store.set('#ops', { text: 'x', by: 'a', at: asText('2026-01-01T10:00:00.000Z') })).rejects.toThrow(TypeError);
    await expect(store.set('#ops', topic('x', 'a', '2026-13-45T99:00:00.000Z'))).rejects.toThrow(TypeError);
    await store.close();
    expect(new Map((await open()).all())).toEqual(new Map([['#dev', topic('42', 'bob')]]));
  });

  it('a failed rewrite does not stop later sets', async () => {
    const store = await open();
    await fs.mkdir(replacementFile(file));
    await expect(store.set('#dev', topic('lost'))).rejects.toThrow(StorageError);
    await fs.rm(replacementFile(file), { recursive: true });
    await store.set('#dev', topic('kept'));
    expect(store.all().get('#dev')?.text).toBe('kept');
  });

  it('close waits for a rewrite in progress, and the file holds it afterwards', async () => {
    let release!: () => void;
    let written!: () => void;
    const isWritten = new Promise<void>((resolve) => (written = resolve));
    const store = await open(async (step) => {
      if (step === 'written') {
        written();
        await new Promise<void>((resolve) => (release = resolve));
      }
    });
    const setting = store.set('#dev', topic('during close'));
    await isWritten;
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    release();
    await closing;
    await setting;
    expect(await fs.readFile(file, 'utf8')).toContain('#dev,during close');
  });
});

describe('CSV topic store refusals', () => {
  it('say what was wrong', async () => {
    const store = await open();
    await expect(store.set('dev', topic('x'))).rejects.toThrow(
      'topics: room must be a room name ("#" then 1 to 32 of A-Z a-z 0-9 _ -), got dev',
    );
    await expect(store.set('#dev', topic('x', 'a', 'tomorrow'))).rejects.toThrow('topics: topic.at must be an ISO 8601 date-time, got tomorrow');
    await store.close();
    const late = store.set('#dev', topic('x'));
    await expect(late).rejects.toBeInstanceOf(StorageError);
    await expect(late).rejects.toMatchObject({ file, cause: expect.objectContaining({ message: 'the topic store is closed' }) });
  });
});
