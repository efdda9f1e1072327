import { describe, expect, it } from 'vitest';
import { type RoomEntry, RoomQueue } from '../../src/actors/room-queue.js';
import type { ChatMessage } from '../../src/machines/protocol.js';

function recorder() {
  const taken: string[] = [];
  const sink = {
    take: (entry: RoomEntry) =>
      taken.push(entry.kind === 'post' ? `post ${entry.message.text}` : entry.kind === 'notice' ? `notice ${entry.line}` : entry.kind),
    refused: (sender: string, count: number) => taken.push(`refused ${sender} ${count}`),
  };
  const stored: string[][] = [];
  return { taken, stored, queue: new RoomQueue(sink, (messages) => stored.push(messages.map((m) => m.text))) };
}

const message = (text: string): ChatMessage => ({ at: '2026-12-07T00:00:00.000Z', room: '#lobby', login: 'ann', text });

describe('RoomQueue: one room’s order on one node', () => {
  it('lets nothing out before it is opened, then everything in the order queued', () => {
    const { taken, queue } = recorder();
    queue.push({ kind: 'notice', line: 'a' });
    queue.push({ kind: 'recall', connectionId: 'c1', limit: 5 });
    expect(taken).toEqual([]);
    queue.open();
    expect(taken).toEqual(['notice a', 'recall']);
  });

  it('holds what was queued behind a message until the message is stored', () => {
    const { taken, stored, queue } = recorder();
    queue.open();
    const [one, two] = [message('one'), message('two')];
    queue.post([one, two], 'c1');
    queue.push({ kind: 'notice', line: '* ann left #lobby' });
    expect(taken).toEqual([]);
    expect(stored).toEqual([['one', 'two']]);
    queue.settle([one], 'stored');
    expect(taken).toEqual(['post one']);
    queue.settle([two], 'stored');
    expect(taken).toEqual(['post one', 'post two', 'notice * ann left #lobby']);
  });

  it('drops unstored messages and tells each sender how many, after what came before', () => {
    const { taken, queue } = recorder();
    queue.open();
    const batch = [message('x'), message('y')];
    const other = message('z');
    queue.post(batch, 'c1');
    queue.post([other], 'c2');
    queue.settle(batch, 'failed');
    expect(taken).toEqual(['refused c1 2']);
    queue.settle([other], 'stored');
    expect(taken).toEqual(['refused c1 2', 'post z']);
  });

  it('forgets what is queued on clear', () => {
    const { taken, queue } = recorder();
    queue.open();
    const m = message('lost');
    queue.post([m], 'c1');
    queue.clear();
    queue.settle([m], 'stored');
    queue.push({ kind: 'notice', line: 'after' });
    expect(taken).toEqual(['notice after']);
  });

  it('keeps the order across the compaction of a long queue', () => {
    const { taken, queue } = recorder();
    queue.open();
    const messages = Array.from({ length: 3000 }, (_, i) => message(String(i)));
    queue.post(messages, 'c1');
    for (let i = 0; i < messages.length; i += 500) queue.settle(messages.slice(i, i + 500), 'stored');
    expect(taken).toEqual(messages.map((m) => `post ${m.text}`));
  });
});
