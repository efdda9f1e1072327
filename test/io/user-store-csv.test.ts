import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptFileError, KeyMismatchError, StorageError, UnreadableFileError } from '../../src/io/errors.js';
import { CLIENTS_HEADER, clientsFileHasRecords } from '../../src/io/user-store-csv.js';
import { failingDisk } from './failing-disk.js';
import { syncedBeforeAnswer, syncGatedDisk } from './sync-gated-disk.js';
import { dir, file, HEADER_LINE, keyring, open, rekey } from './user-store-files.js';


/** A clients.csv row that is valid apart from what the test overrides. */
async function validRow(login: string): Promise<string[]> {
  const store = await open({ file: path.join(dir, `scratch-${login}.csv`) });
  await store.register(login, 'pw', '10.0.0.1');
  const lines = (await fs.readFile(path.join(dir, `scratch-${login}.csv`), 'utf8')).split('\n');
  return lines[1].split(',');
}


describe('CSV user store', () => {
  it('creates a missing file with just the header, mode 0600', async () => {
    await open();
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it('writes the header into an empty file', async () => {
    await fs.writeFile(file, '');
    const store = await open();
    expect(await store.register('alice', 'pw', '127.0.0.1')).toBe('registered');
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    expect(lines[0]).toBe(CLIENTS_HEADER.join(','));
    expect(lines).toHaveLength(3);
  });

  it('finds a registration again after reopening, and checks its password', async () => {
    const first = await open();
    expect(await first.register('Alice', 'pa,ss "word" ü', '127.0.0.1')).toBe('registered');
    await first.close();

    const second = await open();
    expect(second.count()).toBe(1);
    expect(await second.isRegistered('alice')).toBe(true);
    expect(await second.verifyPassword('ALICE', 'pa,ss "word" ü')).toBe(true);
    expect(await second.verifyPassword('alice', 'password')).toBe(false);
    expect(await second.verifyPassword('bob', 'pa,ss "word" ü')).toBe(false);
  });

  it('keeps logins and passwords with commas, quotes and unicode intact', async () => {
    const store = await open();
    for (const login of ['a,b', '"quoted"', 'Zoë😀', "o'neil"]) {
      expect(await store.register(login, `${login}-pw`, '::1')).toBe('registered');
    }
    await store.close();
    const reopened = await open();
    for (const login of ['a,b', '"quoted"', 'Zoë😀', "o'neil"]) {
      expect(await reopened.verifyPassword(login, `${login}-pw`)).toBe(true);
    }
  });

  it('treats logins case-insensitively', async () => {
    const store = await open();
    await store.register('Alice', 'pw', '127.0.0.1');
    expect(await store.register('ALICE', 'other', '127.0.0.1')).toBe('taken');
    expect(store.count()).toBe(1);
  });

  it('lets exactly one of five concurrent registrations of a login win', async () => {
    const store = await open();
    const results = await Promise.all(
      ['bob', 'Bob', 'BOB', 'bOb', 'boB'].map((login, i) => store.register(login, `pw${i}`, '127.0.0.1')),
    );
    expect(results.filter((r) => r === 'registered')).toHaveLength(1);
    expect(results.filter((r) => r === 'taken')).toHaveLength(4);
    expect((await fs.readFile(file, 'utf8')).trimEnd().split('\n')).toHaveLength(2);
  });

  it('never writes the login, the address or the password in the clear', async () => {
    const store = await open();
    await store.register('Alice', 'hunter2', '127.0.0.1');
    await store.register('Zoë', 'pässwörd', '192.168.17.42');
    const raw = await fs.readFile(file);
    for (const secret of ['Alice', 'alice', 'ALICE', 'hunter2', '127.0.0.1', 'Zoë', 'pässwörd', '192.168.17.42']) {
      expect(raw.includes(Buffer.from(secret)), secret).toBe(false);
    }
    const row = raw.toString('utf8').split('\n')[1].split(',');
    expect(row[0]).toBe(keyring.loginKey('alice'));
    expect(keyring.decrypt(row[1])).toBe('Alice');
    expect(keyring.decrypt(row[2])).toBe('127.0.0.1');
    expect(row[3]).toMatch(/^scrypt\$/);
    expect(Number.isNaN(Date.parse(row[4]))).toBe(false);
  });

  it('refuses to open with a key that does not match the records', async () => {
    const store = await open();
    await store.register('alice', 'pw', '127.0.0.1');
    await store.close();
    const before = await fs.readFile(file);

    rekey();
    await expect(open()).rejects.toThrow(KeyMismatchError);
    await expect(open()).rejects.toThrow(`the key does not match the records in ${file}`);
    expect(await fs.readFile(file)).toEqual(before);
  });

  it('clears every registration, leaving the header', async () => {
    const store = await open();
    await store.register('alice', 'pw', '127.0.0.1');
    await store.register('bob', 'pw', '127.0.0.1');
    await store.clear();
    expect(store.count()).toBe(0);
    expect(await store.isRegistered('alice')).toBe(false);
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
    expect(await store.register('alice', 'new', '127.0.0.1')).toBe('registered');
    await store.close();
    expect((await open()).count()).toBe(1);
  });

  it('rolls a failed write back, reports StorageError, and lets the login register later', async () => {
    const disk = failingDisk();
    const store = await open({ openAppendHandle: disk.open });
    await store.register('alice', 'pw', '127.0.0.1');
    const before = await fs.readFile(file);

    disk.failNextAppend();
    const attempt = store.register('bob', 'pw', '127.0.0.1');
    await expect(attempt).rejects.toThrow(StorageError);
    await expect(attempt).rejects.toMatchObject({ code: 'STATECHAT_ERR_STORAGE', file });
    expect(await fs.readFile(file)).toEqual(before);
    expect(await store.isRegistered('bob')).toBe(false);

    expect(await store.register('bob', 'pw', '127.0.0.1')).toBe('registered');
    await store.close();
    expect((await open()).count()).toBe(2);
  });

  it('answers a registration only once its record has been written and synced to the disk', async () => {
    const disk = syncGatedDisk();
    const store = await open({ openAppendHandle: disk.open });
    disk.calls.length = 0;
    disk.hold();

    const registering = store.register('alice', 'pw', '127.0.0.1');
    await syncedBeforeAnswer(disk.syncRequested, registering, 'the registration was answered without a datasync of clients.csv');
    expect(disk.calls).toEqual(['append', 'datasync']);
    // Until the sync completes the login is not taken: nobody may see a registration a crash could lose.
    expect(await store.isRegistered('alice')).toBe(false);

    disk.release();
    expect(await registering).toBe('registered');
    expect(await store.isRegistered('alice')).toBe(true);
  });

  // Start-up keeps each row's offset and decodes the line again at sign-in (user-store-csv.ts):
  // that second reading must find the same fields for a file saved with Windows line ends, and
  // for a row that csv-parse read (a quoted field, which has no offset).
  it('signs in users of a CRLF file and of quoted rows, decoding each row again as start-up read it', async () => {
    const alice = (await validRow('alice')).join(',');
    const bob = (await validRow('bob')).map((field) => `"${field}"`).join(',');
    const carol = (await validRow('carol')).join(',');
    await fs.writeFile(file, `${HEADER_LINE.replace('\n', '\r\n')}${alice}\r\n${carol}\r\n${bob}\r\n`);
    const store = await open();
    for (const login of ['alice', 'bob', 'carol']) {
      expect(await store.verifyPassword(login, 'pw')).toBe(true);
      expect(await store.registeredLogin(login)).toBe(login);
    }
    expect(await store.verifyPassword('carol', 'wrong')).toBe(false);
    // A look-alike of a row read either way is refused: their skeleton keys were read too.
    expect(await store.register('b0b', 'pw', '127.0.0.1')).toBe('confusable');
    expect(await store.register('caro1', 'pw', '127.0.0.1')).toBe('confusable');
    // Deleting carol frees her skeleton (read from her line again, its '\r' not part of it).
    expect(await store.deleteUser('carol')).toBe(true);
    expect(await store.register('caro1', 'pw', '127.0.0.1')).toBe('registered');
  });

  describe('refuses a corrupt file, names the line and leaves the file untouched', () => {
    async function expectCorrupt(content: string, line: number, reason: RegExp): Promise<void> {
      await fs.writeFile(file, content);
      const before = await fs.readFile(file);
      const attempt = open();
      await expect(attempt).rejects.toThrow(CorruptFileError);
      await expect(attempt).rejects.toMatchObject({ file, line, reason: expect.stringMatching(reason) });
      expect(await fs.readFile(file)).toEqual(before);
    }

    it('a header that is not terminated by a newline', async () => {
      await expectCorrupt(CLIENTS_HEADER.join(','), 1, /the header is not terminated by a newline/);
    });

    it('a wrong header', async () => {
      await expectCorrupt('login,password\n', 1, /expected the header/);
    });

    it('a row with too few fields', async () => {
      const good = (await validRow('alice')).join(',');
      const short = (await validRow('bob')).slice(0, 3).join(',');
      await expectCorrupt(`${HEADER_LINE}${good}\n${short}\n`, 3, /expected 6 fields, found 3/);
    });

    it('a row truncated mid-write', async () => {
      const good = (await validRow('alice')).join(',');
      const torn = (await validRow('bob')).join(',').slice(0, 50);
      await expectCorrupt(`${HEADER_LINE}${good}\n${torn}`, 3, /not terminated/);
    });

    it('an unclosed quote, reported where the record starts', async () => {
      const good = (await validRow('alice')).join(',');
      const row = await validRow('bob');
      row[4] = `"${row[4]}`;
      await expectCorrupt(`${HEADER_LINE}${row.join(',')}\n${good}\n`, 2, /never closed/);
    });

    it('a stray quote inside a field', async () => {
      const row = await validRow('alice');
      row[4] = `x"y`;
      await expectCorrupt(`${HEADER_LINE}${row.join(',')}\n`, 2, /quote/);
    });

    it('a malformed login_key', async () => {
      const good = (await validRow('alice')).join(',');
      const alsoGood = (await validRow('carol')).join(',');
      const row = await validRow('bob');
      row[0] = row[0].slice(1);
      await expectCorrupt(`${HEADER_LINE}${good}\n${alsoGood}\n${row.join(',')}\n`, 4, /login_key/);
    });

    it('a blank line between records', async () => {
      const good = (await validRow('alice')).join(',');
      await expectCorrupt(`${HEADER_LINE}\n${good}\n`, 2, /empty line/);
    });

    // Every row's shape is checked at start-up (each field in its own row, after two good rows: not
    // only the first row is looked at). A value of the wrong kind is named with its column.
    it.each([
      [1, 'login', 'not-a-token', /^login is not an encrypted value$/],
      [1, 'login (a token cut short)', 'v1.AAAAAAAAAAAAAAAA.AAAA.AAAA', /^login is not an encrypted value$/],
      [2, 'address', 'v2.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA', /^address is not an encrypted value$/],
      [3, 'password', 'plaintext-password', /^password is not a scrypt hash$/],
      [3, 'password (bad base64)', 'scrypt$16384$8$1$c2FsdA==$!!', /^password is not a scrypt hash$/],
      [4, 'registered_at', '2026-13-01T00:00:00.000Z', /^registered_at is not an ISO 8601 date-time$/],
      [5, 'skeleton_key', 'ABCDEF', /^skeleton_key is not 64 lowercase hex characters$/],
    ])('a malformed value in column %i (%s)', async (column, _what, value, reason) => {
      const good = (await validRow('alice')).join(',');
      const alsoGood = (await validRow('carol')).join(',');
      const row = await validRow('bob');
      row[column] = value;
      await expectCorrupt(`${HEADER_LINE}${good}\n${alsoGood}\n${row.join(',')}\n`, 4, reason);
    });

    it('a first row whose skeleton_key is not its login\'s', async () => {
      const alice = await validRow('alice');
      alice[5] = (await validRow('bob'))[5]!;
      await expectCorrupt(`${HEADER_LINE}${alice.join(',')}\n`, 2, /skeleton_key is not the keyed hash/);
    });

    it('the same login twice', async () => {
      const good = (await validRow('alice')).join(',');
      await expectCorrupt(`${HEADER_LINE}${good}\n${good}\n`, 3, /twice/);
    });
  });

  it('answers undefined for a login nobody registered, without decrypting anything', async () => {
    const store = await open();
    await store.register('alice', 'pw', '127.0.0.1');
    expect(await store.registeredLogin('nobody')).toBeUndefined();
    expect(await store.verifyPassword('nobody', 'pw')).toBe(false);
  });

  describe('clientsFileHasRecords', () => {
    it('reports a path it cannot read instead of answering "no records"', async () => {
      await expect(clientsFileHasRecords(dir)).rejects.toThrow(UnreadableFileError); // opens, cannot be read
      await fs.writeFile(file, HEADER_LINE);
      await expect(clientsFileHasRecords(path.join(file, 'inside'))).rejects.toThrow(UnreadableFileError); // cannot be opened
    });

    it('is false for a missing file, a header-only file and trailing blank lines', async () => {
      expect(await clientsFileHasRecords(file)).toBe(false);
      await fs.writeFile(file, HEADER_LINE);
      expect(await clientsFileHasRecords(file)).toBe(false);
      await fs.writeFile(file, `${HEADER_LINE}\n\r\n`);
      expect(await clientsFileHasRecords(file)).toBe(false);
    });

    it('is true once a record follows the header', async () => {
      const store = await open();
      await store.register('alice', 'pw', '127.0.0.1');
      expect(await clientsFileHasRecords(file)).toBe(true);
    });
  });
});
