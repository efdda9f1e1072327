/**
 * The CSV store of private messages left for users offline (offline.csv): durable before it
 * answers, nothing readable in the file, every row checked at open, at most `maxPerUser` waiting,
 * and a delivery that never misses a message whose `leave` came before it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyringFromKey, type Keyring } from '../../src/io/crypto.js';
import { CorruptFileError } from '../../src/io/errors.js';
import { OFFLINE_HEADER, openCsvOfflineStore } from '../../src/io/offline-store-csv.js';
import type { OfflineMessageStore, WaitingMessage } from '../../src/io/stores.js';
import { syncedBeforeAnswer, syncGatedDisk } from './sync-gated-disk.js';

let dir: string;
let file: string;
let keyring: Keyring;
const opened: OfflineMessageStore[] = [];

async function open(opts: Partial<Parameters<typeof openCsvOfflineStore>[0]> = {}): Promise<OfflineMessageStore> {
  const store = await openCsvOfflineStore({ file, keyring, maxPerUser: 5, ...opts });
  opened.push(store);
  return store;
}

/** What `deliver` hands over for `login` (and takes: they no longer wait). */
async function delivered(store: OfflineMessageStore, login: string): Promise<WaitingMessage[]> {
  let got: WaitingMessage[] = [];
  await store.deliver(login, (messages) => {
    got = [...messages];
    return true;
  });
  return got;
}

const at = (second: number) => `2026-12-07T10:00:${String(second).padStart(2, '0')}.000Z`;
const message = (from: string, text: string, second = 0): WaitingMessage => ({ from, at: at(second), text });

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-offline-'));
  file = path.join(dir, 'offline.csv');
  keyring = keyringFromKey(randomBytes(32));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await fs.rm(dir, { recursive: true, force: true });
});

describe('CSV offline message store', () => {
  it('keeps what was left across a reopen, for its recipient only, oldest first, and delivers it once', async () => {
    const store = await open();
    expect(await store.leave('bob', message('alice', 'first', 1))).toBe('stored');
    expect(await store.leave('carol', message('alice', 'for carol', 2))).toBe('stored');
    expect(await store.leave('bob', message('dave', 'second', 3))).toBe('stored');
    await store.close();

    const reopened = await open();
    expect(await delivered(reopened, 'bob')).toEqual([message('alice', 'first', 1), message('dave', 'second', 3)]);
    expect(await delivered(reopened, 'bob')).toEqual([]);
    await reopened.close();

    const again = await open();
    expect(await delivered(again, 'bob')).toEqual([]);
    expect(await delivered(again, 'carol')).toEqual([message('alice', 'for carol', 2)]);
  });

  it('finds the recipient whatever the case of the login', async () => {
    const store = await open();
    await store.leave('Bob', message('alice', 'hi'));

    expect(await delivered(store, 'BOB')).toEqual([message('alice', 'hi')]);
  });

  it('answers "stored" only once the row has been written and synced to the disk', async () => {
    const disk = syncGatedDisk();
    const store = await open({ openAppendHandle: disk.open });
    disk.calls.length = 0;
    disk.hold();

    const leaving = store.leave('bob', message('alice', 'hi'));
    await syncedBeforeAnswer(disk.syncRequested, leaving, 'a message was answered "stored" without a datasync of offline.csv');
    expect(disk.calls).toEqual(['append', 'datasync']);

    disk.release();
    expect(await leaving).toBe('stored');
  });

  it('holds neither a login nor a word of the message in the clear', async () => {
    const store = await open();
    await store.leave('bobbington', message('alicia', 'the cake is in the fridge'));
    await store.close();

    const content = await fs.readFile(file, 'utf8');
    expect(content.startsWith(`${OFFLINE_HEADER.join(',')}\n`)).toBe(true);
    expect(content.split('\n').filter(Boolean)).toHaveLength(2);
    for (const secret of ['bobbington', 'alicia', 'cake', 'fridge', '2026-12-07']) expect(content).not.toContain(secret);
  });

  it('refuses one more than maxPerUser for a recipient, even when they are all sent at once, and stores nothing of it', async () => {
    const store = await open({ maxPerUser: 3 });
    const results = await Promise.all([1, 2, 3, 4].map((n) => store.leave('bob', message('alice', `m${n}`, n))));

    expect(results).toEqual(['stored', 'stored', 'stored', 'full']);
    expect(await store.leave('carol', message('alice', 'others still can'))).toBe('stored');
    expect((await delivered(store, 'bob')).map((m) => m.text)).toEqual(['m1', 'm2', 'm3']);
    // Delivered: there is room again.
    expect(await store.leave('bob', message('alice', 'm5'))).toBe('stored');
  });

  it('delivers a message whose leave was called before the delivery, though its write was still under way', async () => {
    const disk = syncGatedDisk();
    const store = await open({ openAppendHandle: disk.open });
    disk.hold();
    const leaving = store.leave('bob', message('alice', 'just in time'));
    await disk.syncRequested;

    const delivering = delivered(store, 'bob');
    disk.release();

    expect(await leaving).toBe('stored');
    expect(await delivering).toEqual([message('alice', 'just in time')]);
  });

  it('keeps the messages waiting when the delivery could not take them (the user left meanwhile)', async () => {
    const store = await open();
    await store.leave('bob', message('alice', 'hi'));

    await store.deliver('bob', () => false);

    expect(await delivered(store, 'bob')).toEqual([message('alice', 'hi')]);
  });

  it('never calls the delivery for a user with nothing waiting', async () => {
    const store = await open();
    let called = false;

    await store.deliver('bob', () => (called = true));

    expect(called).toBe(false);
  });

  it('forgets what waits for one user (on disk too), and everything on clear', async () => {
    const store = await open();
    await store.leave('bob', message('alice', 'for bob'));
    await store.leave('carol', message('alice', 'for carol'));
    await store.leave('dave', message('alice', 'for dave'));

    await store.forget('bob');
    await store.close();
    const reopened = await open();
    expect(await delivered(reopened, 'bob')).toEqual([]);

    await reopened.clear();
    await reopened.close();
    expect(await fs.readFile(file, 'utf8')).toBe(`${OFFLINE_HEADER.join(',')}\n`);
    const cleared = await open();
    expect(await delivered(cleared, 'carol')).toEqual([]);
    expect(await delivered(cleared, 'dave')).toEqual([]);
  });

  it('gives an empty file (a crash right after its creation) its header, synced, then works as usual', async () => {
    await fs.writeFile(file, '');
    const disk = syncGatedDisk();
    const store = await open({ openAppendHandle: disk.open });
    expect(disk.calls).toEqual(['append', 'datasync']);
    await store.leave('bob', message('alice', 'hi'));
    await store.close();

    expect((await fs.readFile(file, 'utf8')).startsWith(`${OFFLINE_HEADER.join(',')}\n`)).toBe(true);
    expect(await delivered(await open(), 'bob')).toEqual([message('alice', 'hi')]);
  });

  it('counts a message still being written against the limit, after an earlier one for the same user was stored', async () => {
    const disk = syncGatedDisk();
    const store = await open({ openAppendHandle: disk.open, maxPerUser: 2 });
    disk.hold();
    const first = store.leave('bob', message('alice', 'one'));
    await disk.syncRequested;
    const second = store.leave('bob', message('alice', 'two'));
    // The first's sync completes, the second's (which comes after it) is held.
    disk.release();
    disk.hold();
    expect(await first).toBe('stored');

    // One stored, one still on its way: the limit of 2 is reached.
    expect(await store.leave('bob', message('alice', 'three'))).toBe('full');

    disk.release();
    expect(await second).toBe('stored');
    expect((await delivered(store, 'bob')).map((m) => m.text)).toEqual(['one', 'two']);
  });

  it('refuses to leave a message once closed', async () => {
    const store = await open();
    await store.close();

    await expect(store.leave('bob', message('alice', 'too late'))).rejects.toThrow(/closed/);
  });

  it('appends later messages to the file a removal rewrote', async () => {
    const store = await open();
    await store.leave('bob', message('alice', 'one'));
    await delivered(store, 'bob');
    await store.leave('bob', message('alice', 'two'));
    await store.close();

    expect(await delivered(await open(), 'bob')).toEqual([message('alice', 'two')]);
  });
});

