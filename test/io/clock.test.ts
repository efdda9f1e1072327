/**
 * The wall clock's timestamps and the system timers (src/io/clock.ts). Tests of code that uses
 * `Timers` pass a ManualClock (test/support/manual-clock.ts); these check the real one.
 */
import { describe, expect, it } from 'vitest';
import { isoNow, systemTimers } from '../../src/io/clock.js';

describe('isoNow', () => {
  it('is the current time, ISO 8601 in UTC with milliseconds', () => {
    const before = Date.now();
    const stamp = isoNow();
    const after = Date.now();
    expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Date.parse(stamp)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(stamp)).toBeLessThanOrEqual(after);
  });

  it('moves on with the clock, never going back', () => {
    const first = isoNow();
    let latest = first;
    // Bounded: the clock passes a millisecond long before a million reads.
    for (let i = 0; i < 1_000_000 && latest === first; i++) {
      const next = isoNow();
      expect(next >= latest).toBe(true);
      latest = next;
    }
    expect(latest > first).toBe(true);
    expect(Date.parse(latest)).toBeGreaterThan(Date.parse(first));
  });
});

describe('systemTimers', () => {
  it('reads a monotonic clock in milliseconds', () => {
    const a = systemTimers.now();
    const b = systemTimers.now();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - performance.now())).toBeLessThan(1000);
  });

  it('fires a timer once it is due, and never a cleared one', async () => {
    const fired: string[] = [];
    const cleared = systemTimers.setTimeout(() => fired.push('cleared'), 1);
    systemTimers.clearTimeout(cleared);
    systemTimers.clearTimeout(undefined); // ignored
    const start = systemTimers.now();
    await new Promise<void>((resolve) => {
      systemTimers.setTimeout(() => {
        fired.push('due');
        resolve();
      }, 5);
    });
    expect(systemTimers.now() - start).toBeGreaterThanOrEqual(4);
    expect(fired).toEqual(['due']);
  });
});
