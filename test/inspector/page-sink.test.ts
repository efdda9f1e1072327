/**
 * A page's share of the stream: one frame per batch; a page too far behind is cut off, once.
 */
import { describe, expect, it } from 'vitest';
import { PageSink, type PageSocket } from '../../src/inspector/page-sink.js';

class FakeSocket implements PageSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  terminated = 0;
  send(data: string) {
    this.sent.push(data);
    this.bufferedAmount += data.length;
  }
  terminate() {
    this.terminated++;
    this.readyState = 3;
  }
}

describe('PageSink', () => {
  it('sends a batch as one frame: a JSON array of the messages', () => {
    const socket = new FakeSocket();
    const sink = new PageSink(socket, 1000, () => {});

    sink.deliver(['{"a":1}', '{"b":2}']);
    sink.deliver([]);

    expect(socket.sent).toEqual(['[{"a":1},{"b":2}]', '[]']);
    expect(JSON.parse(socket.sent[0]!)).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('drops a page that has more than the bound unread, instead of queueing more for it', () => {
    const socket = new FakeSocket();
    const dropped: PageSink[] = [];
    const sink = new PageSink(socket, 100, (s) => dropped.push(s));

    sink.deliver(['x'.repeat(60)]); // 62 bytes waiting: under the bound
    sink.deliver(['y'.repeat(60)]); // 62 waiting when it is sent: still under → 124 waiting
    sink.deliver(['z']); // 124 > 100: dropped
    sink.deliver(['w']);

    expect(socket.sent).toHaveLength(2);
    expect(socket.terminated).toBe(1);
    expect(dropped).toEqual([sink]);
  });

  it('keeps a page that reads what it is sent, however much that is', () => {
    const socket = new FakeSocket();
    const sink = new PageSink(socket, 100, () => {});

    for (let i = 0; i < 50; i++) {
      sink.deliver(['m'.repeat(90)]);
      socket.bufferedAmount = 0; // the page read it
    }

    expect(socket.sent).toHaveLength(50);
    expect(socket.terminated).toBe(0);
  });
});
