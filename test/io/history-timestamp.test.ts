/**
 * Start-up checks the timestamp of every history row; for rows in the server's own form it skips
 * Date.parse when the date and hour match the last valid row (history-store-csv.ts,
 * `timestampChecker`). That shortcut must give the verdict `isIsoTimestamp` gives, whatever came
 * before.
 */
import { describe, expect, it, vi } from 'vitest';
import { isIsoTimestamp, timestampChecker } from '../../src/io/history-store-csv.js';

const two = (n: number) => String(n).padStart(2, '0');

function verdict(check: ReturnType<typeof timestampChecker>, text: string): boolean {
  const bytes = Buffer.from(`x${text}y`); // an offset into a bigger buffer, as in a real chunk
  return check(bytes, 1, 1 + Buffer.byteLength(text), false) === undefined;
}

describe('timestampChecker', () => {
  // Leap and common years, the last day of months, a day too many, month 13, hours 23 and 24.
  const prefixes = ['2024-02-32T23', '2024-02-29T23', '2023-02-28T00', '2023-02-29T12', '2024-04-30T07', '2024-04-31T07', '2024-13-01T00', '2025-01-01T24', '1999-12-31T23'];

  it('agrees with isIsoTimestamp for every minute and second 00–99 after a valid row of the same hour', () => {
    let compared = 0;
    for (const prefix of prefixes) {
      const check = timestampChecker();
      verdict(check, `${prefix}:00:00.000Z`); // primes the shortcut when this hour is valid
      for (let minutes = 0; minutes < 100; minutes++) {
        for (let seconds = 0; seconds < 100; seconds += 1) {
          const text = `${prefix}:${two(minutes)}:${two(seconds)}.${two(seconds)}7Z`;
          expect(verdict(check, text), text).toBe(isIsoTimestamp(text));
          compared++;
        }
      }
    }
    expect(compared).toBe(prefixes.length * 10_000);
  });

  it('does not carry a valid hour over to another date, and judges other forms by isIsoTimestamp', () => {
    const check = timestampChecker();
    expect(verdict(check, '2024-02-29T10:00:00.000Z')).toBe(true);
    expect(verdict(check, '2024-02-32T10:00:00.000Z')).toBe(false); // Date.parse takes day 29 of any February, not 32
    expect(verdict(check, '2024-02-29T10:00:00Z')).toBe(true);
    expect(verdict(check, '2024-02-29T10:00:00.000+01:00')).toBe(true);
    expect(verdict(check, '2024-02-29 10:00:00.000Z')).toBe(false);
    expect(verdict(check, '2024-02-29T10:00:0x.000Z')).toBe(false);
    expect(verdict(check, 'yesterday')).toBe(false);
  });

  it('undoes doubled quotes in a quoted field before judging it', () => {
    const check = timestampChecker();
    const bytes = Buffer.from('2024-02-29T10:00:00.000Z');
    expect(check(bytes, 0, bytes.length, true)).toBeUndefined();
    const quoted = Buffer.from('2024-02-29T10:00:00.000Z""');
    expect(check(quoted, 0, quoted.length, true)).toMatch(/ISO 8601/);
  });

  it('agrees with isIsoTimestamp when any byte after the hour is changed, following a valid row of that hour', () => {
    const valid = '2024-02-29T10:00:00.000Z';
    let compared = 0;
    for (let at = 13; at < valid.length; at++) {
      for (const byte of ['0', '5', '9', '/', ':', '-', '.', 'T', 'Z', '+', 'x', ' ']) {
        const check = timestampChecker();
        verdict(check, valid);
        const text = valid.slice(0, at) + byte + valid.slice(at + 1);
        expect(verdict(check, text), text).toBe(isIsoTimestamp(text));
        compared++;
      }
    }
    expect(compared).toBe(11 * 12);
  });

  it('checks a row of the same date and hour as the last valid one without Date.parse', () => {
    const parse = vi.spyOn(Date, 'parse');
    try {
      const check = timestampChecker();
      for (let minutes = 0; minutes < 60; minutes++) expect(verdict(check, `2024-02-29T10:${two(minutes)}:${two(59 - minutes)}.123Z`)).toBe(true);
      expect(parse).toHaveBeenCalledTimes(1);

      // Another hour, a quoted field, or another form: parsed. After a refused row, the hour before still holds.
      expect(verdict(check, '2024-02-29T11:00:00.000Z')).toBe(true);
      expect(check(Buffer.from('2024-02-29T11:00:01.000Z'), 0, 24, true)).toBeUndefined();
      expect(verdict(check, '2024-02-29T11:00:02Z')).toBe(true);
      expect(verdict(check, '2024-02-29T11:60:00.000Z')).toBe(false);
      expect(parse).toHaveBeenCalledTimes(5);
      expect(verdict(check, '2024-02-29T11:59:59.999Z')).toBe(true);
      expect(parse).toHaveBeenCalledTimes(5);

      // An hour that is not one (24) is never taken as the valid hour.
      const late = timestampChecker();
      verdict(late, '2024-02-29T24:00:00.000Z');
      verdict(late, '2024-02-29T24:00:00.000Z');
      expect(parse).toHaveBeenCalledTimes(5 + 2);
    } finally {
      parse.mockRestore();
    }
  });
});
