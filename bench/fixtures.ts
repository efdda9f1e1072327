/**
 * Data files for the benchmark, written in exactly the real stores' format (the stores' own
 * headers, csv-stringify, the keyring's encryption and login index), quickly: one scrypt hash per
 * cost is computed and shared by every user of that cost (they all have the same password).
 * Generated files are cached under os.tmpdir() (they can be large) and copied into a fresh data
 * dir for every server run; nothing big is written into the repository.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { hashPassword, KEY_FILE_NAME, keyringFromKey } from '../src/io/crypto.js';
import { HISTORY_HEADER } from '../src/io/history-store-csv.js';
import { skeletonKey } from '../src/io/login-skeleton.js';
import { LOBBY } from '../src/machines/protocol.js';
import { CLIENTS_HEADER } from '../src/io/user-store-csv.js';

/** A fixed key for benchmark data only (never a real deployment's). */
const BENCH_KEY_HEX = 'b3c4a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809100';
export const BENCH_PASSWORD = 'bench-password';
export const CACHE_DIR = path.join(os.tmpdir(), 'statechat-bench-cache');
// 2: history.csv has its room column (timestamp,room,login,text); 3: clients.csv its skeleton_key.
const FORMAT_VERSION = 3;

export interface UserGroup {
  /** Logins are `${prefix}${i}` for i in [0, count). */
  prefix: string;
  count: number;
  /** scrypt N of the stored hashes: what a sign-in of these users costs. */
  scryptN: number;
}

export const login = (prefix: string, i: number) => `${prefix}${i}`;

/** A clients.csv holding `groups`, cached; returns its path. */
export async function clientsFile(groups: UserGroup[]): Promise<string> {
  const name = `clients-v${FORMAT_VERSION}-${groups.map((g) => `${g.prefix}${g.count}N${g.scryptN}`).join('-')}.csv`;
  const file = path.join(CACHE_DIR, name);
  if (existsSync(file)) return file;
  await fs.mkdir(CACHE_DIR, { recursive: true });
  const keyring = keyringFromKey(Buffer.from(BENCH_KEY_HEX, 'hex'));
  const chunks: string[] = [stringify([CLIENTS_HEADER as unknown as string[]])];
  const at = new Date('2026-01-01T00:00:00.000Z').toISOString();
  for (const group of groups) {
    const hash = await hashPassword(BENCH_PASSWORD, { N: group.scryptN, r: 8, p: 1 });
    const address = keyring.encrypt('127.0.0.1');
    for (let start = 0; start < group.count; start += 10_000) {
      const rows: string[][] = [];
      for (let i = start; i < Math.min(group.count, start + 10_000); i++) {
        const name = login(group.prefix, i);
        rows.push([keyring.loginKey(name), keyring.encrypt(name), address, hash, at, skeletonKey(keyring, name)]);
      }
      chunks.push(stringify(rows));
    }
  }
  await writeAtomically(file, chunks);
  return file;
}

/** A history.csv of `lines` messages (plus the header), cached; returns its path. */
export async function historyFile(lines: number): Promise<string> {
  const file = path.join(CACHE_DIR, `history-v${FORMAT_VERSION}-${lines}.csv`);
  if (existsSync(file)) return file;
  await fs.mkdir(CACHE_DIR, { recursive: true });
  const chunks: string[] = [stringify([HISTORY_HEADER as unknown as string[]])];
  const start = Date.parse('2025-01-01T00:00:00.000Z');
  for (let from = 0; from < lines; from += 50_000) {
    const rows: string[][] = [];
    for (let i = from; i < Math.min(lines, from + 50_000); i++) {
      const text = i % 10 === 0 ? `message ${i}, with "quotes" and a comma` : `message ${i} from the archive`;
      rows.push([new Date(start + i * 1000).toISOString(), LOBBY, login('u', i % 1000), text]);
    }
    chunks.push(stringify(rows));
  }
  await writeAtomically(file, chunks);
  return file;
}

async function writeAtomically(file: string, chunks: string[]): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, chunks.join(''));
  await fs.rename(tmp, file);
}

/** A fresh data dir in os.tmpdir() with the bench key and copies of the given files. */
export async function makeDataDir(files: { clients?: string; history?: string }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-bench-'));
  await fs.writeFile(path.join(dir, KEY_FILE_NAME), `${BENCH_KEY_HEX}\n`, { mode: 0o600 });
  if (files.clients) await fs.copyFile(files.clients, path.join(dir, 'clients.csv'));
  if (files.history) await fs.copyFile(files.history, path.join(dir, 'history.csv'));
  return dir;
}

export async function removeDataDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}
