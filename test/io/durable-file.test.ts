/**
 * durable-file.ts on its own: the append handle, AppendOnlyFile (appends, rollback, the in-flight
 * marker, truncate, replace, close), crash recovery, and the whole-file writers. Real files in a
 * temp dir; disk failures come from an injected append handle that wraps the real one.
 */
import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AppendOnlyFile,
  appendMarkerFile,
  createFile,
  fsyncDir,
  linkNewFile,
  openAppendHandle,
  type OpenAppendHandle,
  recoverAfterCrash,
  recoverInterruptedAppend,
  removeReplacementLeftover,
  replaceFile,
  replacementFile,
  type ReplaceStep,
} from '../../src/io/durable-file.js';
import { StorageError, UnreadableFileError } from '../../src/io/errors.js';

let dir: string;
let file: string;
const toClose: AppendOnlyFile[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-durable-'));
  file = path.join(dir, 'data.csv');
});
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((out) => out.close().catch(() => undefined)));
  await fs.rm(dir, { recursive: true, force: true });
});

const IDLE = `${' '.repeat(41)}\n`;
const inFlight = (offset: number, length: number) => `${offset} ${length}`.padEnd(41) + '\n';
const bytes = (text: string) => Buffer.from(text);

type Call = 'append' | 'truncate' | 'datasync' | 'close';

/** A real append handle that records its calls and can be told to fail each kind of call. */
function scriptedDisk() {
  const calls: Call[] = [];
  const fail = { append: undefined as number | undefined, truncate: false, datasync: false, close: false };
  const appendError = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const truncateError = Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
  const syncError = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  const closeError = new Error('close failed');
  const open: OpenAppendHandle = async (name) => {
    const real = await openAppendHandle(name);
    return {
      async append(data) {
        calls.push('append');
        if (fail.append === undefined) return real.append(data);
        const keep = fail.append;
        fail.append = undefined;
        await real.append(data.subarray(0, keep));
        throw appendError;
      },
      async truncate(length) {
        calls.push('truncate');
        if (fail.truncate) throw truncateError;
        return real.truncate(length);
      },
      async datasync() {
        calls.push('datasync');
        if (fail.datasync) throw syncError;
        return real.datasync();
      },
      async close() {
        calls.push('close');
        await real.close();
        if (fail.close) throw closeError;
      },
    };
  };
  return { open, calls, fail, appendError, truncateError, syncError, closeError };
}

async function openFile(content: string, openHandle?: OpenAppendHandle): Promise<AppendOnlyFile> {
  await fs.writeFile(file, content);
  const out = await AppendOnlyFile.open(file, Buffer.byteLength(content), openHandle);
  toClose.push(out);
  return out;
}

const append = (out: AppendOnlyFile, text: string, sync = false) => out.serially(() => out.append(bytes(text), { sync }));

/**
 * A file holding `header\none\n` whose next append, of `row`, is torn after `tornAfter` bytes and
 * whose rollback fails too: the state both of the failed-rollback tests start from.
 */
async function afterFailedRollback(row: string, tornAfter: number) {
  const disk = scriptedDisk();
  const out = await openFile('header\n', disk.open);
  await append(out, 'one\n');
  disk.fail.append = tornAfter;
  disk.fail.truncate = true;
  const failed = append(out, row);
  await expect(failed).rejects.toBeInstanceOf(StorageError);
  return { disk, out, failed };
}
const read = (name = file) => fs.readFile(name, 'utf8');
const exists = (name: string) =>
  fs.access(name).then(
    () => true,
    () => false,
  );

