/**
 * `statechat migrate --from <data-dir> --to redis://…`: copies a CSV data dir into the Redis of a
 * new cluster (src/io/migrate-to-redis.ts) and says what it copied. It holds the data dir's lock
 * while it reads, so no server changes the files under it, and refuses a Redis a chat uses.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_HISTORY_REQUEST } from '../machines/commands.js';
import { MAX_WAITING_MESSAGES } from '../machines/protocol.js';
import { DEFAULT_CLUSTER_PREFIX, DEFAULT_CLUSTER_RETAIN, DEFAULTS } from '../io/config.js';
import { loadKeyring } from '../io/crypto.js';
import { acquireDataDirLock } from '../io/data-dir-lock.js';
import { StatechatError } from '../io/errors.js';
import { migrateToRedis } from '../io/migrate-to-redis.js';
import { connectRedis, redisUrlForLog, redisUrlProblem } from '../io/redis-connection.js';

export const MIGRATE_USAGE = `Usage: statechat migrate --from <data-dir> --to <redis-url>

Copies a data dir (clients.csv, history.csv, topics.csv, offline.csv) into a Redis no chat uses
yet, for nodes started with --cluster <redis-url> (docs/cluster.md). Nothing is decrypted: the
nodes need this data dir's key (its statechat.key, or STATECHAT_KEY). No server may run on the
data dir meanwhile.

Options:
  --from <dir>             the data dir to copy (a server's --data-dir)
  --to <url>               redis://host:port[/db]
  -h, --help               this text

Environment:
  STATECHAT_KEY            the data dir's key, when it has no statechat.key
`;

export async function runMigrate(argv: readonly string[]): Promise<number> {
  let values: { from?: string; to?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    return fail(`${(err as Error).message}. See --help.`);
  }
  if (values.help) {
    process.stdout.write(MIGRATE_USAGE);
    return 0;
  }
  const { from, to } = values;
  if (from === undefined || to === undefined) return fail('migrate needs --from <data-dir> and --to <redis-url>. See --help.');
  const urlProblem = redisUrlProblem(to);
  if (urlProblem) return fail(`--to: ${urlProblem}.`);
  const entries = await fs.readdir(from).catch(() => undefined);
  if (!entries || entries.length === 0) return fail(`no data dir at ${path.resolve(from)} (it does not exist or is empty): check --from`);

  let lock;
  try {
    lock = await acquireDataDirLock(from);
  } catch (err) {
    return fail(describe(err));
  }
  const where = redisUrlForLog(to);
  let redis;
  try {
    const { keyring } = await loadKeyring({ dataDir: from, envKey: process.env.STATECHAT_KEY || undefined, mayCreate: false, allowInsecureKey: false });
    redis = await connectRedis(to);
    const report = await migrateToRedis({
      dataDir: from,
      keyring,
      scrypt: DEFAULTS.scrypt,
      redis,
      cluster: { prefix: DEFAULT_CLUSTER_PREFIX, retain: DEFAULT_CLUSTER_RETAIN },
      where,
      keep: Math.max(DEFAULTS.historyReplay, MAX_HISTORY_REQUEST),
      maxWaitingPerUser: MAX_WAITING_MESSAGES,
    });
    const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
    process.stdout.write(
      `copied ${plural(report.users, 'registered user')}, ${plural(report.messages, 'message')} in ${plural(report.rooms, 'room')}, ` +
        `${plural(report.topics, 'topic')} and ${plural(report.waiting, 'waiting private message')} from ${path.resolve(from)} to ${where}\n` +
        `start the nodes with --cluster ${where} and this data dir's key (STATECHAT_KEY, or a copy of its statechat.key in each node's data dir)\n`,
    );
    return 0;
  } catch (err) {
    return fail(describe(err));
  } finally {
    redis?.disconnect();
    await lock.release();
  }
}

function describe(err: unknown): string {
  return err instanceof StatechatError ? err.message : `unexpected error: ${err instanceof Error ? err.stack : String(err)}`;
}

function fail(message: string): number {
  process.stderr.write(`statechat migrate: ${message}\n`);
  return 1;
}
