/**
 * The user store's `/passwd` and `/deleteaccount`: `changePassword` and `deleteUser` rewrite
 * clients.csv whole, crash-safely (durable-file.ts, `replaceFile`), in the same queue as the
 * registrations' appends — which must then go on to the new file.
 */
import { promises as fs } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replacementFile, type ReplaceStep } from '../../src/io/durable-file.js';
import { StorageError } from '../../src/io/errors.js';
import type { UserStore } from '../../src/io/stores.js';
import { openCsvUserStore } from '../../src/io/user-store-csv.js';
import { syncGatedDisk } from './sync-gated-disk.js';
import { file, HEADER_LINE, keyring, open } from './user-store-files.js';


/** A store with alice, bob and carol registered (from three addresses). */
async function withThree(opts: Partial<Parameters<typeof openCsvUserStore>[0]> = {}): Promise<UserStore> {
  const store = await open(opts);
  await store.register('Alice', 'alice-pw', '10.0.0.1');
  await store.register('Bob', 'bob-pw', '10.0.0.2');
  await store.register('Carol', 'carol-pw', '10.0.0.3');
  return store;
}

const rows = async () => (await fs.readFile(file, 'utf8')).split('\n').slice(1, -1).map((r) => r.split(','));
const rowOf = async (login: string) => (await rows()).find((r) => r[0] === keyring.loginKey(login));


