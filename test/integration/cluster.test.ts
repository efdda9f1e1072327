/**
 * Several servers as one chat (`--cluster`, docs/cluster.md), over real TCP and a real
 * redis-server: each test starts its nodes on 127.0.0.1 port 0, each with a data dir of its own
 * and one key, on a key space of its own in the file's Redis.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLUSTER_RETAIN, type ServerConfig } from '../../src/io/config.js';
import { keyringFromKey } from '../../src/io/crypto.js';
import { openRedisHistoryStore } from '../../src/io/history-store-redis.js';
import { NodeInboxes } from '../../src/io/node-inbox-redis.js';
import { LOBBY, text } from '../../src/machines/protocol.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';
import { signIn, type TestClient, TestClient as Client, type TestServer, useTestServers } from './harness.js';

const db = useRedis();
const start = useTestServers();
const PASSWORD = 'secret-password';

/** `count` nodes of one cluster: the same key, the same Redis and prefix, each its own node id. */
async function cluster(count: number, overrides: Partial<ServerConfig> = {}): Promise<TestServer[]> {
  const envKey = randomBytes(32).toString('hex');
  const nodes: TestServer[] = [];
  for (let i = 1; i <= count; i++) {
    nodes.push(await start({ envKey, cluster: { url: db.url, prefix: db.prefix, nodeId: `node${i}`, retain: DEFAULT_CLUSTER_RETAIN }, ...overrides }));
  }
  return nodes;
}

/** Signs in as an existing login, with the welcome and the waiting messages still to read. */
async function signInOnce(port: number, login: string): Promise<TestClient> {
  const client = await Client.connect(port);
  await client.expect(/^Enter your login:/);
  client.send(login);
  await client.expect(/^password:/i);
  client.send(PASSWORD);
  await client.expect(/^Welcome back/);
  return client;
}

/** A chat line as delivered live, without its clock time. */
const untimed = (line: string) => line.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /, '');

/** Reads lines until `count` chat lines (`login: text`) have come, and returns those. */
async function chatLines(client: TestClient, count: number): Promise<string[]> {
  const lines: string[] = [];
  while (lines.length < count) {
    const line = untimed(await client.next(10_000));
    if (/^[^\s*]+: /.test(line)) lines.push(line);
  }
  return lines;
}