describe('openAppendHandle', () => {
  it('creates a missing file with mode 0600 and appends, truncates and syncs it', async () => {
    const handle = await openAppendHandle(file);
    await handle.append(bytes('hello '));
    await handle.append(bytes('world\n'));
    await handle.datasync();
    expect(await read()).toBe('hello world\n');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    await handle.truncate(5);
    expect(await read()).toBe('hello');
    await handle.append(bytes('!'));
    expect(await read()).toBe('hello!');
    await handle.close();
  });

  it('appends a large buffer whole, after what the file already held', async () => {
    await fs.writeFile(file, 'start\n');
    const handle = await openAppendHandle(file);
    const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
    await handle.append(big);
    await handle.close();
    const content = await fs.readFile(file);
    expect(content.length).toBe(6 + big.length);
    expect(content.subarray(6).equals(big)).toBe(true);
  });
});

describe('appendMarkerFile and replacementFile', () => {
  it('name side files next to the data file', () => {
    expect(appendMarkerFile('/d/history.csv')).toBe('/d/history.csv.appending');
    expect(replacementFile('/d/topics.csv')).toBe('/d/topics.csv.replacing');
  });
});

describe('AppendOnlyFile', () => {
  it('writes the in-flight marker (size before, length) while an append runs, and the idle marker after it', async () => {
    let seen: string | undefined;
    let seenSync: string | undefined;
    const out = await openFile('header\n', async (name) => {
      const real = await openAppendHandle(name);
      return {
        ...real,
        async append(data) {
          const marker = await read(appendMarkerFile(file));
          if (seen === undefined) seen = marker;
          else seenSync = marker;
          return real.append(data);
        },
      };
    });
    await append(out, 'row one\n');
    expect(seen).toBe(inFlight(7, 8));
    expect(await read(appendMarkerFile(file))).toBe(IDLE);
    await append(out, 'row number two\n', true);
    expect(seenSync).toBe(inFlight(15, 15));
    expect(await read(appendMarkerFile(file))).toBe(IDLE);
    expect(await read()).toBe('header\nrow one\nrow number two\n');
    expect((await fs.stat(appendMarkerFile(file))).mode & 0o777).toBe(0o600);
  });

  it('syncs the data only for an append asked to sync, and before it answers', async () => {
    const disk = scriptedDisk();
    const out = await openFile('', disk.open);
    await append(out, 'a\n', false);
    expect(disk.calls).toEqual(['append']);
    await append(out, 'b\n', true);
    expect(disk.calls).toEqual(['append', 'append', 'datasync']);
  });

  it('rolls a failed append back to the size before it, clears the marker, and appends at the right place next', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\n', disk.open);
    await append(out, 'one\n');
    disk.fail.append = 3;
    const failed = append(out, 'two, lost\n');
    await expect(failed).rejects.toBeInstanceOf(StorageError);
    await expect(failed).rejects.toMatchObject({ cause: disk.appendError });
    expect(await read()).toBe('header\none\n');
    expect(await read(appendMarkerFile(file))).toBe(IDLE);
    await append(out, 'three\n');
    expect(await read()).toBe('header\none\nthree\n');
  });

  it('rolls back an append whose sync failed', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\n', disk.open);
    disk.fail.datasync = true;
    await expect(append(out, 'unsynced\n', true)).rejects.toMatchObject({ cause: disk.syncError });
    expect(await read()).toBe('header\n');
    disk.fail.datasync = false;
    await append(out, 'synced\n', true);
    expect(await read()).toBe('header\nsynced\n');
  });

  it('after a rollback that failed, refuses appends, keeps the marker past close, and the next start cuts the file back', async () => {
    const { disk, out, failed } = await afterFailedRollback('torn row\n', 4);
    await expect(failed).rejects.toMatchObject({ cause: disk.appendError });
    expect(await read()).toBe('header\none\ntorn');
    expect(await read(appendMarkerFile(file))).toBe(inFlight(11, 9));

    const refused = append(out, 'more\n');
    await expect(refused).rejects.toBeInstanceOf(StorageError);
    await expect(refused).rejects.toMatchObject({ cause: disk.truncateError });
    expect(disk.calls.filter((call) => call === 'append')).toHaveLength(2);
    await expect(out.serially(() => out.replace(bytes('new\n')))).rejects.toMatchObject({ cause: disk.truncateError });
    expect(await read()).toBe('header\none\ntorn');

    await out.close();
    expect(await read(appendMarkerFile(file))).toBe(inFlight(11, 9));
    expect(await recoverInterruptedAppend(file)).toBe(4);
    expect(await read()).toBe('header\none\n');
  });

  it('truncate cuts the file, syncs, clears a failed rollback, and appends go on from the new end', async () => {
    const { disk, out } = await afterFailedRollback('two\n', 2);
    disk.fail.truncate = false;
    disk.calls.length = 0;

    await out.serially(() => out.truncate(7));
    expect(disk.calls).toEqual(['truncate', 'datasync']);
    expect(await read()).toBe('header\n');
    expect(await read(appendMarkerFile(file))).toBe(IDLE);

    disk.fail.append = 1;
    await expect(append(out, 'xyz\n')).rejects.toBeInstanceOf(StorageError);
    expect(await read()).toBe('header\n'); // rolled back to the size truncate left
    await append(out, 'after\n');
    expect(await read()).toBe('header\nafter\n');
    await out.close();
    expect(await exists(appendMarkerFile(file))).toBe(false);
  });

  it('truncate rejects with StorageError when the disk fails', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\n', disk.open);
    disk.fail.truncate = true;
    await expect(out.serially(() => out.truncate(0))).rejects.toMatchObject({ file, cause: disk.truncateError });
    disk.fail.truncate = false;
    disk.fail.datasync = true;
    await expect(out.serially(() => out.truncate(0))).rejects.toMatchObject({ file, cause: disk.syncError });
  });

  it('datasync syncs the handle, and rejects with StorageError when that fails', async () => {
    const disk = scriptedDisk();
    const out = await openFile('', disk.open);
    await out.datasync();
    expect(disk.calls).toEqual(['datasync']);
    disk.fail.datasync = true;
    const failed = out.datasync();
    await expect(failed).rejects.toBeInstanceOf(StorageError);
    await expect(failed).rejects.toMatchObject({ file, cause: disk.syncError });
  });

  it('serially runs tasks one at a time in order, and a failed one does not stop the rest', async () => {
    const out = await openFile('');
    const order: string[] = [];
    let releaseFirst!: () => void;
    const first = out.serially(async () => {
      order.push('first started');
      await new Promise<void>((resolve) => (releaseFirst = resolve));
      order.push('first done');
      return 1;
    });
    const second = out.serially(async () => {
      order.push('second');
      throw new Error('second fails');
    });
    const third = out.serially(async () => {
      order.push('third');
      return 3;
    });
    await expect.poll(() => order).toEqual(['first started']);
    releaseFirst();
    expect(await first).toBe(1);
    await expect(second).rejects.toThrow('second fails');
    expect(await third).toBe(3);
    expect(order).toEqual(['first started', 'first done', 'second', 'third']);
  });

  it('close waits for queued work, closes the handle, removes the marker, is idempotent, and refuses work after', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\n', disk.open);
    const queued = append(out, 'queued\n');
    const closed = out.close();
    await queued;
    await closed;
    expect(await read()).toBe('header\nqueued\n');
    expect(disk.calls).toEqual(['append', 'close']);
    expect(await exists(appendMarkerFile(file))).toBe(false);
    await out.close();
    expect(disk.calls).toEqual(['append', 'close']);
    const late = out.serially(async () => 'ran');
    await expect(late).rejects.toBeInstanceOf(StorageError);
    await expect(late).rejects.toMatchObject({ file, cause: expect.objectContaining({ message: 'the file is closed' }) });
  });

  it('close of a file never appended to leaves no marker behind', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\n', disk.open);
    await out.close();
    expect(disk.calls).toEqual(['close']);
    expect(await exists(appendMarkerFile(file))).toBe(false);
  });

  it('close passes on an error that is not a StorageError', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\n', disk.open);
    disk.fail.close = true;
    await expect(out.close()).rejects.toBe(disk.closeError);
  });

  it('replace puts the new content under the name, reports its steps, and appends go to the new file', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\nold row\n', disk.open);
    const steps: ReplaceStep[] = [];
    await out.serially(() => out.replace(bytes('header\nnew\n'), disk.open, { onStep: (step) => void steps.push(step) }));
    expect(steps).toEqual(['written', 'renamed']);
    expect(await read()).toBe('header\nnew\n');
    expect(disk.calls).toEqual(['close']); // the old handle, on the file renamed over
    disk.calls.length = 0;
    await append(out, 'appended\n');
    expect(await read()).toBe('header\nnew\nappended\n');
    // The tracked size is the new content's: a rollback cuts back to just after it.
    disk.fail.append = 2;
    await expect(append(out, 'lost\n')).rejects.toBeInstanceOf(StorageError);
    expect(await read()).toBe('header\nnew\nappended\n');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it('replace that fails before the rename leaves the old file and handle in use', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\nold\n', disk.open);
    await fs.mkdir(replacementFile(file)); // the temp file's name is taken
    const failed = out.serially(() => out.replace(bytes('header\nnew\n'), disk.open));
    await expect(failed).rejects.toBeInstanceOf(StorageError);
    await expect(failed).rejects.toMatchObject({ file, cause: expect.objectContaining({ code: 'EISDIR' }) });
    expect(disk.calls).toEqual([]);
    await append(out, 'more\n');
    expect(await read()).toBe('header\nold\nmore\n');
  });

  it('refuses an append whose marker cannot be written, naming the marker, and leaves the file as it was', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\n', disk.open);
    await fs.mkdir(appendMarkerFile(file));
    const failed = append(out, 'row\n');
    await expect(failed).rejects.toBeInstanceOf(StorageError);
    await expect(failed).rejects.toMatchObject({ file: appendMarkerFile(file), cause: expect.objectContaining({ code: 'EISDIR' }) });
    expect(disk.calls).toEqual([]);
    expect(await read()).toBe('header\n');
  });

  it('replace whose step before the rename fails keeps the old file and handle', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\nold\n', disk.open);
    const stepError = new Error('killed before the rename');
    const failed = out.serially(() =>
      out.replace(bytes('header\nnew, longer than the old\n'), disk.open, {
        onStep: (step) => {
          if (step === 'written') throw stepError;
        },
      }),
    );
    await expect(failed).rejects.toMatchObject({ cause: stepError });
    expect(disk.calls).toEqual([]); // not reopened
    expect(await read()).toBe('header\nold\n');
    disk.fail.append = 1;
    await expect(append(out, 'lost\n')).rejects.toBeInstanceOf(StorageError);
    expect(await read()).toBe('header\nold\n'); // rolled back to the old size
  });

  it('replace whose step after the rename fails still reopens on the new file, and rejects', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\nold\n', disk.open);
    const stepError = new Error('fsync of the directory failed');
    const failed = out.serially(() =>
      out.replace(bytes('header\nnew\n'), disk.open, {
        onStep: (step) => {
          if (step === 'renamed') throw stepError;
        },
      }),
    );
    await expect(failed).rejects.toBeInstanceOf(StorageError);
    await expect(failed).rejects.toMatchObject({ cause: stepError });
    await append(out, 'more\n');
    expect(await read()).toBe('header\nnew\nmore\n');
  });

  it('replace whose reopen fails leaves the new content and refuses every later append, truncate and sync', async () => {
    const disk = scriptedDisk();
    const out = await openFile('header\nold\n', disk.open);
    const reopenError = new Error('EMFILE: too many open files');
    const failed = out.serially(() => out.replace(bytes('header\nnew\n'), () => Promise.reject(reopenError)));
    await expect(failed).rejects.toBeInstanceOf(StorageError);
    await expect(failed).rejects.toMatchObject({ cause: reopenError });
    expect(disk.calls).toEqual(['close']); // the old handle is closed all the same
    expect(await read()).toBe('header\nnew\n');

    await expect(append(out, 'lost\n')).rejects.toMatchObject({ cause: reopenError });
    await expect(out.serially(() => out.truncate(0))).rejects.toMatchObject({ cause: reopenError });
    await expect(out.datasync()).rejects.toMatchObject({ cause: reopenError });
    expect(await read()).toBe('header\nnew\n');
    await out.close();
  });

  it('replace ignores a failure to close the old handle', async () => {
    const disk = scriptedDisk();
    const out = await openFile('old\n', disk.open);
    disk.fail.close = true;
    await out.serially(() => out.replace(bytes('new\n'), disk.open));
    disk.fail.close = false;
    await append(out, 'more\n');
    expect(await read()).toBe('new\nmore\n');
  });
});

