/**
 * The rooms' tails against a real redis-server: a node reads what any node appends to the rooms
 * it follows, once and in order, from where it was told; a room followed while the read is
 * blocked is read at once; an unfollowed one no more.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/io/errors.js';
import { openRedisHistoryStore } from '../../src/io/history-store-redis.js';
import { RoomTails, type StreamEntry } from '../../src/io/room-tails-redis.js';
import { REDIS_INSTALLED, useRedis } from '../support/redis-server.js';
import { collected, withHangGuard } from '../support/waiting.js';

const db = useRedis();
const running: RoomTails[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

/** Tails whose entries are collected per room; `next(room, n)` resolves once n have arrived. */
async function tails(more: { onEntries?: (room: string) => void; onError?: (error: StorageError) => void } = {}) {
  const got = new Map<string, string[]>();
  const changed = new EventTarget();
  const t = await RoomTails.start({
    reader: db.connect(),
    control: db.connect(),
    prefix: db.prefix,
    where: db.url,
    // Long enough that a test passing in time shows the interrupt worked, not the timeout.
    blockMs: 60_000,
    onEntries: (room, entries: StreamEntry[]) => {
      const texts = entries.map((e) => e.fields[e.fields.indexOf('text') + 1]!);
      got.set(room, [...(got.get(room) ?? []), ...texts]);
      changed.dispatchEvent(new Event('change'));
      more.onEntries?.(room);
    },
    ...(more.onError ? { onError: more.onError, retryMs: 10 } : {}),
  });
  running.push(t);
  const next = (room: string, n: number) =>
    new Promise<string[]>((resolve) => {
      const check = () => {
        const texts = got.get(room) ?? [];
        if (texts.length < n) return;
        changed.removeEventListener('change', check);
        resolve(texts);
      };
      changed.addEventListener('change', check);
      check();
    });
  return { t, got, next };
}

function writer() {
  return openRedisHistoryStore({ redis: db.connect(), keep: 1000, prefix: db.prefix, where: db.url });
}

const message = (room: string, text: string) => ({ at: new Date().toISOString(), room, login: 'alice', text });

