import { describe, expect, it } from 'vitest';
import { LineFramer, type FramedLine } from '../../src/io/line-framer.js';

/** Feeds `chunks` and the end of stream; returns everything framed. */
function frame(chunks: Buffer[], maxLineBytes?: number): FramedLine[] {
  const framer = new LineFramer(maxLineBytes);
  return [...chunks.flatMap((chunk) => framer.push(chunk)), ...framer.end()];
}

const line = (text: string): FramedLine => ({ kind: 'line', text });

/** mulberry32: small, seeded, good enough to pick split points reproducibly. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function splitAt(bytes: Buffer, random: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(random() * Math.min(40, bytes.length - at));
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('LineFramer', () => {
  it('splits on LF and strips one trailing CR', () => {
    expect(frame([Buffer.from('one\ntwo\r\nthree\r\r\n')])).toEqual([line('one'), line('two'), line('three\r')]);
  });

  it('emits empty lines', () => {
    expect(frame([Buffer.from('\n\r\na\n\n')])).toEqual([line(''), line(''), line('a'), line('')]);
  });

  it('holds an unterminated line until more bytes or the end of the stream', () => {
    const framer = new LineFramer();
    expect(framer.push(Buffer.from('hel'))).toEqual([]);
    expect(framer.push(Buffer.from('lo\nwor'))).toEqual([line('hello')]);
    expect(framer.end()).toEqual([line('wor')]);
    expect(framer.end()).toEqual([]);
  });

  it('returns nothing at the end of a stream that ended with a newline', () => {
    expect(frame([Buffer.from('a\n')])).toEqual([line('a')]);
  });

  it('frames 10,000 lines from one chunk', () => {
    const texts = Array.from({ length: 10_000 }, (_, i) => `message number ${i}`);
    expect(frame([Buffer.from(texts.map((t) => `${t}\r\n`).join(''))])).toEqual(texts.map(line));
  });

  it('decodes a multi-byte character split across chunks', () => {
    const bytes = Buffer.from('é€😀\n');
    const chunks = [...bytes].map((byte) => Buffer.from([byte]));
    expect(frame(chunks)).toEqual([line('é€😀')]);
  });

  it('replaces invalid UTF-8 with U+FFFD instead of throwing', () => {
    const bytes = Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x0a, 0xe2, 0x82, 0x0a]);
    expect(frame([bytes])).toEqual([line('a\uFFFDb\uFFFD'), line('\uFFFD')]);
  });

  it('keeps NUL bytes as they are', () => {
    expect(frame([Buffer.from('a\0b\n')])).toEqual([line('a\0b')]);
  });

  it('reports an over-limit line once, with its length, between normal lines', () => {
    const long = 'x'.repeat(25);
    const bytes = Buffer.from(`before\n${long}\r\nafter\n`);
    const expected = [line('before'), { kind: 'tooLong', bytes: 25 }, line('after')];
    expect(frame([bytes], 10)).toEqual(expected);
    expect(frame([...bytes].map((b) => Buffer.from([b])), 10)).toEqual(expected);
  });

  it('accepts a line of exactly the limit, with or without CR', () => {
    expect(frame([Buffer.from('0123456789\r'), Buffer.from('\n0123456789\n')], 10)).toEqual([
      line('0123456789'),
      line('0123456789'),
    ]);
    expect(frame([Buffer.from('01234567890\n')], 10)).toEqual([{ kind: 'tooLong', bytes: 11 }]);
  });

  it('does not buffer an over-limit line while it streams in', () => {
    const framer = new LineFramer(16);
    for (let i = 0; i < 1000; i++) expect(framer.push(Buffer.alloc(1024, 0x61))).toEqual([]);
    expect(framer.push(Buffer.from('\nok\n'))).toEqual([{ kind: 'tooLong', bytes: 1024 * 1000 }, line('ok')]);
    // White-box but to the point: nothing of the long line was kept.
    expect((framer as unknown as { pendingBytes: number }).pendingBytes).toBe(0);
  });

  it('reports an over-limit line cut off by the end of the stream', () => {
    expect(frame([Buffer.from('a'.repeat(30))], 10)).toEqual([{ kind: 'tooLong', bytes: 30 }]);
  });

  it('does not depend on the buffers it was given staying unchanged', () => {
    const framer = new LineFramer();
    const chunk = Buffer.from('abc');
    framer.push(chunk);
    chunk.fill(0x7a);
    expect(framer.push(Buffer.from('\n'))).toEqual([line('abc')]);
  });

  it('frames the same lines however the stream is split into chunks', () => {
    const random = prng(20240611);
    const pieces = ['hi', '', 'é€😀', 'x'.repeat(40), 'a\0b', '\r', 'y'.repeat(33), 'ok\r'];
    const separators = ['\n', '\r\n'];
    for (let round = 0; round < 300; round++) {
      const count = 1 + Math.floor(random() * 12);
      let text = '';
      for (let i = 0; i < count; i++) {
        text += pieces[Math.floor(random() * pieces.length)];
        text += separators[Math.floor(random() * separators.length)];
      }
      if (random() < 0.3) text += pieces[Math.floor(random() * pieces.length)]; // unterminated tail
      const bytes = Buffer.concat([Buffer.from(text), random() < 0.2 ? Buffer.from([0xf0, 0x9f]) : Buffer.alloc(0)]);
      const whole = frame([bytes], 32);
      for (let split = 0; split < 10; split++) {
        expect(frame(splitAt(bytes, random), 32)).toEqual(whole);
      }
    }
  });
});