describe('recoverInterruptedAppend', () => {
  const HEADER = 'header\n';

  async function withMarker(content: string, marker: string): Promise<void> {
    await fs.writeFile(file, content);
    await fs.writeFile(appendMarkerFile(file), marker);
  }

  it('returns 0 and touches nothing without a marker', async () => {
    await fs.writeFile(file, `${HEADER}half`);
    expect(await recoverInterruptedAppend(file)).toBe(0);
    expect(await read()).toBe(`${HEADER}half`);
  });

  it('cuts back a torn append with multi-digit numbers and an unpadded marker', async () => {
    const before = `${'x'.repeat(120)}\n`;
    await withMarker(`${before}${'y'.repeat(30)}`, `121 45\n`);
    expect(await recoverInterruptedAppend(file)).toBe(30);
    expect(await read()).toBe(before);
    expect(await exists(appendMarkerFile(file))).toBe(false);
  });

  it('cuts back an append that wrote a single byte of many', async () => {
    await withMarker(`${HEADER}r`, inFlight(7, 10));
    expect(await recoverInterruptedAppend(file)).toBe(1);
    expect(await read()).toBe(HEADER);
  });

  it('cuts back an append that is one byte short', async () => {
    await withMarker(`${HEADER}row one`, inFlight(7, 8));
    expect(await recoverInterruptedAppend(file)).toBe(7);
    expect(await read()).toBe(HEADER);
  });

  it.each([
    ['none of the append reached the file', `${HEADER}`, inFlight(7, 8)],
    ['all of it did', `${HEADER}row one\n`, inFlight(7, 8)],
    ['the file is longer than the append named', `${HEADER}row one\nand more\n`, inFlight(7, 8)],
    ['the file is shorter than the size before it', `head`, inFlight(7, 8)],
  ])('cuts nothing when %s, and removes the marker', async (_, content, marker) => {
    await withMarker(content, marker);
    expect(await recoverInterruptedAppend(file)).toBe(0);
    expect(await read()).toBe(content);
    expect(await exists(appendMarkerFile(file))).toBe(false);
  });

  it.each([
    ['idle', IDLE],
    ['empty', ''],
    ['garbage before the numbers', `x7 8`.padEnd(41) + '\n'],
    ['garbage after the numbers', `7 8 x`.padEnd(41) + '\n'],
    ['no newline', `7 8`.padEnd(42)],
    ['text after the newline', `7 8\nmore`],
    ['one number', `7`.padEnd(41) + '\n'],
    ['two spaces between the numbers', `7  8`.padEnd(41) + '\n'],
    ['a number that is not digits', `7 8a`.padEnd(41) + '\n'],
  ])('reads a marker that is %s as naming no append: cuts nothing and leaves it', async (_, marker) => {
    await withMarker(`${HEADER}row`, marker);
    expect(await recoverInterruptedAppend(file)).toBe(0);
    expect(await read()).toBe(`${HEADER}row`);
    expect(await read(appendMarkerFile(file))).toBe(marker);
  });

  it('returns 0 when the marker names a file that does not exist', async () => {
    await fs.writeFile(appendMarkerFile(file), inFlight(7, 8));
    expect(await recoverInterruptedAppend(file)).toBe(0);
    expect(await exists(file)).toBe(false);
  });

  it('throws UnreadableFileError naming the marker when the marker cannot be read', async () => {
    await fs.writeFile(file, HEADER);
    await fs.mkdir(appendMarkerFile(file));
    const attempt = recoverInterruptedAppend(file);
    await expect(attempt).rejects.toBeInstanceOf(UnreadableFileError);
    await expect(attempt).rejects.toMatchObject({ file: appendMarkerFile(file) });
  });

  it('throws UnreadableFileError naming the file when the file cannot be opened', async () => {
    await fs.mkdir(file);
    await fs.writeFile(appendMarkerFile(file), inFlight(7, 8));
    const attempt = recoverInterruptedAppend(file);
    await expect(attempt).rejects.toBeInstanceOf(UnreadableFileError);
    await expect(attempt).rejects.toMatchObject({ file });
  });
});