// Skipped only where redis-server is not installed (see REDIS_INSTALLED); never in CI.
describe.skipIf(!REDIS_INSTALLED)('room tails on Redis', () => {
  it('reads what another node appends to a followed room, once and in order, from the start given', async () => {
    const w = writer();
    await w.append(message('#dev', 'before'));
    const { t, next } = await tails();

    t.follow('#dev', '0-0');
    for (let i = 1; i <= 50; i++) void w.append(message('#dev', `m${i}`));

    expect(await next('#dev', 51)).toEqual(['before', ...Array.from({ length: 50 }, (_, i) => `m${i + 1}`)]);
  });

  it('starts after the entry it is given, so nothing before it comes twice', async () => {
    const redis = db.connect();
    const w = writer();
    await w.append(message('#dev', 'seen in the replay'));
    const [[lastId]] = (await redis.xrevrange(`${db.prefix}room:#dev`, '+', '-', 'COUNT', 1)) as [string, string[]][];
    const { t, next } = await tails();

    t.follow('#dev', lastId!);
    await w.append(message('#dev', 'live'));

    expect(await next('#dev', 1)).toEqual(['live']);
  });

  it('reads a room followed while the read is blocked at once, and an unfollowed room no more', async () => {
    const w = writer();
    const { t, got, next } = await tails();
    t.follow('#a', '0-0');
    await w.append(message('#a', 'a1'));
    await next('#a', 1);

    // The reader is blocked on #a alone now (for up to a minute).
    t.follow('#b', '0-0');
    await w.append(message('#b', 'b1'));
    expect(await withHangGuard(next('#b', 1), 5_000, '#b, followed while the read was blocked')).toEqual(['b1']);

    t.unfollow('#a');
    await w.append(message('#a', 'a2'));
    await w.append(message('#b', 'b2'));
    expect(await next('#b', 2)).toEqual(['b1', 'b2']);
    expect(got.get('#a')).toEqual(['a1']);
  });

  it('stops at once, even while blocked', async () => {
    const { t } = await tails();
    t.follow('#quiet', '0-0');

    running.splice(running.indexOf(t), 1);

    // The read blocks for up to a minute: stopping must interrupt it.
    await withHangGuard(t.stop(), 5_000, 'the tails to stop while blocked');
  });

  // On the node's connections (auto-pipelined, as connectRedis makes them), a change made just
  // after a read was asked goes out with it in the next flush, on the other connection: the
  // UNBLOCK can reach Redis before the XREAD it is meant for. Caught here by the 60 s block:
  // without the retry, the follow (or the stop) waits for the read's timeout.
  it('reads a room followed just after the next read was asked, and stops then too, without waiting for the block', async () => {
    const w = writer();
    await w.append(message('#b', 'in b'));
    const got = collected<string>();
    let after: (() => void) | undefined;
    const t = await RoomTails.start({
      control: db.connect({ enableAutoPipelining: true }),
      reader: db.connect({ enableAutoPipelining: true }),
      prefix: db.prefix,
      where: db.url,
      blockMs: 60_000,
      onEntries: (room) => {
        got.push(room);
        const change = after;
        after = undefined;
        // After the loop has asked its next read (in this same turn), before it is flushed.
        if (change) queueMicrotask(change);
      },
    });
    running.push(t);
    after = () => t.follow('#b', '0-0');
    t.follow('#a', '0-0');
    await w.append(message('#a', 'in a'));
    await withHangGuard(got.until(2, '#a then #b to be read'), 3_000, '#b to be read');
    expect(got.items).toEqual(['#a', '#b']);

    const stopped = new Promise<void>((resolve) => (after = () => resolve(t.stop())));
    await w.append(message('#a', 'again'));
    await withHangGuard(stopped, 3_000, 'the tails to stop');
    expect(got.items).toEqual(['#a', '#b', '#a']);
  });

  it('gives nothing of a room unfollowed, or followed again from elsewhere, while its entries were on the way', async () => {
    const w = writer();
    for (const room of ['#a', '#b', '#c']) await w.append(message(room, `${room} old`));
    const { t, got, next } = await tails({
      // All three rooms come in one reply: the first one given changes what the others are followed for.
      onEntries: (room) => {
        if (room !== '#a') return;
        t.unfollow('#b');
        t.follow('#c', '0-0');
      },
    });
    // Followed at once, so that one read asks for all three.
    t.follow('#a', '0-0');
    t.follow('#b', '0-0');
    t.follow('#c', '0-0');

    // #c, followed again from the start, is read again from there: its entry comes once.
    expect(await next('#c', 1)).toEqual(['#c old']);
    await w.append(message('#c', '#c new'));
    expect(await next('#c', 2)).toEqual(['#c old', '#c new']);
    expect(got.get('#a')).toEqual(['#a old']);
    expect(got.has('#b')).toBe(false);
  });

  it('waits for a follow without reading while no room is followed', async () => {
    const errors: StorageError[] = [];
    const w = writer();
    await w.append(message('#late', 'hello'));
    const { t, next } = await tails({ onError: (e) => errors.push(e) });

    // The tails have been idle since they started; a read of no streams would have failed.
    t.follow('#late', '0-0');

    expect(await next('#late', 1)).toEqual(['hello']);
    expect(errors).toEqual([]);
  });

  it('refuses to start when the reader cannot reach Redis', async () => {
    const gone = await db.startAnother();
    const reader = db.connect({ enableOfflineQueue: false, retryStrategy: () => null }, gone.url);
    reader.on('error', () => {});
    await once(reader, 'ready');
    await gone.stop();

    await expect(RoomTails.start({ reader, control: reader, where: gone.url, onEntries: () => {} })).rejects.toBeInstanceOf(StorageError);
  });

  it('reports a failed read as a StorageError, keeps retrying, and still stops', async () => {
    const gone = await db.startAnother();
    const reader = db.connect({ enableOfflineQueue: false }, gone.url);
    reader.on('error', () => {});
    await once(reader, 'ready');
    const errors = collected<StorageError>();
    const t = await RoomTails.start({
      reader,
      control: db.connect({}, gone.url).on('error', () => {}),
      prefix: db.prefix,
      where: gone.url,
      blockMs: 60_000,
      retryMs: 10,
      onEntries: () => {},
      onError: (error) => errors.push(error),
    });
    t.follow('#dev', '0-0');
    await gone.stop();

    // A second failure shows the tails retried after the first.
    await errors.until(2, 'two failed reads');
    expect(errors.items[0]).toBeInstanceOf(StorageError);
    expect(errors.items[0]!.message).toContain(gone.url);
    await withHangGuard(t.stop(), 5_000, 'the tails to stop while Redis is gone');
  });
});
