/**
 * Property tests of the line framer (src/io/line-framer.ts): however a byte stream is cut into
 * chunks, the same lines come out — the ones a plain reference framing of the whole stream gives —
 * and a line over the limit is reported, never held whole in memory.
 *
 * fast-check prints the seed and path of a failing run; replay one with
 * `fc.assert(property, { seed, path, endOnFailure: true })`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FramedLine, LineFramer } from '../../src/io/line-framer.js';

const LF = 0x0a;
const CR = 0x0d;

/** Byte streams rich in what matters to framing: LF, CR, CRLF, multi-byte and invalid UTF-8. */
const fragment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('\n', '\r\n', '\r', '\r\r\n', '\n\n') },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('é', '€', '😀', 'e\u0301', '\u2028', '\0') },
  // Raw bytes: invalid UTF-8 (lone continuation bytes, truncated sequences, 0xff) included.
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes)) },
);
const stream = fc
  .array(fragment, { maxLength: 40 })
  .map((parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))));

/** Cut points into a stream of `length` bytes (sorted, distinct, inside it). */
function splitBy(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const at of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, at)); // empty chunks included: a socket may deliver one
    from = at;
  }
  return chunks;
}

/** The reference: the whole stream split on LF, one trailing CR dropped, lengths checked. */
function reference(bytes: Buffer, maxLineBytes: number): FramedLine[] {
  const lines: FramedLine[] = [];
  let start = 0;
  const finish = (end: number) => {
    let length = end - start;
    if (length > 0 && bytes[end - 1] === CR) length--;
    lines.push(length > maxLineBytes ? { kind: 'tooLong', bytes: length } : { kind: 'line', text: bytes.toString('utf8', start, start + length) });
  };
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === LF) {
      finish(i);
      start = i + 1;
    }
  }
  if (start < bytes.length) finish(bytes.length); // an unterminated last line, at the end of the stream
  return lines;
}

/** Frames `chunks`, checking after every push that the framer never holds more than a line's worth. */
function frame(chunks: Buffer[], maxLineBytes: number): FramedLine[] {
  const framer = new LineFramer(maxLineBytes);
  const lines: FramedLine[] = [];
  for (const chunk of chunks) {
    lines.push(...framer.push(chunk));
    expect(framer.bufferedBytes).toBeLessThanOrEqual(maxLineBytes + 1);
  }
  lines.push(...framer.end());
  expect(framer.bufferedBytes).toBe(0);
  return lines;
}

describe('LineFramer properties', () => {
  it('yields the same lines for any split of any byte stream, as a plain framing of the whole does', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 30 }), fc.integer({ min: 1, max: 24 }), (bytes, cuts, max) => {
        const expected = reference(bytes, max);
        expect(frame([bytes], max)).toEqual(expected);
        expect(frame(splitBy(bytes, cuts), max)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('yields the same lines byte by byte', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 1, max: 24 }), (bytes, max) => {
        const oneByOne = [...bytes].map((b) => Buffer.from([b]));
        expect(frame(oneByOne, max)).toEqual(reference(bytes, max));
      }),
      { numRuns: 200 },
    );
  });

  it('never holds more than the limit of a line that goes over it, however it arrives', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (max, extra, chunkSizes, crlf) => {
          // A line `extra` bytes over the limit, then a short one that must survive intact.
          const long = Buffer.alloc(max + extra, 'x');
          const bytes = Buffer.concat([long, Buffer.from(crlf ? '\r\nk\n' : '\nk\n')]);
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const size = chunkSizes[i % chunkSizes.length]!;
            chunks.push(bytes.subarray(at, at + size));
            at += size;
          }
          expect(frame(chunks, max)).toEqual([
            { kind: 'tooLong', bytes: max + extra },
            { kind: 'line', text: 'k' },
          ]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps every line within the limit whole (a line of exactly the limit, with or without CR)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), (max, crlf, sizes) => {
        const text = 'y'.repeat(max);
        const bytes = Buffer.from(`${text}${crlf ? '\r\n' : '\n'}`);
        const cuts = sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b, 0));
        const chunks = splitBy(bytes, cuts.filter((c) => c < bytes.length));
        expect(frame(chunks, max)).toEqual([{ kind: 'line', text }]);
      }),
      { numRuns: 200 },
    );
  });
});
