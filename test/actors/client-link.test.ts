import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientLink } from '../../src/actors/client-link.js';

/** Just what ClientLink uses of a socket; records every write. */
function fakeSocket(writableLength = 0) {
  const writes: Buffer[] = [];
  const socket = {
    destroyed: false,
    /** What the kernel has not taken yet: a test sets it to play a client that does not read. */
    writableLength,
    write(bytes: Buffer) {
      writes.push(bytes);
      return true;
    },
    end() {},
    destroy() {
      socket.destroyed = true;
    },
    once() {},
  };
  return { socket: socket as unknown as Socket, writes };
}

function link(id: string) {
  const { socket, writes } = fakeSocket();
  return { link: new ClientLink(id, socket, '127.0.0.1', 1 << 20, () => {}), writes };
}

const BOUND = 100;

/** A link with a send-buffer bound of 100 bytes whose socket holds `unread` bytes unread; records slow-consumer reports. */
function boundedLink(unread: number) {
  const { socket, writes } = fakeSocket(unread);
  const slow: ClientLink[] = [];
  const l = new ClientLink('slow', socket, '127.0.0.1', BOUND, (reported) => slow.push(reported));
  return { link: l, writes, slow };
}

const bytes = (n: number) => Buffer.alloc(n, 'x');

const turnEnd = () => new Promise((resolve) => setImmediate(resolve));
const text = (buffers: Buffer[]) => Buffer.concat(buffers).toString();

describe('ClientLink batching', () => {
  it("writes each link's deliveries of a turn as one buffer, in order", async () => {
    const a = link('a');
    const [m1, m2, m3] = ['one\r\n', 'two\r\n', 'three\r\n'].map((t) => Buffer.from(t));
    a.link.deliver(m1!);
    a.link.sendLines(['direct']);
    a.link.deliver(m2!);
    a.link.deliver(m3!);
    expect(a.writes).toEqual([]); // nothing before the turn ends
    await turnEnd();
    expect(a.writes).toHaveLength(1);
    expect(text(a.writes)).toBe('one\r\ndirect\r\ntwo\r\nthree\r\n');
  });

  it('gives links with the same deliveries the same bytes, and links that differ only inside their own', async () => {
    const [m1, m2, m3, x] = ['m1\r\n', 'm2\r\n', 'm3\r\n', 'xx\r\n'].map((t) => Buffer.from(t));
    const a = link('a');
    const b = link('b');
    const c = link('c');
    const d = link('d');
    for (const m of [m1!, m2!, m3!]) a.link.deliver(m);
    for (const m of [m1!, m2!, m3!]) b.link.deliver(m);
    // Same count, same first and last buffer, same length — a different middle.
    for (const m of [m1!, x!, m3!]) c.link.deliver(m);
    for (const m of [m1!, m2!, m3!]) d.link.deliver(m);
    await turnEnd();
    expect(text(a.writes)).toBe('m1\r\nm2\r\nm3\r\n');
    expect(b.writes[0]).toBe(a.writes[0]); // shared, not copied again
    expect(text(c.writes)).toBe('m1\r\nxx\r\nm3\r\n');
    expect(text(d.writes)).toBe('m1\r\nm2\r\nm3\r\n');
  });
});

describe('ClientLink slow-consumer protection', () => {
  it('reports a client that left more than the bound unread in earlier turns, and sends it nothing more', async () => {
    const over = boundedLink(BOUND + 1);
    over.link.deliver(bytes(1));
    await turnEnd();
    expect(over.slow, 'a client 1 byte over the bound was not reported as a slow consumer').toEqual([over.link]);
    expect(over.writes).toEqual([]);

    const atBound = boundedLink(BOUND);
    atBound.link.deliver(bytes(1));
    await turnEnd();
    expect(atBound.slow).toEqual([]);
    expect(text(atBound.writes)).toBe('x');
  });

  it("does not count this turn's own output towards the bound: a burst of three times it goes out whole", async () => {
    const reader = boundedLink(0);
    for (let i = 0; i < 3; i++) reader.link.deliver(bytes(BOUND));
    await turnEnd();
    expect(reader.slow).toEqual([]);
    expect(Buffer.concat(reader.writes).length).toBe(3 * BOUND);
  });

  it('caps unread plus this turn at four times the bound: the write that would pass it is dropped and reported', async () => {
    const l = boundedLink(50);
    for (const n of [BOUND, BOUND, BOUND, 50]) l.link.deliver(bytes(n)); // 50 + 350 = exactly the cap
    expect(l.slow).toEqual([]);
    l.link.deliver(bytes(1));
    expect(l.slow, 'a turn 1 byte over the hard cap was not reported as a slow consumer').toEqual([l.link]);
    await turnEnd();
    expect(Buffer.concat(l.writes).length).toBe(4 * BOUND - 50);
  });

  it('caps a single write at the start of a turn too', async () => {
    const l = boundedLink(0);
    l.link.deliver(bytes(4 * BOUND + 1));
    await turnEnd();
    expect(l.slow).toEqual([l.link]);
    expect(l.writes).toEqual([]);
  });
});