describe('recoverAfterCrash', () => {
  it('removes a replacement leftover, cuts a torn append, and says how many bytes it cut', async () => {
    await fs.writeFile(file, 'header\nrow');
    await fs.writeFile(appendMarkerFile(file), inFlight(7, 8));
    await fs.writeFile(replacementFile(file), 'header\nhalf a rew');
    const cuts: number[] = [];
    await recoverAfterCrash(file, (n) => cuts.push(n));
    expect(cuts).toEqual([3]);
    expect(await read()).toBe('header\n');
    expect(await exists(replacementFile(file))).toBe(false);
  });

  it('does not call onRecovered when nothing was cut, and works without it', async () => {
    await fs.writeFile(file, 'header\n');
    const cuts: number[] = [];
    await recoverAfterCrash(file, (n) => cuts.push(n));
    expect(cuts).toEqual([]);
    await fs.writeFile(appendMarkerFile(file), inFlight(7, 8));
    await fs.appendFile(file, 'ro');
    await recoverAfterCrash(file);
    expect(await read()).toBe('header\n');
  });

  it('throws UnreadableFileError naming the file when the leftover cannot be removed', async () => {
    await fs.writeFile(file, 'header\n');
    await fs.mkdir(replacementFile(file));
    await fs.writeFile(path.join(replacementFile(file), 'inside'), 'x');
    const attempt = recoverAfterCrash(file);
    await expect(attempt).rejects.toBeInstanceOf(UnreadableFileError);
    await expect(attempt).rejects.toMatchObject({ file });
  });
});

