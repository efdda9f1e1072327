/**
 * `statechat migrate --from <data-dir> --to redis://…` (the cluster issue): copies a CSV data dir
 * into a Redis no chat uses yet, so that cluster nodes started with the same key go on from it —
 * registrations, every room's history in its order, topics, and the private messages waiting.
 *
 * The records are copied as they are stored: logins, addresses and waiting messages stay the
 * AES-GCM tokens they are in the files, passwords their scrypt hashes. Nothing is decrypted or
 * re-hashed, so the nodes need this data dir's key (its statechat.key, or the STATECHAT_KEY it ran
 * with), and Redis is told so by its key check. Each file is first opened by its own store, which
 * refuses a corrupt one with the error a server start gives, and does what a start does (an older
 * format moved on, a missing file created empty); the data dir is not changed otherwise.
 */
import fs from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { dataFiles, type ClusterConfig } from './config.js';
import type { Keyring, ScryptParams } from './crypto.js';
import { forEachRow, headerLine } from './csv-strict.js';
import { asStorageError, StatechatError } from './errors.js';
import { HISTORY_HEADER, openCsvHistoryStore } from './history-store-csv.js';
import { openRedisHistoryStore } from './history-store-redis.js';
import { OFFLINE_HEADER, openCsvOfflineStore } from './offline-store-csv.js';
import { importWaitingToken } from './offline-store-redis.js';
import { openRedisTopicStore } from './topic-store-redis.js';
import { openCsvTopicStore } from './topic-store-csv.js';
import { CLIENTS_HEADER, openCsvUserStore } from './user-store-csv.js';
import { importUserRecord, openRedisUserStore } from './user-store-redis.js';

export interface MigrationReport {
  users: number;
  messages: number;
  rooms: number;
  topics: number;
  waiting: number;
}

export class TargetNotEmptyError extends StatechatError {
  constructor(where: string, prefix: string, key: string) {
    super('STATECHAT_ERR_TARGET_NOT_EMPTY', `${where} already holds a chat (the key ${key}, among others under "${prefix}"): migrate copies only into a Redis no chat uses, so nothing there is overwritten or mixed`);
  }
}

export interface MigrateOptions {
  dataDir: string;
  keyring: Keyring;
  scrypt: ScryptParams;
  redis: Redis;
  cluster: Pick<ClusterConfig, 'prefix' | 'retain'>;
  /** How Redis is named in messages (the URL without its password). */
  where: string;
  /** The most messages kept per room for replays (the CSV history store's `keep`). */
  keep: number;
  maxWaitingPerUser: number;
}

/** Appends in flight at most, so that a long history streams instead of piling up in memory. */
const IN_FLIGHT = 1000;

export async function migrateToRedis(opts: MigrateOptions): Promise<MigrationReport> {
  const { redis, where, keyring } = opts;
  const { prefix } = opts.cluster;
  const existing = await firstKeyUnder(redis, prefix, where);
  if (existing !== undefined) throw new TargetNotEmptyError(where, prefix, existing);

  const files = dataFiles(opts.dataDir);
  // Each store checks its file whole (and brings an older format up to date), or throws.
  await (await openCsvUserStore({ file: files.clients, keyring, scrypt: opts.scrypt })).close();
  await (await openCsvHistoryStore({ file: files.history, keep: opts.keep })).close();
  await (await openCsvTopicStore({ file: files.topics })).close();
  await (await openCsvOfflineStore({ file: files.offline, keyring, maxPerUser: opts.maxWaitingPerUser })).close();

  // The key check first: a node with another key is refused from the start.
  await (await openRedisUserStore({ redis, keyring, scrypt: opts.scrypt, prefix, where })).close();
  const report: MigrationReport = { users: 0, messages: 0, rooms: 0, topics: 0, waiting: 0 };

  for (const [loginKey, login, address, password, registeredAt, skeleton] of await rows(files.clients, CLIENTS_HEADER)) {
    const outcome = await importUserRecord(redis, prefix, where, { loginKey: loginKey!, login: login!, address: address!, password: password!, registeredAt: registeredAt!, skeleton: skeleton! });
    if (outcome !== 'registered') throw new StatechatError('STATECHAT_ERR_MIGRATE', `${files.clients}: a record came out ${outcome} against another (damage the store's check should have found)`);
    report.users++;
  }

  const history = openRedisHistoryStore({ redis, keep: opts.keep, retain: opts.cluster.retain, prefix, where });
  const rooms = new Set<string>();
  let inFlight: Promise<unknown>[] = [];
  for (const [at, room, login, text] of await rows(files.history, HISTORY_HEADER)) {
    rooms.add(room!);
    // One connection, in file order: Redis appends them in that order.
    inFlight.push(history.append({ at: at!, room: room!, login: login!, text: text! }));
    report.messages++;
    if (inFlight.length >= IN_FLIGHT) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  await history.close();
  report.rooms = rooms.size;

  const csvTopics = await openCsvTopicStore({ file: files.topics });
  const topics = await openRedisTopicStore({ redis, prefix, where });
  for (const [room, topic] of csvTopics.all()) {
    await topics.set(room, topic);
    report.topics++;
  }
  await csvTopics.close();
  await topics.close();

  for (const [toKey, token] of await rows(files.offline, OFFLINE_HEADER)) {
    // offline.csv holds no more per user than the limit, so none is refused here.
    if (await importWaitingToken({ redis, prefix, where, maxPerUser: opts.maxWaitingPerUser }, toKey!, token!)) report.waiting++;
  }
  return report;
}

/** A key under `prefix`, if Redis holds any. */
async function firstKeyUnder(redis: Redis, prefix: string, where: string): Promise<string | undefined> {
  let cursor = '0';
  do {
    const [next, keys] = await asStorageError(where, () => redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000));
    if (keys.length > 0) return keys[0];
    cursor = next;
  } while (cursor !== '0');
  return undefined;
}

/** A data file's records (checked already by its store); none when the file does not exist. */
async function rows(file: string, header: readonly string[]): Promise<string[][]> {
  let content: Buffer;
  try {
    content = await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const first = headerLine(header);
  const body = content.subarray(content.indexOf(0x0a) + 1);
  if (content.subarray(0, content.indexOf(0x0a) + 1).toString('utf8') !== first) {
    throw new StatechatError('STATECHAT_ERR_MIGRATE', `${file}: its header is not "${first.trim()}" even after its store opened it`);
  }
  const out: string[][] = [];
  forEachRow(body, { file, firstLine: 2, columns: header.length }, (fields) => {
    out.push(fields);
    return undefined;
  });
  return out;
}
