/**
 * What every test file of the CSV user store shares: a fresh temp dir per test with its
 * clients.csv path and a fresh key, a store opener that closes what it opened after the test.
 * The bindings are live (ES modules): a test reads the current test's `dir`, `file`, `keyring`.
 * Importing this file registers its beforeEach / afterEach in the importing test file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { keyringFromKey, type Keyring } from '../../src/io/crypto.js';
import type { UserStore } from '../../src/io/stores.js';
import { CLIENTS_HEADER, openCsvUserStore } from '../../src/io/user-store-csv.js';

/** Cheap enough for hundreds of registrations per test. */
export const scrypt = { N: 1024, r: 8, p: 1 };
export const HEADER_LINE = `${CLIENTS_HEADER.join(',')}\n`;

export let dir: string;
export let file: string;
export let keyring: Keyring;
const opened: UserStore[] = [];

/** Another key for the rest of this test (a store opened with it cannot read the records). */
export function rekey(): void {
  keyring = keyringFromKey(randomBytes(32));
}

export async function open(opts: Partial<Parameters<typeof openCsvUserStore>[0]> = {}): Promise<UserStore> {
  const store = await openCsvUserStore({ file, keyring, scrypt, ...opts });
  opened.push(store);
  return store;
}

/** How many stores this test opened (scratch file names). */
export function openedCount(): number {
  return opened.length;
}

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-users-'));
  file = path.join(dir, 'clients.csv');
  rekey();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await fs.rm(dir, { recursive: true, force: true });
});
