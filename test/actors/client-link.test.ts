import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientLink } from '../../src/actors/client-link.js';

/** Just what ClientLink uses of a socket; records every write. */
function fakeSocket() {
  const writes: Buffer[] = [];
  const socket = {
    destroyed: false,
    writableLength: 0,
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
