/**
 * How start-up reads history.csv back (history-store-csv.ts): the plan of reads for the records
 * it kept (`planReads`: adjacent records one run, close runs one read, no read past 4 MiB), and
 * the read loops, which must go on after a short read (`readInto`, `forEachChunk`) — a local
 * file rarely answers one, so a handle that always does stands in for it.
 */
import { describe, expect, it } from 'vitest';
import { forEachChunk, planReads, type ReadHandle, readInto } from '../../src/io/history-store-csv.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('planReads', () => {
  it('is no read for no records', () => {
    expect(planReads([])).toEqual([]);
  });

  it('merges adjacent records into one run, whatever order they come in', () => {
    expect(planReads([20, 30, 0, 10, 10, 20])).toEqual([{ from: 0, to: 30, runs: [0, 30] }]);
  });

  it('reads runs less than 64 KiB apart together, each kept a run of its own', () => {
    const gap = 64 * KiB - 1;
    expect(planReads([0, 10, 10 + gap, 20 + gap])).toEqual([{ from: 0, to: 20 + gap, runs: [0, 10, 10 + gap, 20 + gap] }]);
  });

  it('reads runs 64 KiB apart or more separately', () => {
    const gap = 64 * KiB;
    expect(planReads([0, 10, 10 + gap, 20 + gap])).toEqual([
      { from: 0, to: 10, runs: [0, 10] },
      { from: 10 + gap, to: 20 + gap, runs: [10 + gap, 20 + gap] },
    ]);
  });

  it('ends a read at 4 MiB: a run reaching past it starts the next one', () => {
    const step = 60 * KiB; // close enough to share a read
    const ranges: number[] = [];
    for (let at = 0; at < 10 * MiB; at += step) ranges.push(at, at + 100);
    const reads = planReads(ranges);
    expect(reads.length).toBeGreaterThan(2);
    for (const read of reads) expect(read.to - read.from).toBeLessThanOrEqual(4 * MiB);
    // Every run in exactly one read, in file order, and each read as full as the limit allows.
    expect(reads.flatMap((read) => read.runs)).toEqual(ranges);
    for (const [i, read] of reads.slice(0, -1).entries()) {
      expect(read.runs[0]).toBe(read.from);
      expect(read.runs.at(-1)).toBe(read.to);
      expect(reads[i + 1]!.to - read.from).toBeGreaterThan(4 * MiB);
    }
  });

  it('lets a read of exactly 4 MiB hold its last run', () => {
    // 64 runs 100 bytes apart, the last ending at 4 MiB.
    const ranges: number[] = [];
    for (let k = 0; k < 64; k++) ranges.push(k * 64 * KiB, k === 63 ? 4 * MiB : (k + 1) * 64 * KiB - 100);
    expect(planReads(ranges)).toEqual([{ from: 0, to: 4 * MiB, runs: ranges }]);
  });
});

/** A handle on `content` that never gives more than `most` bytes a read, and counts its reads. */
function shortReads(content: Buffer, most: number): ReadHandle & { reads: number } {
  const handle = {
    reads: 0,
    async read(buffer: Buffer, offset: number, length: number, position: number) {
      handle.reads++;
      const bytesRead = Math.max(0, Math.min(most, length, content.length - position));
      content.copy(buffer, offset, position, position + bytesRead);
      return { bytesRead, buffer };
    },
  };
  return handle as unknown as ReadHandle & { reads: number };
}

describe('the read loops, on a handle that answers short reads', () => {
  const content = Buffer.from(Array.from({ length: 200 }, (_, i) => String.fromCharCode(65 + (i % 26))).join(''));

  it('readInto fills what it was asked for, at the offset it was given, from the position it was given', async () => {
    const handle = shortReads(content, 7);
    const buffer = Buffer.alloc(60, '.');
    expect(await readInto(handle, buffer, 5, 50, 30)).toBe(50);
    expect(buffer.toString()).toBe(`.....${content.subarray(30, 80).toString()}.....`);
    expect(handle.reads).toBe(Math.ceil(50 / 7));
  });

  it('readInto stops at the end of the file and says how much it read', async () => {
    const buffer = Buffer.alloc(40);
    expect(await readInto(shortReads(content, 7), buffer, 0, 40, 180)).toBe(20);
    expect(buffer.subarray(0, 20).equals(content.subarray(180))).toBe(true);
  });

  it('forEachChunk hands on every byte of the range once, in order, and stops at the end of the file', async () => {
    const chunks: Buffer[] = [];
    await forEachChunk(shortReads(content, 9), 13, 150, (chunk) => chunks.push(Buffer.from(chunk)));
    expect(Buffer.concat(chunks).equals(content.subarray(13, 150))).toBe(true);
    const tail: Buffer[] = [];
    await forEachChunk(shortReads(content, 9), 190, 400, (chunk) => tail.push(Buffer.from(chunk)));
    expect(Buffer.concat(tail).equals(content.subarray(190))).toBe(true);
  });
});
