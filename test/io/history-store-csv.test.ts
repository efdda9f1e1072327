import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CorruptFileError, StorageError, UnreadableFileError } from '../../src/io/errors.js';
import { HISTORY_HEADER, openCsvHistoryStore } from '../../src/io/history-store-csv.js';
import type { ChatMessage, HistoryStore } from '../../src/io/stores.js';
import { LOBBY, ROOM_PATTERN } from '../../src/machines/protocol.js';
import { failingDisk } from './failing-disk.js';
import { syncedBeforeAnswer, syncGatedDisk } from './sync-gated-disk.js';

const HEADER_LINE = `${HISTORY_HEADER.join(',')}\n`;
const NASTY_TEXTS = [
  'plain',
  '',
  'comma, separated',
  'she said "hi"',
  '"',
  'line one\nline two',
  'crlf\r\ninside',
  'lone\rcr',
  'nul\0byte',
  'Zoë 😀 中文',
  '=SUM(A1:A9)',
  '+1',
  '-1',
  '@here',
  ' padded ',
  '\ttab',
];

let dir: string;
let file: string;
const opened: HistoryStore[] = [];

async function open(opts: Partial<Parameters<typeof openCsvHistoryStore>[0]> = {}) {
  const store = await openCsvHistoryStore({ file, ...opts });
  opened.push(store);
  return store;
}

function message(i: number, text = `message ${i}`, room = LOBBY): ChatMessage {
  return { at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(), room, login: `user${i % 7}`, text };
}

/** The record of `m` as history.csv holds it. */
const fields = (m: ChatMessage) => [m.at, m.room, m.login, m.text];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-history-'));
  file = path.join(dir, 'history.csv');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await fs.rm(dir, { recursive: true, force: true });
});