describe('createFile and linkNewFile', () => {
  for (const [name, create] of [
    ['createFile', createFile],
    ['linkNewFile', linkNewFile],
  ] as const) {
    it(`${name} creates a missing file with its content and mode 0600, and leaves nothing else`, async () => {
      expect(await create(file, 'first\n')).toBe(true);
      expect(await read()).toBe('first\n');
      expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
      expect(await fs.readdir(dir)).toEqual(['data.csv']);
    });

    it(`${name} returns false for a file that exists and leaves it as it was`, async () => {
      await fs.writeFile(file, 'existing\n', { mode: 0o644 });
      expect(await create(file, 'other\n')).toBe(false);
      expect(await read()).toBe('existing\n');
      expect((await fs.stat(file)).mode & 0o777).toBe(0o644);
      expect(await fs.readdir(dir)).toEqual(['data.csv']);
    });

    it(`${name} throws the error of its open when the directory is missing`, async () => {
      await expect(create(path.join(dir, 'missing', 'f'), 'x')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' });
      expect(await fs.readdir(dir)).toEqual([]);
    });
  }

  it('linkNewFile: of many creating one file at once, exactly one wins and its content is there whole', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => linkNewFile(file, `writer ${i}\n`.repeat(1000))));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await read()).toBe(`writer ${winner}\n`.repeat(1000));
    expect(await fs.readdir(dir)).toEqual(['data.csv']);
  });
});

