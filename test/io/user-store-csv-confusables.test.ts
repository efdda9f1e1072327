/**
 * Unicode logins in the CSV user store (issue 15): found in any normalisation form or case, and a login whose confusable skeleton (UTS #39) is that of a registered one refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DamagedRecordError } from '../../src/io/errors.js';
import { loginSkeleton } from '../../src/io/login-skeleton.js';
import { dir, file, HEADER_LINE, keyring, open, openedCount } from './user-store-files.js';


/** The data line of a file where only `login` is registered (to build older files by hand). */
async function rowOf(login: string): Promise<string> {
  const scratch = path.join(dir, `scratch-${openedCount()}.csv`);
  const store = await open({ file: scratch });
  await store.register(login, 'pw', '10.0.0.1');
  return (await fs.readFile(scratch, 'utf8')).split('\n')[1]!;
}


describe('loginSkeleton (UTS #39)', () => {
  it.each([
    ['"l" and "1"', 'paypal', 'paypa1'],
    ['"m" and "rn"', 'martin', 'rnartin'],
    ['"o" and "0"', 'bob', 'b0b'],
    ['upper case "I" and "l"', 'Ian', 'lan'],
    ['Latin and whole-Cyrillic', 'pay', '\u0440\u0430\u0443'],
    ['case, after mapping', 'PAYPAL', 'paypa1'],
    ['NFC and NFD', '\u00e9lodie', 'e\u0301lodie'],
  ])('is the same for %s', (_, a, b) => {
    expect(loginSkeleton(a)).toBe(loginSkeleton(b));
  });

  it.each([
    ['alice', 'bob'],
    ['élodie', 'elodie'],
    ['Олег', 'Oleg'],
  ])('differs for %j and %j', (a, b) => {
    expect(loginSkeleton(a)).not.toBe(loginSkeleton(b));
  });
});