describe('CSV offline message store: a damaged file is refused, and left as it was', () => {
  /** A file with one good row for bob (from a store with this test's key). */
  async function fileWithOneRow(): Promise<string[]> {
    const store = await open();
    await store.leave('bob', message('alice', 'hi'));
    await store.close();
    opened.length = 0;
    return (await fs.readFile(file, 'utf8')).split('\n');
  }

  async function expectRefused(content: string, line: number, problem: RegExp): Promise<void> {
    await fs.writeFile(file, content);
    const error = await openCsvOfflineStore({ file, keyring, maxPerUser: 5 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(CorruptFileError);
    expect(String((error as Error).message)).toContain(file);
    expect(String((error as Error).message)).toContain(`line ${line}`);
    expect(String((error as Error).message)).toMatch(problem);
    expect(await fs.readFile(file, 'utf8')).toBe(content);
  }

  it('names the line of a to_key that is no login index', async () => {
    const [header, row] = await fileWithOneRow();
    await expectRefused(`${header}\n${row}\nnot-a-key,${row!.split(',')[1]}\n`, 3, /to_key is not 64 lowercase hex/);
  });

  it('refuses a to_key with anything before or after its 64 hex characters', async () => {
    const [header, row] = await fileWithOneRow();
    const [toKey, token] = row!.split(',');
    await expectRefused(`${header}\nx${toKey},${token}\n`, 2, /to_key is not 64 lowercase hex/);
    await expectRefused(`${header}\n${toKey}x,${token}\n`, 2, /to_key is not 64 lowercase hex/);
  });

  it('names line 1 when the header has no newline after it', async () => {
    await expectRefused(OFFLINE_HEADER.join(','), 1, /header is not terminated by a newline/);
  });

  it('names the line of a message that does not decrypt with this key (another key, or tampered)', async () => {
    const [header, row] = await fileWithOneRow();
    const [toKey, token] = row!.split(',');
    const tampered = token!.slice(0, -2) + (token!.endsWith('AA') ? 'BB' : 'AA');
    await expectRefused(`${header}\n${toKey},${tampered}\n`, 2, /decrypt/);
  });

  it('names the line of a message moved to another recipient', async () => {
    const [header, row] = await fileWithOneRow();
    const token = row!.split(',')[1];
    await expectRefused(`${header}\n${keyring.loginKey('carol')},${token}\n`, 2, /another user/);
  });

  it('names the line with a wrong number of columns, and refuses a wrong header', async () => {
    const [header, row] = await fileWithOneRow();
    await expectRefused(`${header}\n${row},extra\n`, 2, /column|field/i);
    await fs.writeFile(file, `to,message\n`);
    await expect(openCsvOfflineStore({ file, keyring, maxPerUser: 5 })).rejects.toThrow(/header/i);
  });
});
