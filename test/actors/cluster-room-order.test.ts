/**
 * ClusterRoomOrder (src/actors/cluster-room-order.ts) on a real redis-server: two nodes' orders of
 * one room, each fed by its own tail, let out the same posts in the same order — their own
 * members' posts too, with the sender kept only on the sender's node — a local join is that
 * member's welcome, another node's a notice, a recall waits for the asker's posts, and a post
 * Redis refuses is refused to its sender.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterRoomOrder } from '../../src/actors/cluster-room-order.js';
import type { RoomEntry } from '../../src/actors/room-queue.js';
import { openRedisHistoryStore } from '../../src/io/history-store-redis.js';
import { RoomTails } from '../../src/io/room-tails-redis.js';
import type { ChatMessage } from '../../src/machines/protocol.js';
import type { RoomMember } from '../../src/machines/room.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';
import { collected, eventually } from '../support/waiting.js';

const db = useRedis();
const running: RoomTails[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

const message = (login: string, text: string): ChatMessage => ({ at: new Date().toISOString(), room: '#dev', login, text });
const member = (connectionId: string, login: string) => ({ connectionId, login }) as unknown as RoomMember;

/** A node: its order of #dev, with a sink that records what it lets out. */
async function node(name: string, url = db.url) {
  const taken = collected<string>();
  const problems: string[] = [];
  const log = openRedisHistoryStore({ redis: db.connect({}, url).on('error', () => {}), keep: 100, prefix: db.prefix, where: url });
  let order: ClusterRoomOrder | undefined;
  const tails = await RoomTails.start({
    reader: db.connect({}, url).on('error', () => {}),
    control: db.connect({}, url).on('error', () => {}),
    prefix: db.prefix,
    where: url,
    retryMs: 20,
    onEntries: (_room, entries) => order!.receive(entries),
  });
  running.push(tails);
  const describe = (entry: RoomEntry) =>
    entry.kind === 'post' ? `post ${entry.message.text} from ${entry.sender || '-'}` : entry.kind === 'join' ? `welcome ${entry.member.login}` : entry.kind === 'notice' ? `notice ${entry.line}` : entry.kind === 'leave' ? `leave ${entry.member.login}` : `recall ${entry.connectionId}`;
  order = new ClusterRoomOrder(
    { take: (entry) => taken.push(describe(entry)), refused: (sender, count) => taken.push(`refused ${sender} ${count}`) },
    { room: '#dev', node: name, log, follow: (after) => tails.follow('#dev', after), unfollow: () => tails.unfollow('#dev'), report: (p) => problems.push(p) },
  );
  /** Seeds the order as a room's state does, then starts its tail. */
  const open = async () => {
    await order.seed(100);
    order.open();
  };
  return { order, taken: taken.items, until: (n: number) => taken.until(n, `${name} to let out ${n} entries`), open, problems, log };
}

/** Two nodes of the room, both open. */
async function twoNodes() {
  const a = await node('a');
  const b = await node('b');
  await a.open();
  await b.open();
  return { a, b };
}

