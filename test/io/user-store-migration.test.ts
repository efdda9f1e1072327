/**
 * clients.csv from before the skeleton_key column (OLD_CLIENTS_HEADER): checked whole, every login
 * decrypted once, and rewritten with the column at open — crash-safely, and never when the old
 * file would be refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptFileError, KeyMismatchError } from '../../src/io/errors.js';
import { loginSkeleton } from '../../src/io/login-skeleton.js';
import { CLIENTS_HEADER, OLD_CLIENTS_HEADER } from '../../src/io/user-store-csv.js';
import { dir, file, HEADER_LINE, keyring, open, openedCount, rekey } from './user-store-files.js';

const OLD_HEADER_LINE = `${OLD_CLIENTS_HEADER.join(',')}\n`;

/** A row as the store before the column wrote it: today's row without its last field. */
async function oldRowOf(login: string): Promise<string> {
  const scratch = path.join(dir, `scratch-${openedCount()}.csv`);
  const store = await open({ file: scratch });
  await store.register(login, 'pw', '10.0.0.1');
  const fields = (await fs.readFile(scratch, 'utf8')).split('\n')[1]!.split(',');
  return fields.slice(0, OLD_CLIENTS_HEADER.length).join(',');
}

describe('clients.csv from before skeleton_key', () => {
  it('is rewritten with the column at open, every row kept, and its users sign in', async () => {
    const rows = [await oldRowOf('alice'), await oldRowOf('paypal')];
    await fs.writeFile(file, `${OLD_HEADER_LINE}${rows.join('\n')}\n`);
    const told: number[] = [];

    const store = await open({ onMigrated: (count) => told.push(count) });

    expect(told).toEqual([2]);
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    expect(lines[0]).toBe(CLIENTS_HEADER.join(','));
    expect(lines.slice(1, 3).map((line) => line.split(',').slice(0, 5).join(','))).toEqual(rows);
    expect(lines.slice(1, 3).map((line) => line.split(',')[5])).toEqual(
      ['alice', 'paypal'].map((login) => keyring.loginKey(loginSkeleton(login))),
    );
    expect(await store.verifyPassword('alice', 'pw')).toBe(true);
    expect(await store.registeredLogin('paypal')).toBe('paypal');
    // The migrated skeletons are the index: a look-alike of a migrated login is refused.
    expect(await store.register('paypa1', 'pw', '127.0.0.1')).toBe('confusable');
  });

  it('is not migrated again: a file in today\'s format opens as it is', async () => {
    await fs.writeFile(file, `${OLD_HEADER_LINE}${await oldRowOf('alice')}\n`);
    await (await open()).close();
    const migrated = await fs.readFile(file);
    const told: number[] = [];
    await open({ onMigrated: (count) => told.push(count) });
    expect(told).toEqual([]);
    expect(await fs.readFile(file)).toEqual(migrated);
  });

  it('with only its header becomes today\'s header', async () => {
    await fs.writeFile(file, OLD_HEADER_LINE);
    const store = await open();
    expect(store.count()).toBe(0);
    expect(await fs.readFile(file, 'utf8')).toBe(HEADER_LINE);
  });

  it('is refused, untouched, when a later login does not decrypt (named by its line)', async () => {
    const damaged = (await oldRowOf('bob')).split(',');
    damaged[1] = `${damaged[1]!.slice(0, -1)}${damaged[1]!.endsWith('A') ? 'B' : 'A'}`;
    await fs.writeFile(file, `${OLD_HEADER_LINE}${await oldRowOf('alice')}\n${damaged.join(',')}\n`);
    const before = await fs.readFile(file);

    const attempt = open();
    await expect(attempt).rejects.toThrow(CorruptFileError);
    await expect(attempt).rejects.toMatchObject({ file, line: 3, reason: expect.stringMatching(/decrypt/) });
    expect(await fs.readFile(file)).toEqual(before);
  });

  it('is refused, untouched, with another key', async () => {
    await fs.writeFile(file, `${OLD_HEADER_LINE}${await oldRowOf('alice')}\n`);
    const before = await fs.readFile(file);
    rekey();
    await expect(open()).rejects.toThrow(KeyMismatchError);
    expect(await fs.readFile(file)).toEqual(before);
  });

  it('is refused, untouched, when a row has the wrong shape', async () => {
    const row = (await oldRowOf('alice')).split(',');
    row[3] = 'plaintext';
    await fs.writeFile(file, `${OLD_HEADER_LINE}${row.join(',')}\n`);
    const before = await fs.readFile(file);
    await expect(open()).rejects.toMatchObject({ line: 2, reason: 'password is not a scrypt hash' });
    expect(await fs.readFile(file)).toEqual(before);
  });

  it('saved with Windows line ends is migrated too', async () => {
    await fs.writeFile(file, `${OLD_HEADER_LINE.replace('\n', '\r\n')}${await oldRowOf('alice')}\r\n`);
    const told: number[] = [];
    const store = await open({ onMigrated: (count) => told.push(count) });
    expect(told).toEqual([1]);
    expect(await store.registeredLogin('alice')).toBe('alice');
    expect((await fs.readFile(file, 'utf8')).split('\n')[0]).toBe(CLIENTS_HEADER.join(','));
  });

  it('is refused, untouched, when it holds one login twice', async () => {
    const row = await oldRowOf('alice');
    await fs.writeFile(file, `${OLD_HEADER_LINE}${row}\n${row}\n`);
    const before = await fs.readFile(file);
    await expect(open()).rejects.toMatchObject({ line: 3, reason: 'the same login is registered twice' });
    expect(await fs.readFile(file)).toEqual(before);
  });

  it('survives a crash before the rename: the old file is whole and the next start migrates it', async () => {
    const content = `${OLD_HEADER_LINE}${await oldRowOf('alice')}\n`;
    await fs.writeFile(file, content);
    const crash = new Error('crash after the new file was written');
    await expect(
      open({
        onRewriteStep: (step) => {
          if (step === 'written') throw crash;
        },
      }),
    ).rejects.toThrow(/crash after the new file was written/);
    expect(await fs.readFile(file, 'utf8')).toBe(content);

    const store = await open();
    expect(await store.registeredLogin('alice')).toBe('alice');
    expect((await fs.readFile(file, 'utf8')).startsWith(HEADER_LINE)).toBe(true);
  });
});
