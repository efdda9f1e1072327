import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError, UnreadableFileError } from '../../src/io/errors.js';
import { LogFile } from '../../src/io/log-file.js';

const TIMESTAMPED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /;

let dir: string;
let file: string;
let log: LogFile | undefined;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-log-'));
  file = path.join(dir, 'server.log');
});

afterEach(async () => {
  await log?.close();
  log = undefined;
  await fs.rm(dir, { recursive: true, force: true });
});

async function lines(): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8');
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text.split('\n').slice(0, -1);
}

describe('LogFile', () => {
  it('creates the file with mode 0600 and appends timestamped lines in order', async () => {
    log = await LogFile.open(file);
    log.write('server started');
    log.write('alice logged in');
    await log.flush();
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const written = await lines();
    expect(written.map((l) => l.replace(TIMESTAMPED, ''))).toEqual(['server started', 'alice logged in']);
    for (const l of written) expect(l).toMatch(TIMESTAMPED);
  });

  it('appends to an existing log', async () => {
    await fs.writeFile(file, 'earlier\n');
    log = await LogFile.open(file);
    log.write('later');
    await log.flush();
    expect((await lines()).map((l) => l.replace(TIMESTAMPED, ''))).toEqual(['earlier', 'later']);
  });

  it('keeps one call on one line whatever the text holds', async () => {
    log = await LogFile.open(file);
    log.write('evil\r\n2024-01-01T00:00:00.000Z forged line\nend\r');
    await log.flush();
    const written = await lines();
    expect(written).toHaveLength(1);
    expect(written[0].replace(TIMESTAMPED, '')).toBe('evil 2024-01-01T00:00:00.000Z forged line end ');
  });

  it('clears the file and keeps appending afterwards', async () => {
    log = await LogFile.open(file);
    log.write('before');
    const cleared = log.clear();
    log.write('after');
    await cleared;
    await log.flush();
    expect((await lines()).map((l) => l.replace(TIMESTAMPED, ''))).toEqual(['after']);
    log.write('more');
    await log.flush();
    expect((await lines()).map((l) => l.replace(TIMESTAMPED, ''))).toEqual(['after', 'more']);
  });

  it('ignores writes after close instead of throwing', async () => {
    log = await LogFile.open(file);
    log.write('last');
    await log.close();
    expect(() => log?.write('too late')).not.toThrow();
    await log.close();
    expect((await lines()).map((l) => l.replace(TIMESTAMPED, ''))).toEqual(['last']);
  });

  it('writes the lines of a turn when the turn ends, without a flush, turn after turn', async () => {
    log = await LogFile.open(file);
    log.write('first turn a');
    log.write('first turn b');
    expect(readFileSync(file, 'utf8')).toBe(''); // not before the turn ends
    await nextTurn();
    expect(untimestamped(readFileSync(file, 'utf8'))).toEqual(['first turn a', 'first turn b']);
    log.write('second turn');
    await nextTurn();
    expect(untimestamped(readFileSync(file, 'utf8'))).toEqual(['first turn a', 'first turn b', 'second turn']);
  });

  it('flush resolves only once the lines written so far are in the file', async () => {
    log = await LogFile.open(file);
    log.write('flushed');
    const flushed = log.flush();
    expect(flushed).toBeInstanceOf(Promise);
    await flushed;
    expect(untimestamped(readFileSync(file, 'utf8'))).toEqual(['flushed']);
  });

  it('clear empties lines already written to the file', async () => {
    log = await LogFile.open(file);
    log.write('written before the clear');
    await log.flush();
    expect(await lines()).toHaveLength(1);
    await log.clear();
    expect(await fs.readFile(file, 'utf8')).toBe('');
  });

  it('closes its file: a clear after close rejects with StorageError and leaves the file as it was', async () => {
    log = await LogFile.open(file);
    log.write('kept');
    await log.close();
    const before = await fs.readFile(file, 'utf8');
    const cleared = log.clear();
    await expect(cleared).rejects.toBeInstanceOf(StorageError);
    await expect(cleared).rejects.toMatchObject({ file });
    expect(await fs.readFile(file, 'utf8')).toBe(before);
  });

  it('open rejects with UnreadableFileError when the file cannot be opened', async () => {
    const missing = path.join(dir, 'no-such-dir', 'server.log');
    const opening = LogFile.open(missing);
    await expect(opening).rejects.toBeInstanceOf(UnreadableFileError);
    await expect(opening).rejects.toMatchObject({ file: missing });
  });
});

/** Resolves after every callback queued with setImmediate before it (and their microtasks) has run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function untimestamped(text: string): string[] {
  return text
    .split('\n')
    .slice(0, -1)
    .map((l) => {
      expect(l).toMatch(TIMESTAMPED);
      return l.replace(TIMESTAMPED, '');
    });
}