describe.skipIf(!REDIS_INSTALLED)('the room order of a cluster', () => {
  it('lets out the same posts in the same order on every node, the sender kept only on its own', async () => {
    const { a, b } = await twoNodes();
    for (let i = 0; i < 10; i++) (i % 2 ? a : b).order.post([message('x', `m${i}`)], `c${i % 2}`);
    await a.until(10);
    await b.until(10);

    const texts = (taken: string[]) => taken.map((line) => line.split(' ')[1]);
    expect(texts(a.taken)).toEqual(texts(b.taken));
    expect(new Set(texts(a.taken)).size).toBe(10);
    // On a, its own posts (the odd ones) keep their sender; b's come without one.
    for (const line of a.taken) expect(line).toMatch(/^post m(\d) from (-|c1)$/);
    for (const line of a.taken) expect(line.endsWith('c1')).toBe(Number(line.match(/m(\d)/)![1]) % 2 === 1);
    for (const line of b.taken) expect(line.endsWith('c0')).toBe(Number(line.match(/m(\d)/)![1]) % 2 === 0);
  });

  it('seeds with what the room holds and goes on from there: no double, no gap', async () => {
    const a = await node('a');
    await a.log.append(message('x', 'old 1'));
    await a.log.append(message('x', 'old 2'));
    expect((await a.order.seed(100)).map((m) => m.text)).toEqual(['old 1', 'old 2']);
    await a.log.append(message('x', 'new'));
    a.order.open();
    await a.until(1);
    expect(a.taken).toEqual(['post new from -']);
  });

  it('welcomes its own member at their join entry; the other node hears a notice', async () => {
    const { a, b } = await twoNodes();
    a.order.post([message('x', 'before')], 'c9');
    await b.until(1);
    a.order.push({ kind: 'join', member: member('c1', 'bob') });
    b.order.push({ kind: 'notice', line: '* carol left #dev' });
    await a.until(3);
    await b.until(3);
    expect(a.taken).toEqual(['post before from c9', 'welcome bob', 'notice * carol left #dev']);
    expect(b.taken).toEqual(['post before from -', 'notice * bob joined #dev', 'notice * carol left #dev']);
  });

  it('says how many entries it never saw when its stream was trimmed past where its tail had read', async () => {
    const a = await node('a');
    await a.order.seed(100);
    // Another node's appends, trimmed down to 100 posts while a's tail has not started yet.
    const other = openRedisHistoryStore({ redis: db.connect(), keep: 100, retain: 100, prefix: db.prefix, where: db.url });
    await Promise.all(Array.from({ length: 400 }, (_, i) => other.append(message('x', `m${i}`))));
    const kept = await db.connect().xlen(`${db.prefix}room:#dev`);
    a.order.open();
    await a.until(kept + 1);
    expect(a.taken[0]).toBe(`notice * ${400 - kept} lines of #dev could not be shown here: this server fell behind`);
    expect(a.taken.slice(1)).toEqual(Array.from({ length: kept }, (_, i) => `post m${400 - kept + i} from -`));
    expect(a.problems.join('\n')).toMatch(new RegExp(`missed ${400 - kept} entries of #dev`));
  });

  it('answers a recall once the asker\'s own posts are back', async () => {
    const a = await node('a');
    await a.open();
    a.order.push({ kind: 'recall', connectionId: 'c2', limit: 5 });
    expect(a.taken).toEqual(['recall c2']);
    a.order.post([message('x', 'p1'), message('x', 'p2')], 'c1');
    a.order.push({ kind: 'recall', connectionId: 'c1', limit: 5 });
    expect(a.taken).toEqual(['recall c2']);
    await a.until(4);
    expect(a.taken).toEqual(['recall c2', 'post p1 from c1', 'post p2 from c1', 'recall c1']);
  });

  it('refuses to its sender a post Redis did not take — once Redis answers again and the tail has read past where it would be', async () => {
    const gone = await db.startAnother();
    const a = await node('a', gone.url);
    await a.open();
    await gone.crash();
    a.order.post([message('x', 'lost'), message('x', 'lost too')], 'c1');
    a.order.push({ kind: 'recall', connectionId: 'c1', limit: 5 });
    await eventually(() => a.problems.length > 0, 'the failed appends to be reported');
    // While Redis is away, nobody can tell whether the appends landed: nothing is refused yet.
    expect(a.taken).toEqual([]);
    await gone.restart();
    await a.until(2);
    // One refusal for the batch, with its count; the recall that waited for the posts goes then.
    expect(a.taken).toEqual(['refused c1 2', 'recall c1']);
    expect(a.problems.join('\n')).toMatch(/2 of 2 posts to #dev could not be appended/);
  });

  it('delivers, never refuses, a post whose append failed but which landed (its answer lost with the connection)', async () => {
    const { a, b } = await twoNodes();
    // As if Redis had written the entry and then lost the connection before answering: the
    // append rejects, but the entry (with its pid) is in the stream.
    const log = a.log as typeof a.log & { appendEntry: typeof a.log.appendEntry };
    const append = log.appendEntry.bind(log);
    log.appendEntry = async (room, entry) => {
      await append(room, entry);
      throw new Error('connection lost before the answer');
    };
    a.order.post([message('x', 'landed')], 'c1');
    a.order.push({ kind: 'recall', connectionId: 'c1', limit: 5 });
    await a.until(2);
    await b.until(1);
    expect(a.taken).toEqual(['post landed from c1', 'recall c1']);
    expect(b.taken).toEqual(['post landed from -']);
  });
});