describe('fsyncDir', () => {
  it('syncs a directory, and throws for one that does not exist', async () => {
    await expect(fsyncDir(dir)).resolves.toBeUndefined();
    await expect(fsyncDir(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('replaceFile', () => {
  it('replaces a file with a string, mode 0600, reporting written then renamed, leaving no temp file', async () => {
    await fs.writeFile(file, 'old\n', { mode: 0o644 });
    const steps: ReplaceStep[] = [];
    await replaceFile(file, 'new\n', { onStep: (step) => void steps.push(step) });
    expect(await read()).toBe('new\n');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect(steps).toEqual(['written', 'renamed']);
    expect(await fs.readdir(dir)).toEqual(['data.csv']);
  });

  it('replaces a file with bytes, and creates a missing one', async () => {
    await replaceFile(file, bytes('from bytes\n'));
    expect(await read()).toBe('from bytes\n');
  });

  it('writes content given as a function piece by piece, and reports writing once, after the first piece', async () => {
    await fs.writeFile(file, 'old\n');
    const steps: string[] = [];
    await replaceFile(
      file,
      async (write) => {
        for (const piece of ['one\n', 'two\n', 'three\n']) {
          await write(bytes(piece));
          steps.push(`wrote ${piece.trim()}`);
        }
      },
      { onStep: async (step) => void steps.push(step) },
    );
    expect(await read()).toBe('one\ntwo\nthree\n');
    expect(steps).toEqual(['writing', 'wrote one', 'wrote two', 'wrote three', 'written', 'renamed']);
  });

  it('has the old file under the name until the rename, and the new one from it', async () => {
    await fs.writeFile(file, 'old\n');
    const seen: string[] = [];
    await replaceFile(file, 'new\n', { onStep: async (step) => void seen.push(`${step}: ${await read()}`) });
    expect(seen).toEqual(['written: old\n', 'renamed: new\n']);
  });

  it('leaves the old file and removes the temp file when writing fails', async () => {
    await fs.writeFile(file, 'old\n');
    const failure = new Error('the producer failed');
    await expect(
      replaceFile(file, async (write) => {
        await write(bytes('part'));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await read()).toBe('old\n');
    expect(await fs.readdir(dir)).toEqual(['data.csv']);
  });

  it('leaves the old file and removes the temp file when a step before the rename fails', async () => {
    await fs.writeFile(file, 'old\n');
    const failure = new Error('killed after writing');
    await expect(
      replaceFile(file, 'new\n', {
        onStep: (step) => {
          if (step === 'written') throw failure;
        },
      }),
    ).rejects.toBe(failure);
    expect(await read()).toBe('old\n');
    expect(await fs.readdir(dir)).toEqual(['data.csv']);
  });

  it('removeReplacementLeftover removes the temp file, and does nothing without one', async () => {
    await fs.writeFile(file, 'kept\n');
    await fs.writeFile(replacementFile(file), 'half');
    await removeReplacementLeftover(file);
    await removeReplacementLeftover(file);
    expect(await fs.readdir(dir)).toEqual(['data.csv']);
    expect(await read()).toBe('kept\n');
  });
});

describe('file handles', () => {
  /** Open file descriptors of this process (Linux). */
  const openFds = () => readdirSync('/proc/self/fd').length;

  it('are all closed again by recovery, the whole-file writers and fsyncDir, whether they succeed or not', async () => {
    await fs.writeFile(file, 'header\nrow');
    await fs.writeFile(appendMarkerFile(file), inFlight(7, 8));
    const before = openFds();
    expect(await recoverInterruptedAppend(file)).toBe(3);
    await fsyncDir(dir);
    expect(await createFile(path.join(dir, 'created'), 'x\n')).toBe(true);
    expect(await linkNewFile(path.join(dir, 'linked'), 'x\n')).toBe(true);
    await replaceFile(file, 'replaced\n');
    await replaceFile(file, async (write) => write(bytes('piece\n')));
    await expect(
      replaceFile(file, async () => {
        throw new Error('the producer failed');
      }),
    ).rejects.toThrow('the producer failed');
    expect(openFds()).toBe(before);
  });
});
