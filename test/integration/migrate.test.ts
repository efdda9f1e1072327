/**
 * `statechat migrate --from <data-dir> --to redis://…` as a user runs it: a data dir made by a
 * CSV server (users, history in two rooms, a topic, a private message waiting), copied into a
 * redis-server of the test's own, and a cluster node on that Redis that goes on from it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DEFAULT_CLUSTER_PREFIX, DEFAULT_CLUSTER_RETAIN } from '../../src/io/config.js';
import { text } from '../../src/machines/protocol.js';
import { BIN, CliProcess, REPO } from '../support/cli-process.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';
import { makeDataDir, register, signIn, useTestServers } from './harness.js';

const db = useRedis();
const start = useTestServers();
const PASSWORD = 'secret-password';

function migrate(...args: string[]): CliProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.STATECHAT_KEY;
  return new CliProcess(spawn(process.execPath, [BIN, 'migrate', ...args], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] }));
}

const untimed = (line: string) => line.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /, '');

describe.skipIf(!REDIS_INSTALLED)('statechat migrate', () => {
  it('copies users, every room\'s history, topics and waiting messages; a cluster node goes on from them; a second copy is refused', { timeout: 60_000 }, async () => {
    const dataDir = await makeDataDir();
    onTestFinished(() => fs.rm(dataDir, { recursive: true, force: true }));
    const csv = await start({ dataDir });
    await register(csv.port, 'carol', PASSWORD);
    const alice = await signIn(csv.port, 'alice', PASSWORD);
    alice.send('one', 'two');
    alice.send('/join #dev');
    await alice.expect(/^You joined #dev/);
    await alice.expectHistory();
    alice.send('dev one', '/topic releases');
    await alice.expect(/set the topic of #dev: releases/);
    alice.send('/msg carol hi carol');
    await alice.expect(text.privateLeft('carol'));
    await csv.stop();

    const target = await db.startAnother();
    const copy = migrate('--from', dataDir, '--to', target.url);
    expect((await copy.exited).code, copy.stderr).toBe(0);
    expect(copy.stdout).toContain('copied 2 registered users, 3 messages in 2 rooms, 1 topic and 1 waiting private message');

    // A node with the data dir's key: the same accounts, history, topic and waiting message.
    const envKey = (await fs.readFile(`${dataDir}/statechat.key`, 'utf8')).trim();
    const node = await start({ envKey, cluster: { url: target.url, prefix: DEFAULT_CLUSTER_PREFIX, nodeId: 'n1', retain: DEFAULT_CLUSTER_RETAIN } });
    const back = await signIn(node.port, 'alice', PASSWORD, true);
    expect(back.replay!.messages.map(untimed)).toEqual(['alice: one', 'alice: two']);
    back.send('/join #dev');
    await back.expect(/^You joined #dev/);
    expect((await back.expectHistory()).messages.map(untimed)).toEqual(['#dev <alice> dev one']);
    back.send('/topic');
    await back.expect(text.topicIs('#dev', 'releases', 'alice'));
    const carol = await signIn(node.port, 'carol', PASSWORD, true);
    await carol.expect(/\(private\) alice: hi carol$/);

    const again = migrate('--from', dataDir, '--to', target.url);
    expect((await again.exited).code).toBe(1);
    expect(again.stderr).toMatch(/already holds a chat .* nothing there is overwritten/);
  });

  it('refuses a data dir a server is running on, and one that is not there', { timeout: 30_000 }, async () => {
    const running = await start({});
    const target = await db.startAnother();
    const busy = migrate('--from', running.dataDir, '--to', target.url);
    expect((await busy.exited).code).toBe(1);
    expect(busy.stderr).toMatch(/statechat migrate: .*(in use|running|locked)/i);

    const missing = migrate('--from', `${running.dataDir}/nope`, '--to', target.url);
    expect((await missing.exited).code).toBe(1);
    expect(missing.stderr).toMatch(/no data dir at .*nope .*check --from/);

    const badUrl = migrate('--from', running.dataDir, '--to', 'http://x');
    expect((await badUrl.exited).code).toBe(1);
    expect(badUrl.stderr).toMatch(/--to: .*not a redis:\/\/ or rediss:\/\/ URL/);
  });
});
