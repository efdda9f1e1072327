/**
 * Crash recovery of appends: a process killed in the middle of a write leaves part of it in the
 * file. The in-flight marker (`<file>.appending`) lets the next start cut exactly that part off —
 * and nothing else: a file damaged any other way is left as it is, for the stores to refuse.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AppendOnlyFile,
  appendMarkerFile,
  openAppendHandle,
  type OpenAppendHandle,
  recoverInterruptedAppend,
} from '../../src/io/durable-file.js';
import { CorruptFileError } from '../../src/io/errors.js';
import { openCsvHistoryStore } from '../../src/io/history-store-csv.js';
import { LOBBY } from '../../src/machines/protocol.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-recovery-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** An append handle whose next append writes `keep` bytes and then hangs: the process "dies" there. */
function dyingDisk(keep: number): OpenAppendHandle {
  return async (file) => {
    const real = await openAppendHandle(file);
    return {
      ...real,
      async append(data) {
        await real.append(data.subarray(0, keep));
        return new Promise<void>(() => {}); // never returns: killed mid-write
      },
    };
  };
}

const HEADER = 'timestamp,room,login,text\n';
const ROW = (n: number) => `2026-01-01T00:00:0${n}.000Z,#lobby,alice,message ${n}\n`;

describe('recoverInterruptedAppend', () => {
  it('cuts the file back to its size before an append that was cut short, and removes the marker', async () => {
    const file = path.join(dir, 'history.csv');
    await fs.writeFile(file, HEADER + ROW(1));
    const before = await fs.readFile(file);
    const out = await AppendOnlyFile.open(file, before.length, dyingDisk(10));
    void out.serially(() => out.append(Buffer.from(ROW(2) + ROW(3)), { sync: false }));
    await waitFor(async () => (await fs.stat(file)).size === before.length + 10);

    const cut = await recoverInterruptedAppend(file); // the next start

    expect(cut).toBe(10);
    expect(await fs.readFile(file)).toEqual(before);
    await expect(fs.access(appendMarkerFile(file))).rejects.toThrow();
  });

  it('leaves a file alone when there is no marker, even if its last line is cut (that is damage, not a crash)', async () => {
    const file = path.join(dir, 'history.csv');
    await fs.writeFile(file, HEADER + ROW(1) + ROW(2).slice(0, 20));
    const before = await fs.readFile(file);

    expect(await recoverInterruptedAppend(file)).toBe(0);

    expect(await fs.readFile(file)).toEqual(before);
    await expect(openCsvHistoryStore({ file })).rejects.toBeInstanceOf(CorruptFileError);
    expect(await fs.readFile(file)).toEqual(before);
  });

  it('cuts nothing when the append had finished but the marker was not yet cleared', async () => {
    const file = path.join(dir, 'history.csv');
    await fs.writeFile(file, HEADER + ROW(1) + ROW(2));
    const before = await fs.readFile(file);
    const offset = HEADER.length + ROW(1).length;
    await fs.writeFile(appendMarkerFile(file), `${offset} ${ROW(2).length}`.padEnd(41) + '\n');

    expect(await recoverInterruptedAppend(file)).toBe(0);

    expect(await fs.readFile(file)).toEqual(before);
  });

  it('is idle between appends, and gone after a clean close', async () => {
    const file = path.join(dir, 'history.csv');
    await fs.writeFile(file, HEADER);
    const out = await AppendOnlyFile.open(file, HEADER.length);
    await out.serially(() => out.append(Buffer.from(ROW(1)), { sync: false }));
    await out.serially(async () => undefined); // the marker is cleared just after the append answers

    expect((await fs.readFile(appendMarkerFile(file), 'utf8')).trim()).toBe('');
    await out.close();

    await expect(fs.access(appendMarkerFile(file))).rejects.toThrow();
  });
});

describe('the history store after a crash in the middle of a batch', () => {
  it('opens with the messages before that batch, says how much it cut, and appends cleanly after them', async () => {
    const file = path.join(dir, 'history.csv');
    const first = await openCsvHistoryStore({ file });
    await first.append({ at: '2026-01-01T00:00:01.000Z', room: LOBBY, login: 'alice', text: 'kept' });
    await first.close();
    const crashed = await openCsvHistoryStore({ file, openAppendHandle: dyingDisk(25) });
    void crashed.append({ at: '2026-01-01T00:00:02.000Z', room: '#dev', login: 'alice', text: 'torn "quoted", never delivered' });
    await waitFor(async () => (await fs.readFile(file, 'utf8')).includes('00:00:02'));

    const cuts: number[] = [];
    const reopened = await openCsvHistoryStore({ file, onRecovered: (bytes) => cuts.push(bytes) });
    await reopened.append({ at: '2026-01-01T00:00:03.000Z', room: LOBBY, login: 'bob', text: 'after' });
    await reopened.close();

    expect(cuts).toEqual([25]);
    const again = await openCsvHistoryStore({ file });
    expect((await again.recent(LOBBY, 10)).map((m) => m.text)).toEqual(['kept', 'after']);
    expect(await again.recent('#dev', 10)).toEqual([]);
    await again.close();
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('timed out');
}
