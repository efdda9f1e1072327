/**
 * KeyIndex (src/io/key-index.ts), the map clients.csv's users are indexed by: it must behave as a
 * Map of its keys — through any sequence of sets, deletions and clears, across its growth, with
 * keys that start from the same slot — and read a key from a file's bytes as from its string.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../../src/io/key-index.js';

const key = () => randomBytes(32).toString('hex');
/** Keys whose first four bytes are the same: the same starting slot at any capacity. */
const sameSlot = (n: number) => Array.from({ length: n }, () => `00000000${randomBytes(28).toString('hex')}`);

describe('KeyIndex', () => {
  it('holds what is set, answers undefined for the rest, and counts its keys', () => {
    const index = new KeyIndex<number>();
    const [a, b, c] = [key(), key(), key()];
    index.set(a, 1);
    index.set(b, 2);
    index.set(a, 3);
    expect(index.get(a)).toBe(3);
    expect(index.get(b)).toBe(2);
    expect(index.get(c)).toBeUndefined();
    expect([index.has(a), index.has(c)]).toEqual([true, false]);
    expect(index.size).toBe(2);
    expect(index.delete(a)).toBe(true);
    expect(index.delete(a)).toBe(false);
    expect(index.get(a)).toBeUndefined();
    expect(index.size).toBe(1);
    index.clear();
    expect(index.size).toBe(0);
    expect(index.has(b)).toBe(false);
  });

  it('keeps apart keys that start from the same slot, and finds one past a deleted one', () => {
    const index = new KeyIndex<string>(4);
    const keys = sameSlot(40);
    for (const k of keys) index.set(k, k);
    for (const k of keys) expect(index.get(k)).toBe(k);
    index.delete(keys[0]!);
    index.delete(keys[5]!);
    expect(index.get(keys[39]!)).toBe(keys[39]);
    expect(index.get(keys[6]!)).toBe(keys[6]);
    index.set(keys[5]!, 'again');
    expect(index.get(keys[5]!)).toBe('again');
    expect(index.size).toBe(39);
  });

  it('reads a key from the hex digits of a line, and adds it only when it is new', () => {
    const index = new KeyIndex<number>();
    const k = key();
    const line = Buffer.from(`x,${k},rest`);
    expect(index.addAt(line, 2, 7)).toBe(true);
    expect(index.addAt(line, 2, 8)).toBe(false);
    expect(index.get(k)).toBe(7);
    expect(index.size).toBe(1);
  });

  it('refuses a key that is not 64 lowercase hex digits, and a capacity that is not a power of two', () => {
    const index = new KeyIndex<number>();
    expect(() => index.get('abc')).toThrow(/64 hex digits, got 3 characters/);
    expect(() => index.set(key().toUpperCase(), 1)).toThrow(/lowercase hex/);
    expect(() => index.has(`${key().slice(0, 63)}g`)).toThrow(/lowercase hex/);
    expect(() => new KeyIndex(1000)).toThrow(/power of two, got 1000/);
    expect(() => new KeyIndex(1)).toThrow(RangeError);
  });

  it('behaves as a Map through any sets, deletions, clears and growth', () => {
    const pool = [...Array.from({ length: 12 }, key), ...sameSlot(12)];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), k: fc.nat(pool.length - 1), v: fc.integer() }),
      fc.record({ kind: fc.constant('addAt' as const), k: fc.nat(pool.length - 1), v: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), k: fc.nat(pool.length - 1) }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.constantFrom(2, 4, 64), (ops, capacity) => {
        const index = new KeyIndex<number>(capacity);
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'clear') {
            index.clear();
            model.clear();
            continue;
          }
          const k = pool[o.k]!;
          if (o.kind === 'set') {
            index.set(k, o.v);
            model.set(k, o.v);
          } else if (o.kind === 'addAt') {
            const added = index.addAt(Buffer.from(`,${k},`), 1, o.v);
            expect(added).toBe(!model.has(k));
            if (added) model.set(k, o.v);
          } else {
            expect(index.delete(k)).toBe(model.delete(k));
          }
          expect(index.size).toBe(model.size);
        }
        for (const k of pool) {
          expect(index.has(k)).toBe(model.has(k));
          expect(index.get(k)).toBe(model.get(k));
        }
      }),
      { numRuns: 500 },
    );
  });
});