describe('CSV history store', () => {
  it('creates a missing file with just the header', async () => {
    await open();
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
  });

  it('writes the header into an empty file', async () => {
    await fs.writeFile(file, '');
    const store = await open();
    await store.append(message(1));
    await store.close();
    expect((await fs.readFile(file, 'utf8')).startsWith(HEADER_LINE)).toBe(true);
    expect(await (await open()).recent(LOBBY, 10)).toEqual([message(1)]);
  });

  it('round-trips awkward texts exactly through a reopened store', async () => {
    const store = await open();
    const messages = NASTY_TEXTS.map((text, i) => ({ ...message(i, text), login: `lo,"g"in ${i}` }));
    await Promise.all(messages.map((m) => store.append(m)));
    await store.close();
    expect(await (await open()).recent(LOBBY, 100)).toEqual(messages);
  });

  it('writes everything appended in one turn with a single write', async () => {
    const store = await open();
    const messages = Array.from({ length: 100 }, (_, i) => message(i));
    await Promise.all(messages.map((m) => store.append(m)));
    expect(store.writes).toBe(1);
    const rows = (await fs.readFile(file, 'utf8')).trimEnd().split('\n').slice(1);
    expect(rows).toEqual(messages.map((m) => stringify([fields(m)]).trimEnd()));
  });

  it('keeps order across batches', async () => {
    const store = await open();
    const first = Promise.all([0, 1, 2].map((i) => store.append(message(i))));
    await new Promise((resolve) => setImmediate(resolve)); // let the first batch start
    const second = Promise.all([3, 4].map((i) => store.append(message(i))));
    await Promise.all([first, second]);
    expect(store.writes).toBe(2);
    expect(await store.recent(LOBBY, 10)).toEqual([0, 1, 2, 3, 4].map((i) => message(i)));
    await store.close();
    expect(await (await open()).recent(LOBBY, 10)).toEqual([0, 1, 2, 3, 4].map((i) => message(i)));
  });

  it('resolves an append only once its bytes are in the file', async () => {
    const store = await open();
    await store.append(message(1, 'durable'));
    expect(await fs.readFile(file, 'utf8')).toContain('durable');
  });

  it('returns the newest messages, oldest first, capped by keep', async () => {
    const store = await open({ keep: 3 });
    for (let i = 0; i < 10; i++) await store.append(message(i));
    expect(await store.recent(LOBBY, 2)).toEqual([message(8), message(9)]);
    expect(await store.recent(LOBBY, 50)).toEqual([message(7), message(8), message(9)]);
    expect(await store.recent(LOBBY, 0)).toEqual([]);
  });

  it('reads only the tail of a large file yet finds the exact newest messages', async () => {
    // Records with embedded newlines and quotes make a '\n' inside a field look like a boundary.
    const all = Array.from({ length: 50_000 }, (_, i) =>
      message(i, i % 3 === 0 ? `multi\nline "${i}"\n,` : i % 3 === 1 ? `"quoted ${i}"` : `plain ${i}`),
    );
    await fs.writeFile(file, HEADER_LINE + stringify(all.map(fields)));
    for (const keep of [5, 40, 300]) {
      const store = await open({ keep, chunkBytes: 4096 });
      expect(await store.recent(LOBBY, keep)).toEqual(all.slice(-keep));
      await store.close();
    }
  });

  it('finds the tail when it starts in the middle of a quoted multi-line field', async () => {
    const big = `"${'x'.repeat(300)}\n`.repeat(20);
    const all = [message(1, big), message(2, 'after')];
    await fs.writeFile(file, HEADER_LINE + stringify(all.map(fields)));
    const store = await open({ keep: 1, chunkBytes: 2000 });
    expect(await store.recent(LOBBY, 1)).toEqual([message(2, 'after')]);
  });

  describe('rooms', () => {
    const dev = (i: number, text?: string) => message(i, text, '#dev');

    it('keeps two interleaved rooms apart: each room gets its own newest messages, in order', async () => {
      const store = await open({ keep: 3 });
      const all = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? message(i) : dev(i)));
      for (const m of all) await store.append(m);

      expect(await store.recent(LOBBY, 10)).toEqual([message(4), message(6), message(8)]);
      expect(await store.recent('#dev', 2)).toEqual([dev(7), dev(9)]);
      expect(await store.recent('#nowhere', 10)).toEqual([]);
    });

    it('gives each room its newest messages after reopening, however far back a quiet room spoke', async () => {
      // #quiet speaks three times early on; then 20,000 lobby lines, read back in small chunks.
      const quiet = [1, 2, 3].map((i) => message(i, `quiet ${i}`, '#quiet'));
      const lobby = Array.from({ length: 20_000 }, (_, i) => message(10 + i));
      const all = [quiet[0]!, message(4), quiet[1]!, quiet[2]!, ...lobby, dev(30_000, 'last word')];
      await fs.writeFile(file, HEADER_LINE + stringify(all.map(fields)));

      const store = await open({ keep: 2, chunkBytes: 4096 });

      expect(await store.recent('#quiet', 10)).toEqual(quiet.slice(-2));
      expect(await store.recent(LOBBY, 10)).toEqual(lobby.slice(-2));
      expect(await store.recent('#dev', 10)).toEqual([dev(30_000, 'last word')]);
    });

    it('finds a quiet room whose messages are spread thinly over megabytes of another room', async () => {
      // #quiet every 700 lobby rows (~40 KB apart): its records are read in windows of a few MB.
      const all: ChatMessage[] = [];
      for (let round = 0; round < 120; round++) {
        all.push(message(round * 1000, `quiet ${round}`, '#quiet'));
        for (let i = 1; i <= 700; i++) all.push(message(round * 1000 + i, `lobby ${round}.${i} ${'x'.repeat(20)}`));
      }
      await fs.writeFile(file, HEADER_LINE + stringify(all.map(fields)));
      expect((await fs.stat(file)).size).toBeGreaterThan(5 << 20); // more than one 4 MiB window

      const store = await open({ keep: 100 });

      expect(await store.recent('#quiet', 100)).toEqual(all.filter((m) => m.room === '#quiet').slice(-100));
      expect(await store.recent(LOBBY, 100)).toEqual(all.filter((m) => m.room === LOBBY).slice(-100));
    });

    it('appends after reopening into the rooms read back', async () => {
      const first = await open({ keep: 2 });
      await first.append(dev(1));
      await first.append(message(2));
      await first.close();
      const store = await open({ keep: 2 });
      await store.append(dev(3));
      await store.append(dev(4));

      expect(await store.recent('#dev', 10)).toEqual([dev(3), dev(4)]);
      expect(await store.recent(LOBBY, 10)).toEqual([message(2)]);
    });

    it('takes room names in any case: stores the key, and finds a room by any spelling', async () => {
      const store = await open();
      await store.append(message(1, 'hello', '#DeV'));
      await store.close();
      const csv = await fs.readFile(file, 'utf8');
      expect(csv.split('\n')[1]).toBe(`${message(1).at},#dev,user1,hello`);

      const reopened = await open();
      expect(await reopened.recent('#DEV', 10)).toEqual([dev(1, 'hello')]);
      expect(await reopened.recent('#dev', 10)).toEqual([dev(1, 'hello')]);
    });

    it('reads a room written by hand in capitals as its key, together with the rest of the room', async () => {
      const quoted = `${message(3).at},"#DEV",user3,c\n`; // quoted by hand: still the room
      await fs.writeFile(file, HEADER_LINE + stringify([fields(message(1, 'a', '#Dev')), fields(message(2, 'b', '#dev'))]) + quoted);
      const store = await open();
      expect(await store.recent('#dev', 10)).toEqual([dev(1, 'a'), dev(2, 'b'), dev(3, 'c')]);
    });

    it('refuses a message for a room that is not a room name, writing nothing', async () => {
      const store = await open();
      for (const room of ['lobby', '#', '#has space', `#${'x'.repeat(33)}`, '#a,b', undefined as unknown as string]) {
        await expect(store.append({ ...message(1), room })).rejects.toThrow(TypeError);
      }
      await store.close();
      expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
    });

    it('keeps apart two rooms whose names hash alike in the start-up scan', async () => {
      // Found by search: the same 30-bit FNV-1a hash (history-store-csv.ts, roomField), of the same
      // length, and of different lengths.
      for (const [a, b] of [['#r188904', '#r558220'], ['#r3993', '#r54470']] as const) {
        const all = Array.from({ length: 12 }, (_, i) => message(i, `${i % 2 ? b : a} ${i}`, i % 2 ? b : a));
        await fs.writeFile(file, HEADER_LINE + stringify(all.map(fields)));
        const store = await open({ keep: 3 });
        expect(await store.recent(a, 10)).toEqual(all.filter((m) => m.room === a).slice(-3));
        expect(await store.recent(b, 10)).toEqual(all.filter((m) => m.room === b).slice(-3));
        await store.close();
      }
    });

    it('checks each spelling of a room against the room pattern once, however many rows use it', async () => {
      const spellings = ['#dev', LOBBY, '#DEV', '#ops'];
      const all = Array.from({ length: 400 }, (_, i) => message(i, `m${i}`, spellings[i % 3 === 0 ? 3 : i % 3]));
      all.push(message(400, 'first of #dev', '#dev'));
      await fs.writeFile(file, HEADER_LINE + stringify(all.map(fields)));
      const checked: string[] = [];
      const test = vi.spyOn(ROOM_PATTERN, 'test').mockImplementation(function (this: RegExp, name: string) {
        checked.push(name);
        return RegExp.prototype.test.call(this, name);
      });
      try {
        const store = await open({ keep: 5 });
        expect(checked.sort()).toEqual(['#DEV', '#dev', '#lobby', '#ops']);
        const dev = all.filter((m) => m.room.toLowerCase() === '#dev');
        expect(await store.recent('#dev', 10)).toEqual(dev.slice(-5).map((m) => ({ ...m, room: '#dev' })));
      } finally {
        test.mockRestore();
      }
    });

    it('reads 30,000 rows of 50 rooms taking turns, each room its own newest', async () => {
      const rooms = Array.from({ length: 50 }, (_, r) => (r === 0 ? LOBBY : `#room${r}`));
      const all = Array.from({ length: 30_000 }, (_, i) => message(i, `m${i}`, rooms[i % 50]));
      await fs.writeFile(file, HEADER_LINE + stringify(all.map(fields)));
      const store = await open({ keep: 5, chunkBytes: 8192 });
      for (const room of [LOBBY, '#room7', '#room49']) {
        expect(await store.recent(room, 10)).toEqual(all.filter((m) => m.room === room).slice(-5));
      }
    });
  });

  it('rolls a failed batch back, rejects all of it with StorageError, then keeps working', async () => {
    const disk = failingDisk();
    const store = await open({ openAppendHandle: disk.open });
    await store.append(message(1));
    const before = await fs.readFile(file);

    disk.failNextAppend();
    const results = await Promise.allSettled([store.append(message(2)), store.append(message(3))]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
    }
    expect(await fs.readFile(file)).toEqual(before);
    expect(await store.recent(LOBBY, 10)).toEqual([message(1)]);

    await store.append(message(4));
    await store.close();
    expect(await (await open()).recent(LOBBY, 10)).toEqual([message(1), message(4)]);
  });

  it('flushes by writing what is pending, then syncing the file, and resolves only once synced', async () => {
    const disk = syncGatedDisk();
    const store = await open({ openAppendHandle: disk.open });
    await store.append(message(1));
    disk.calls.length = 0;
    disk.hold();

    void store.append(message(2)); // pending: flush must write it before it syncs
    const flushing = store.flush();
    await syncedBeforeAnswer(disk.syncRequested, flushing, 'flush() resolved without a datasync of history.csv');
    expect(disk.calls).toEqual(['append', 'datasync']);

    disk.release();
    await flushing;
    expect(await (await open()).recent(LOBBY, 10)).toEqual([message(1), message(2)]);
  });

  it('syncs the file when it closes', async () => {
    const disk = syncGatedDisk();
    const store = await open({ openAppendHandle: disk.open });
    await store.append(message(1));
    disk.calls.length = 0;

    await store.close();
    expect(disk.calls).toEqual(['datasync', 'close']);
  });

  it('refuses appends after close', async () => {
    const store = await open();
    await store.close();
    await expect(store.append(message(1))).rejects.toThrow(StorageError);
    await expect(store.append(message(1))).rejects.toThrow(/the history store is closed/);
  });

  it('refuses a message whose timestamp would make the file unreadable', async () => {
    const store = await open();
    await expect(store.append({ at: 'yesterday', room: LOBBY, login: 'a', text: 'b' })).rejects.toThrow(TypeError);
    await expect(store.append({ at: 'yesterday', room: LOBBY, login: 'a', text: 'b' })).rejects.toThrow(/message\.at must be an ISO 8601 date-time, got yesterday$/);
    await expect(store.append({ ...message(1), at: undefined as unknown as string })).rejects.toThrow(TypeError);
  });

  it('writes a batch without a sync: the sync is flush\'s (and close\'s)', async () => {
    const disk = syncGatedDisk();
    const store = await open({ openAppendHandle: disk.open });
    await Promise.all([store.append(message(1)), store.append(message(2))]);
    expect(disk.calls).toEqual(['append']);
    await store.flush();
    expect(disk.calls).toEqual(['append', 'datasync']);
  });

  it('syncs the header it writes into an empty file before anything else', async () => {
    await fs.writeFile(file, '');
    const disk = syncGatedDisk();
    await open({ openAppendHandle: disk.open });
    expect(disk.calls).toEqual(['append', 'datasync']);
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
  });

  it('while a batch is being written, gathers what is appended meanwhile into the next one', async () => {
    let releaseFirst = () => {};
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    let appends = 0;
    let firstStarted = () => {};
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    const store = await open({
      openAppendHandle: async (f) => {
        const real = await syncGatedDisk().open(f);
        return {
          ...real,
          async append(data) {
            if (++appends === 1) {
              firstStarted();
              await firstHeld;
            }
            return real.append(data);
          },
        };
      },
    });
    const first = store.append(message(1));
    await started;
    // Appended in two separate turns while the first write is held: both wait for it, then go together.
    const second = store.append(message(2));
    await new Promise<void>((resolve) => setImmediate(resolve));
    const third = store.append(message(3));
    releaseFirst();
    await Promise.all([first, second, third]);
    expect(appends).toBe(2);
    expect(store.writes).toBe(2);
  });

  it('says nothing of a recovery when no batch was interrupted', async () => {
    const recovered: number[] = [];
    await (await open({ onRecovered: (bytes) => recovered.push(bytes) })).append(message(1));
    await open({ onRecovered: (bytes) => recovered.push(bytes) });
    expect(recovered).toEqual([]);
  });

  it('with keep 0, opens a file with rows, keeps none of them, and still appends', async () => {
    await fs.writeFile(file, HEADER_LINE + stringify([fields(message(1)), fields(message(2, 'x', '#dev'))]));
    const store = await open({ keep: 0 });
    await store.append(message(3));
    expect(await store.recent(LOBBY, 10)).toEqual([]);
    expect(await store.recent('#dev', 10)).toEqual([]);
    await store.close();
    expect(await (await open()).recent(LOBBY, 10)).toEqual([message(1), message(3)]);
  });

  describe('a path it cannot use', () => {
    it('refuses a history file in a place that is not a directory, as unreadable', async () => {
      await fs.writeFile(path.join(dir, 'plain'), 'a file, not a directory');
      const inside = path.join(dir, 'plain', 'history.csv');
      await expect(openCsvHistoryStore({ file: inside })).rejects.toBeInstanceOf(UnreadableFileError);
      await expect(openCsvHistoryStore({ file: inside })).rejects.toThrow(/ENOTDIR/);
    });

    it('refuses to start when a leftover rewrite cannot be removed, naming the history file', async () => {
      await fs.mkdir(`${file}.replacing`);
      await fs.writeFile(path.join(`${file}.replacing`, 'inside'), 'x');
      await expect(openCsvHistoryStore({ file })).rejects.toBeInstanceOf(UnreadableFileError);
      await expect(openCsvHistoryStore({ file })).rejects.toThrow(`${file}: cannot be read`);
      await expect(fs.access(file)).rejects.toThrow(/ENOENT/);
    });

    it('refuses a directory in the history file\'s place as unreadable, leaving it as it was', async () => {
      await fs.mkdir(file);
      await expect(openCsvHistoryStore({ file })).rejects.toBeInstanceOf(UnreadableFileError);
      expect(await fs.readdir(file)).toEqual([]);
    });

    /** How many of this process's open file descriptors refer to `target`. */
    async function openHandlesOn(target: string): Promise<number> {
      let count = 0;
      for (const fd of await fs.readdir('/proc/self/fd')) {
        const link = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (link === target) count++;
      }
      return count;
    }

    it('closes every handle start-up opened to read the file, refused or not', async () => {
      await fs.writeFile(file, HEADER_LINE + stringify([fields(message(1))]));
      const store = await openCsvHistoryStore({ file });
      expect(await openHandlesOn(file)).toBe(1); // the append handle, and nothing else
      await store.close();
      expect(await openHandlesOn(file)).toBe(0);

      await fs.appendFile(file, 'not,a,row\n');
      await expect(openCsvHistoryStore({ file })).rejects.toThrow(CorruptFileError);
      expect(await openHandlesOn(file)).toBe(0);
    });
  });

  describe('refuses a corrupt file, names the line and leaves the file untouched', () => {
    async function expectCorrupt(content: string, line: number, reason: RegExp, chunkBytes?: number): Promise<void> {
      await fs.writeFile(file, content);
      const before = await fs.readFile(file);
      const attempt = open({ chunkBytes });
      await expect(attempt).rejects.toThrow(CorruptFileError);
      await expect(attempt).rejects.toMatchObject({ file, line, reason: expect.stringMatching(reason) });
      // Buffer#equals: toEqual compares a megabyte byte by byte, for seconds.
      expect((await fs.readFile(file)).equals(before), 'the file is byte-identical').toBe(true);
    }
    const rows = (from: number, count: number) =>
      stringify(Array.from({ length: count }, (_, i) => message(from + i)).map(fields));

    it('a wrong header', async () => {
      await expectCorrupt(`time,who,what\n${rows(0, 2)}`, 1, /expected the header/);
    });

    it('a row with too many fields in the tail', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 500)}2024-01-01T00:00:00.000Z,#lobby,a,b,c\n${rows(500, 3)}`, 502, /expected 4 fields/, 1024);
    });

    it('a multi-line record with too many fields, reported where it starts', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 3)}2024-01-01T00:00:00.000Z,#lobby,a,"multi\nline",extra\n${rows(3, 1)}`, 5, /expected 4 fields/);
    });

    it('a timestamp that is not ISO 8601', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 3)}01/02/2024,#lobby,a,b\n`, 5, /ISO 8601/);
    });

    it('an unclosed quote far before the tail', async () => {
      const bad = '2024-01-01T00:00:00.000Z,#lobby,a,"never closed\n';
      await expectCorrupt(`${HEADER_LINE}${rows(0, 10)}${bad}${rows(10, 2000)}`, 12, /never closed/, 1024);
    });

    // Start-up checks every row, not only those it keeps for replay (1,000 by default).
    it('a row with a wrong column count more than 1 MiB before the end', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 10)}2024-01-01T00:00:00.000Z,#lobby,three\n${rows(10, 30_000)}`, 12, /expected 4 fields, found 3/);
    });

    it('a bad timestamp more than 1 MiB before the end', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 10)}2024-01-01T25:00:00.000Z,#lobby,a,b\n${rows(10, 30_000)}`, 12, /ISO 8601/);
    });

    it('an empty line more than 1 MiB before the end, read in small chunks', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 10)}\n${rows(10, 30_000)}`, 12, /empty line/, 512);
    });

    it('a stray quote in the tail', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 3)}2024-01-01T00:00:00.000Z,#lobby,a,b"c"d\n`, 5, /quote/);
    });

    it('a room that is not a room name, naming its line', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 3)}2024-01-01T00:00:00.000Z,lobby,a,b\n${rows(3, 2)}`, 5, /room is not "#".*"lobby"/);
    });

    it('a room with a character a room name cannot hold, more than 1 MiB before the end, in small chunks', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 10)}2024-01-01T00:00:00.000Z,#dev ops,a,b\n${rows(10, 30_000)}`, 12, /room is not/, 512);
    });

    it('an empty room, and a room name too long, each at its line', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 1)}2024-01-01T00:00:00.000Z,,a,b\n`, 3, /room is not/);
      await expectCorrupt(`${HEADER_LINE}${rows(0, 2)}2024-01-01T00:00:00.000Z,#${'x'.repeat(33)},a,b\n`, 4, /room is not/);
    });

    it('a bad room after rows of other rooms already seen', async () => {
      const mixed = stringify([fields(message(1, 'a', '#dev')), fields(message(2)), fields(message(3, 'c', '#dev'))]);
      await expectCorrupt(`${HEADER_LINE}${mixed}2024-01-01T00:00:00.000Z,#dév,a,b\n`, 5, /room is not/);
    });

    it('a last record cut short by a crash', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 3)}2024-01-01T00:00:00.000Z,#lobby,a,unfinish`, 5, /not terminated/);
    });

    it('a last record cut short right after a quoted field: the same reason, not a complaint about the quote', async () => {
      await expectCorrupt(`${HEADER_LINE}${rows(0, 3)}2024-01-01T00:00:00.000Z,#lobby,a,"quoted, then cut"`, 5, /^the last record is not terminated by a newline/);
    });

    it('a header with no newline after it', async () => {
      await expectCorrupt(HEADER_LINE.trimEnd(), 1, /^the header is not terminated by a newline$/);
    });

    it('a record longer than 16 MiB (a quote never closed), without reading to the end of the file', async () => {
      const open = '2024-01-01T00:00:00.000Z,#lobby,a,"never closed ';
      // The read doubles while a record is carried over: past 16 MiB it is refused with 32 MiB read.
      await expectCorrupt(`${HEADER_LINE}${rows(0, 2)}${open}${'x'.repeat(40 << 20)}\n${rows(2, 2)}`, 4, /^a record longer than 16 MiB \(a quoted field never closed\?\)$/);
    });

    it('a room name quoted and far too long: shown cut short, and said to be quoted', async () => {
      const long = `#${'y'.repeat(60)}`;
      await expectCorrupt(`${HEADER_LINE}${rows(0, 1)}2024-01-01T00:00:00.000Z,"${long}",a,b\n`, 3, new RegExp(`\\(found quoted "${long.slice(0, 40)}…"\\)$`));
      await expectCorrupt(`${HEADER_LINE}${rows(0, 1)}2024-01-01T00:00:00.000Z,#dev ops,a,b\n`, 3, /\(found "#dev ops"\)$/);
    });
  });
});