describe('CSV user store: Unicode logins', () => {
  it('finds a login registered in NFC typed in any normalisation form or case', async () => {
    const store = await open();
    // The sign-in machine hands the store the login in NFC (normalizeLogin): the store keeps it so.
    expect(await store.register('\u00c9lodie', 'pw-élodie', '127.0.0.1')).toBe('registered');

    for (const typed of ['\u00c9lodie', 'E\u0301lodie', 'ÉLODIE', 'e\u0301lodie', 'élodie']) {
      expect(await store.registeredLogin(typed), typed).toBe('\u00c9lodie');
      expect(await store.verifyPassword(typed, 'pw-élodie'), typed).toBe(true);
    }
    expect(await store.register('ÉLODIE', 'other', '127.0.0.1')).toBe('taken');
  });

  it('registers single-script logins of other scripts side by side', async () => {
    const store = await open();
    for (const login of ['日本語', 'Ελένη', 'Олег', 'Oleg']) expect(await store.register(login, 'pw', '127.0.0.1'), login).toBe('registered');
    expect(store.count()).toBe(4);
  });

  it.each([
    ['paypal', 'paypa1'],
    ['paypa1', 'PAYPAL'],
    ['martin', 'rnartin'],
    ['pay', '\u0440\u0430\u0443'],
  ])('once %j is registered, refuses its look-alike %j as confusable', async (first, second) => {
    const store = await open();
    expect(await store.register(first, 'pw', '127.0.0.1')).toBe('registered');

    expect(await store.register(second, 'pw', '127.0.0.1')).toBe('confusable');
    expect(await store.isRegistered(second)).toBe(false);
    expect(store.count()).toBe(1);
    expect((await fs.readFile(file, 'utf8')).trimEnd().split('\n')).toHaveLength(2);
  });

  it('still refuses a confusable after reopening (the skeletons are rebuilt at open)', async () => {
    const first = await open();
    await first.register('paypal', 'pw', '127.0.0.1');
    await first.close();

    const second = await open();
    expect(await second.register('paypa1', 'pw', '127.0.0.1')).toBe('confusable');
    expect(await second.register('paypa2', 'pw', '127.0.0.1')).toBe('registered');
  });

  it('lets exactly one of concurrent registrations that look alike win', async () => {
    const store = await open();
    const results = await Promise.all(
      ['paypal', 'paypa1', 'paypaI', 'PAYPA1'].map((login, i) => store.register(login, `pw${i}`, '127.0.0.1')),
    );

    expect(results.filter((r) => r === 'registered')).toHaveLength(1);
    expect(results.filter((r) => r === 'confusable')).toHaveLength(3);
    expect(store.count()).toBe(1);
    expect((await fs.readFile(file, 'utf8')).trimEnd().split('\n')).toHaveLength(2);
  });

  it('lets a look-alike register once the login it looked like is deleted, or after clear', async () => {
    const store = await open();
    await store.register('paypal', 'pw', '127.0.0.1');
    expect(await store.deleteUser('paypal')).toBe(true);
    expect(await store.register('paypa1', 'pw', '127.0.0.1')).toBe('registered');

    await store.clear();
    expect(await store.register('paypal', 'pw', '127.0.0.1')).toBe('registered');
  });

  it('keeps a password change from forgetting the skeleton', async () => {
    const store = await open();
    await store.register('paypal', 'old-pw', '127.0.0.1');
    expect(await store.changePassword('paypal', 'old-pw', 'new-pw')).toBe('changed');

    expect(await store.register('paypa1', 'pw', '127.0.0.1')).toBe('confusable');
  });

  it('opens a file older than the check that holds two look-alikes, and keeps refusing a third until both are gone', async () => {
    await fs.writeFile(file, `${HEADER_LINE}${await rowOf('paypal')}\n${await rowOf('paypa1')}\n`);
    const store = await open();
    expect(store.count()).toBe(2);

    await store.deleteUser('paypal');
    expect(await store.register('PAYPAl', 'pw', '127.0.0.1')).toBe('confusable');
    await store.deleteUser('paypa1');
    expect(await store.register('PAYPAl', 'pw', '127.0.0.1')).toBe('registered');
  });

  // Start-up decrypts only the first row (the key's check): a later login token that was damaged
  // is found at its user's sign-in, which fails with an error naming the record but not the login,
  // while every other user signs in as before and the file is left as it is.
  it('finds a later login that does not decrypt at its sign-in, and serves the others', async () => {
    const good = await rowOf('alice');
    const damaged = (await rowOf('bob')).split(',');
    const token = damaged[1]!;
    damaged[1] = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const content = `${HEADER_LINE}${good}\n${damaged.join(',')}\n`;
    await fs.writeFile(file, content);

    const store = await open();
    expect(await store.registeredLogin('alice')).toBe('alice');
    const attempt = store.registeredLogin('bob');
    await expect(attempt).rejects.toThrow(DamagedRecordError);
    await expect(attempt).rejects.toThrow(new RegExp(`record of login_key ${keyring.loginKey('bob').slice(0, 12)}… is damaged`));
    await expect(attempt).rejects.not.toThrow(/bob/);
    await expect(attempt).rejects.toMatchObject({ reason: 'its login does not decrypt to that key' });
    expect(await fs.readFile(file, 'utf8')).toBe(content);
  });

  it('refuses at sign-in a login token moved to another row (it decrypts, but to another login)', async () => {
    const alice = (await rowOf('alice')).split(',');
    const bob = (await rowOf('bob')).split(',');
    const carol = (await rowOf('carol')).split(',');
    // carol's row carries bob's token: it decrypts with the key, to a login of another key.
    carol[1] = bob[1]!;
    await fs.writeFile(file, `${HEADER_LINE}${alice.join(',')}\n${carol.join(',')}\n`);

    const store = await open();
    await expect(store.registeredLogin('carol')).rejects.toThrow(DamagedRecordError);
  });
});