describe.skipIf(!REDIS_INSTALLED)('a cluster of statechat nodes on one Redis', () => {
  it('delivers every post of every node to every other user exactly once, all in the stream\'s order', async () => {
    const nodes = await cluster(3);
    const users: { login: string; client: TestClient }[] = [];
    for (let i = 0; i < 6; i++) {
      const login = `user${i}`;
      users.push({ login, client: await signIn(nodes[i % 3]!.port, login, PASSWORD) });
    }
    // Every join notice read: from here on, only the burst.
    for (const { client } of users) await client.sync();

    const perUser = 40;
    for (let n = 0; n < perUser; n++) for (const { client, login } of users) client.send(`${login} m${n}`);
    const sent = users.length * perUser;
    const received = await Promise.all(users.map(({ client }) => chatLines(client, sent - perUser)));

    // Exactly once: each user got every other user's posts, each of them once.
    const all = users.flatMap(({ login }) => Array.from({ length: perUser }, (_, n) => `${login}: ${login} m${n}`));
    users.forEach(({ login }, i) => {
      expect([...received[i]!].sort()).toEqual(all.filter((line) => !line.startsWith(`${login}: `)).sort());
    });
    // In one order: any two users saw the posts neither of them sent in the same order…
    const notFrom = (lines: string[], ...logins: string[]) => lines.filter((line) => !logins.some((login) => line.startsWith(`${login}: `)));
    for (let i = 0; i < users.length; i++) {
      for (let j = i + 1; j < users.length; j++) {
        const pair = [users[i]!.login, users[j]!.login];
        expect(notFrom(received[i]!, ...pair)).toEqual(notFrom(received[j]!, ...pair));
      }
    }
    // …each sender's in the order sent, and that order is the stream's (trimmed: its newest part).
    users.forEach(({ login }, i) => {
      const other = received[(i + 1) % users.length]!;
      expect(other.filter((line) => line.startsWith(`${login}: `))).toEqual(all.filter((line) => line.startsWith(`${login}: `)));
    });
    const stream = openRedisHistoryStore({ redis: db.connect(), keep: 10_000, prefix: db.prefix, where: db.url });
    const newest = (await stream.recent(LOBBY, 100)).map((m) => `${m.login}: ${m.text}`);
    expect(newest).toHaveLength(100);
    const newestNotOwn = notFrom(newest, users[0]!.login);
    expect(received[0]!.slice(-newestNotOwn.length)).toEqual(newestNotOwn);
  });

  it('signs a login in on one node at most, and /who and the console list everyone on every node', async () => {
    const [a, b] = await cluster(2);
    const alice = await signIn(a!.port, 'alice', PASSWORD);
    await signIn(b!.port, 'bob', PASSWORD);

    const again = await Client.connect(b!.port);
    await again.expect(/^Enter your login:/);
    again.send('alice');
    await again.expect(/^password:/i);
    again.send(PASSWORD);
    await again.expect(text.alreadyOnline('alice'));

    alice.send('/who');
    await alice.expect('Online (2): alice, bob');
    await b!.ask('who', 'Online (2): alice, bob');
    // status counts what this node holds, and says so.
    await b!.ask('status', 'users online on this node: 1');

    // Signed out on a, alice can sign in on b.
    alice.send('/quit');
    await alice.expectClosed();
    again.send('alice');
    await again.expect(/^password:/i);
    again.send(PASSWORD);
    await again.expect(/^Welcome back, alice/);
  });

  it('replays a room\'s history on any node, and carries a room\'s lines across nodes', async () => {
    const [a, b] = await cluster(2);
    const alice = await signIn(a!.port, 'alice', PASSWORD);
    alice.send('first from a');
    const bob = await signIn(b!.port, 'bob', PASSWORD);
    expect(bob.replay!.messages.map(untimed)).toEqual(['alice: first from a']);

    for (const client of [alice, bob]) {
      client.send('/join #dev');
      await client.expect(/^You joined #dev/);
      await client.expectHistory();
    }
    bob.send('hello dev');
    expect(untimed(await alice.expect(/#dev <bob>|#dev bob/))).toMatch(/#dev.*bob.*hello dev/);
  });

  it('carries a /msg to a user on another node, leaves it for one who is offline, and kicks across nodes from the console', async () => {
    const [a, b] = await cluster(2);
    const alice = await signIn(a!.port, 'alice', PASSWORD);
    const bob = await signIn(b!.port, 'Bob', PASSWORD);
    await alice.sync();

    alice.send('/msg bob psst');
    await alice.expect(text.privateSent('Bob', 'psst'));
    expect(untimed(await bob.expect(/\(private\) alice: psst$/))).toBe('(private) alice: psst');

    // Bob signs out: the next /msg waits for his next sign-in, on any node.
    bob.send('/quit');
    await bob.expectClosed();
    alice.send('/msg bob later');
    await alice.expect(text.privateLeft('Bob'));
    const back = await Client.connect(a!.port);
    await back.expect(/^Enter your login:/);
    back.send('bob');
    await back.expect(/^password:/i);
    back.send(PASSWORD);
    await back.expect(/\(private\) alice: later$/);

    const carol = await signIn(b!.port, 'carol', PASSWORD);
    await a!.ask('kick carol', 'Kicked carol (signed in on node node2).');
    await carol.expect(text.kicked);
    await carol.expectClosed();
    await a!.ask('kick nobody', 'No user named nobody is online.');
  });

  it('lists a room\'s members and the rooms across nodes, and a topic set on one node is the room\'s on every node', async () => {
    const [a, b] = await cluster(2);
    const alice = await signIn(a!.port, 'alice', PASSWORD);
    const bob = await signIn(b!.port, 'bob', PASSWORD);
    for (const client of [alice, bob]) {
      client.send('/join #dev');
      await client.expect(/^You joined #dev/);
      await client.expectHistory();
    }
    bob.send('/away lunch');
    await bob.expect(/away/i);
    alice.send('/names #dev');
    await alice.expect('In #dev (2): alice, bob');
    bob.send('/names #dev');
    await bob.expect('In #dev (2): alice, bob (away: lunch)');
    alice.send('/rooms');
    await alice.expect('Rooms (2):');
    expect(await alice.next()).toMatch(/^ {2}#dev +2 members$/);
    expect(await alice.next()).toMatch(/^ {2}#lobby +2 members$/);
    await b!.ask('rooms', /#lobby +2 members/);

    alice.send('/topic release on friday');
    await bob.expect(/set the topic of #dev: release on friday/);
    bob.send('/topic');
    await bob.expect(text.topicIs('#dev', 'release on friday', 'alice'));
    // Who joins on either node is told the topic.
    const carol = await signIn(b!.port, 'carol', PASSWORD);
    carol.send('/join #dev');
    await carol.expect(/release on friday/);

    bob.send('/part');
    await bob.expect(/left #dev|You left/);
    alice.send('/names #dev');
    await alice.expect(/^In #dev \(2\): alice, carol$/);
  });

  it('handles, on a restart under the same id, what was sent to its inbox while it was away: a /msg is left for the next sign-in, once', async () => {
    const envKey = randomBytes(32).toString('hex');
    const nodeConfig = (nodeId: string): Partial<ServerConfig> => ({ envKey, cluster: { url: db.url, prefix: db.prefix, nodeId, retain: DEFAULT_CLUSTER_RETAIN } });
    const a = await start(nodeConfig('node1'));
    const b = await start(nodeConfig('node2'));
    const bob = await signIn(a.port, 'bob', PASSWORD);
    bob.send('/quit');
    await bob.expectClosed();
    await a.stop();
    // As another node does for a user it found on node1 a moment before node1 went away.
    const keyring = keyringFromKey(Buffer.from(envKey, 'hex'));
    await new NodeInboxes({ redis: db.connect(), keyring, prefix: db.prefix, where: db.url }).send('node1', {
      kind: 'msg',
      to: 'bob',
      message: { from: 'carol', at: new Date().toISOString(), text: 'while you were away' },
    });

    const again = await start(nodeConfig('node1'));
    await again.waitForOutput(/cluster: node node1 joined/);
    const back = await signInOnce(b.port, 'bob');
    await back.expect(/\(private\) carol: while you were away$/);
    back.send('/quit');
    await back.expectClosed();

    // Handled once: a second restart does not leave it again.
    await again.stop();
    const third = await start(nodeConfig('node1'));
    await third.waitForOutput(/cluster: node node1 joined/);
    const later = await signInOnce(b.port, 'bob');
    expect((await later.sync()).filter((line) => line.includes('(private)'))).toEqual([]);
  });

  it('refuses to start a node whose key is not the cluster\'s', async () => {
    await cluster(1);
    await expect(start({ envKey: randomBytes(32).toString('hex'), cluster: { url: db.url, prefix: db.prefix, nodeId: 'other', retain: DEFAULT_CLUSTER_RETAIN } })).rejects.toThrow(
      /does not match the one the cluster .* uses/,
    );
  });

  it('refuses to start a node without a key on a cluster that has one, saying how to give it the key', async () => {
    await cluster(1);
    await expect(start({ cluster: { url: db.url, prefix: db.prefix, nodeId: 'keyless', retain: DEFAULT_CLUSTER_RETAIN } })).rejects.toThrow(/has a key already, and this node has none/);
  });

  it('signs its users out when its lease is gone (another node may hold them), and takes them again after', async () => {
    const [a, b] = await cluster(2);
    const alice = await signIn(a!.port, 'alice', PASSWORD);
    // As if node1 had been cut off for longer than its lease: its lease key is gone.
    await db.connect().del(`${db.prefix}lease:node1`);
    await alice.expect(text.signedOutByCluster);
    await alice.expectClosed();
    await a!.waitForOutput(/lease lapsed/);

    // Her login is free: she can sign in on either node.
    const there = await signIn(b!.port, 'alice', PASSWORD, true);
    there.send('/who');
    await there.expect('Online (1): alice');
  });

  it('holds new connections and refuses posts while Redis does not answer, and resumes by itself', async () => {
    const [a] = await cluster(1);
    const alice = await signIn(a!.port, 'alice', PASSWORD);
    // At the login prompt before Redis goes away: her sign-in is asked again, not cut off.
    const carol = await Client.connect(a!.port);
    await carol.expect(/^Enter your login:/);
    const pauser = db.connect();
    // Longer than a renewal may wait (1 s), shorter than the lease's time left after it (2 s).
    await pauser.client('PAUSE', 2200, 'ALL');
    await a!.waitForOutput(/Redis is unavailable/);
    // A new connection now is held, not served: no greeting until Redis answers again.
    const dave = await Client.connect(a!.port);
    await a!.waitForOutput(/Redis is unavailable[^]*connection held conn=c\d+ from=127\.0\.0\.1 \(listening paused/);
    alice.send('while away');
    await alice.expect(text.serviceUnavailable);
    carol.send('carol');
    await carol.expect(text.serviceUnavailable);
    await carol.expect(text.loginPrompt);
    await a!.waitForOutput(/Redis is unavailable[^]*listening resumed/);
    await dave.expect(/^Enter your login:/);
    alice.send('after');
    const bob = await signIn(a!.port, 'bob', PASSWORD);
    expect(bob.replay!.messages.map(untimed)).toEqual(['alice: after']);
  });
});