describe('CSV user store: changePassword', () => {
  it('changes the password when the current one is right: the new one signs in, the old one no longer, after a reopen too', async () => {
    const store = await withThree();

    expect(await store.changePassword('bob', 'bob-pw', 'bob-new')).toBe('changed');

    expect(await store.verifyPassword('bob', 'bob-new')).toBe(true);
    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(false);
    await store.close();
    const reopened = await open();
    expect(await reopened.verifyPassword('BOB', 'bob-new')).toBe(true);
    expect(await reopened.verifyPassword('bob', 'bob-pw')).toBe(false);
    expect(reopened.count()).toBe(3);
  });

  it('changes only the hash of that row: every other field and every other row stays as it was', async () => {
    const store = await withThree();
    const before = await rows();

    await store.changePassword('Bob', 'bob-pw', 'bob-new');

    const after = await rows();
    expect(after.map((r) => r[0])).toEqual(before.map((r) => r[0])); // same logins, same order
    for (const [i, row] of after.entries()) {
      if (row[0] === keyring.loginKey('bob')) {
        expect([row[0], row[1], row[2], row[4]]).toEqual([before[i]![0], before[i]![1], before[i]![2], before[i]![4]]);
        expect(row[3]).not.toBe(before[i]![3]);
        expect(row[3]).toMatch(/^scrypt\$/);
      } else {
        expect(row).toEqual(before[i]);
      }
    }
    expect(await store.registeredLogin('bob')).toBe('Bob');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it('answers "wrong" for a wrong current password or an unknown login, and leaves the file byte-identical', async () => {
    const store = await withThree();
    const before = await fs.readFile(file);

    expect(await store.changePassword('bob', 'not-bobs', 'bob-new')).toBe('wrong');
    expect(await store.changePassword('nobody', 'bob-pw', 'bob-new')).toBe('wrong');

    expect((await fs.readFile(file)).equals(before)).toBe(true);
    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(true);
  });

  it('resolves only once the new file is written, fsynced and renamed into place; sign-ins check the old password until then', async () => {
    let release!: () => void;
    const steps: ReplaceStep[] = [];
    const store = await withThree({
      onRewriteStep: async (step) => {
        steps.push(step);
        if (step === 'written') await new Promise<void>((resolve) => (release = resolve));
      },
    });
    let settled = false;
    const changing = store.changePassword('bob', 'bob-pw', 'bob-new').then((r) => ((settled = true), r));
    await expect.poll(() => steps).toEqual(['written']); // 'written': the temp file is fsynced

    expect(settled).toBe(false);
    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(true);
    expect(await store.verifyPassword('bob', 'bob-new')).toBe(false);
    expect(await fs.readFile(replacementFile(file), 'utf8')).toContain(keyring.loginKey('bob'));
    release();

    expect(await changing).toBe('changed');
    expect(steps).toEqual(['written', 'renamed']);
    expect(await store.verifyPassword('bob', 'bob-new')).toBe(true);
    await expect(fs.access(replacementFile(file))).rejects.toThrow(); // renamed away
  });

  it('appends later registrations to the new file, through a handle opened anew', async () => {
    const disk = syncGatedDisk();
    const store = await withThree({ openAppendHandle: disk.open });
    await store.changePassword('bob', 'bob-pw', 'bob-new');
    expect(disk.calls.at(-1)).toBe('close'); // the handle on the file renamed over

    expect(await store.register('Dave', 'dave-pw', '10.0.0.4')).toBe('registered');
    expect(disk.calls.slice(-2)).toEqual(['append', 'datasync']);

    await store.close();
    const reopened = await open();
    expect(reopened.count()).toBe(4);
    expect(await reopened.verifyPassword('dave', 'dave-pw')).toBe(true);
    expect(await reopened.verifyPassword('bob', 'bob-new')).toBe(true);
  });

  it('loses nothing when changes, registrations and sign-ins run at once', async () => {
    const store = await withThree();

    const [changed, ...others] = await Promise.all([
      store.changePassword('bob', 'bob-pw', 'bob-new'),
      ...Array.from({ length: 5 }, (_, i) => store.register(`user${i}`, `pw${i}`, '10.0.1.1')),
      store.changePassword('carol', 'carol-pw', 'carol-new'),
      ...Array.from({ length: 5 }, () => store.verifyPassword('bob', 'bob-pw')),
    ]);

    expect(changed).toBe('changed');
    expect(others.slice(0, 5)).toEqual(Array(5).fill('registered'));
    expect(others[5]).toBe('changed');
    // Each sign-in checked the old hash or the new one: never a half-written row.
    await store.close();
    const reopened = await open(); // passes every start-up check: one row per login, all valid
    expect(reopened.count()).toBe(8);
    expect(await reopened.verifyPassword('bob', 'bob-new')).toBe(true);
    expect(await reopened.verifyPassword('carol', 'carol-new')).toBe(true);
    for (let i = 0; i < 5; i++) expect(await reopened.verifyPassword(`user${i}`, `pw${i}`)).toBe(true);
  });

  it('of two changes from the same current password, makes exactly one (the other finds it wrong by then)', async () => {
    const store = await withThree();

    const results = await Promise.all([store.changePassword('bob', 'bob-pw', 'first'), store.changePassword('bob', 'bob-pw', 'second')]);

    expect(results.sort()).toEqual(['changed', 'wrong']);
    const winner = (await store.verifyPassword('bob', 'first')) ? 'first' : 'second';
    await store.close();
    expect(await (await open()).verifyPassword('bob', winner)).toBe(true);
  });

  it('answers "wrong" once the registrations were cleared', async () => {
    const store = await withThree();
    await store.clear();

    expect(await store.changePassword('bob', 'bob-pw', 'bob-new')).toBe('wrong');
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
  });

  it('rejects with StorageError when the file cannot be replaced, and keeps the old password, in memory and on disk', async () => {
    const store = await withThree();
    const before = await fs.readFile(file);
    await fs.mkdir(replacementFile(file)); // the temp file's name is taken by a directory

    await expect(store.changePassword('bob', 'bob-pw', 'bob-new')).rejects.toBeInstanceOf(StorageError);

    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(true);
    expect((await fs.readFile(file)).equals(before)).toBe(true);
    await fs.rmdir(replacementFile(file));
    expect(await store.register('Dave', 'dave-pw', '10.0.0.4')).toBe('registered'); // appends go on
  });
});

describe('CSV user store: a rewrite interrupted', () => {
  it('before the rename: the old file is whole and in place, and the next open removes the temp file', async () => {
    const store = await withThree({
      onRewriteStep: (step) => {
        if (step === 'written') throw new Error('crash before the rename');
      },
    });
    const before = await fs.readFile(file);

    await expect(store.changePassword('bob', 'bob-pw', 'bob-new')).rejects.toBeInstanceOf(StorageError);
    expect((await fs.readFile(file)).equals(before)).toBe(true);
    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(true);
    await store.close();
    // What a kill -9 at that point leaves beside the file: a (here, partial) replacement.
    await fs.writeFile(replacementFile(file), `${HEADER_LINE}${keyring.loginKey('bob')},half`);

    const reopened = await open();

    expect(await reopened.verifyPassword('bob', 'bob-pw')).toBe(true);
    expect(reopened.count()).toBe(3);
    await expect(fs.access(replacementFile(file))).rejects.toThrow();
  });

  it('after the rename: the new file is whole and in place, appends go to it, and the next open reads it', async () => {
    let crash = true;
    const store = await withThree({
      onRewriteStep: (step) => {
        if (step === 'renamed' && crash) throw new Error('crash before the directory fsync');
      },
    });

    await expect(store.changePassword('bob', 'bob-pw', 'bob-new')).rejects.toBeInstanceOf(StorageError);
    crash = false;
    expect(await store.register('Dave', 'dave-pw', '10.0.0.4')).toBe('registered');
    await store.close();

    const reopened = await open();
    expect(await reopened.verifyPassword('bob', 'bob-new')).toBe(true);
    expect(await reopened.verifyPassword('dave', 'dave-pw')).toBe(true);
    expect(reopened.count()).toBe(4);
  });
});

describe('CSV user store: deleteUser', () => {
  it('removes the row, keeps the others as they were, and the login can be registered anew', async () => {
    const store = await withThree();
    const before = await rows();

    expect(await store.deleteUser('BOB')).toBe(true);

    expect(await store.isRegistered('bob')).toBe(false);
    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(false);
    expect(store.count()).toBe(2);
    expect(await rows()).toEqual(before.filter((r) => r[0] !== keyring.loginKey('bob')));
    expect(await store.register('bob', 'another-pw', '10.0.0.9')).toBe('registered');
    await store.close();
    const reopened = await open();
    expect(reopened.count()).toBe(3);
    expect(await reopened.registeredLogin('BOB')).toBe('bob'); // the new registration's spelling
    expect(await reopened.verifyPassword('bob', 'another-pw')).toBe(true);
    expect(await reopened.verifyPassword('bob', 'bob-pw')).toBe(false);
  });

  it('keeps no trace of the deleted row in the file', async () => {
    const store = await withThree();
    const bob = (await rowOf('bob'))!;

    await store.deleteUser('bob');

    const raw = await fs.readFile(file, 'utf8');
    for (const field of bob) expect(raw).not.toContain(field);
  });

  it('answers false for a login that is not registered, and leaves the file byte-identical', async () => {
    const store = await withThree();
    const before = await fs.readFile(file);

    expect(await store.deleteUser('nobody')).toBe(false);

    expect((await fs.readFile(file)).equals(before)).toBe(true);
  });

  it('deletes the first row too (the one the key is checked against at open), and the last one', async () => {
    const store = await withThree();

    await store.deleteUser('alice');
    await store.deleteUser('bob');
    await store.deleteUser('carol');

    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
    await store.close();
    expect((await open()).count()).toBe(0);
  });

  it('resolves only once the new file is in place; a sign-in still works until then', async () => {
    let release!: () => void;
    const steps: ReplaceStep[] = [];
    const store = await withThree({
      onRewriteStep: async (step) => {
        steps.push(step);
        if (step === 'written') await new Promise<void>((resolve) => (release = resolve));
      },
    });
    let settled = false;
    const deleting = store.deleteUser('bob').then(() => (settled = true));
    await expect.poll(() => steps).toEqual(['written']);

    expect(settled).toBe(false);
    expect(await store.isRegistered('bob')).toBe(true);
    release();
    await deleting;
    expect(steps).toEqual(['written', 'renamed']);
    expect(await store.isRegistered('bob')).toBe(false);
  });

  it('serializes with registrations: one queued behind a deletion lands in the new file', async () => {
    const store = await withThree();

    const [deleted, registered] = await Promise.all([store.deleteUser('alice'), store.register('Dave', 'dave-pw', '10.0.0.4')]);

    expect([deleted, registered]).toEqual([true, 'registered']);
    await store.close();
    const reopened = await open();
    expect(reopened.count()).toBe(3);
    expect(await reopened.isRegistered('alice')).toBe(false);
    expect(await reopened.verifyPassword('dave', 'dave-pw')).toBe(true);
  });

  it('rejects with StorageError when the file cannot be replaced, and keeps the registration', async () => {
    const store = await withThree();
    await fs.mkdir(replacementFile(file));

    await expect(store.deleteUser('bob')).rejects.toBeInstanceOf(StorageError);

    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(true);
    expect(await rowOf('bob')).toBeDefined();
  });
});
