import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
});
