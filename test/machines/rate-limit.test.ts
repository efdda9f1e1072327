/**
 * The token bucket behind the input rate limit: pure functions of a bucket, the limit and a time.
 */
import { describe, expect, it } from 'vitest';
import { fullBucket, takeToken, type TokenBucket } from '../../src/machines/rate-limit.js';

const LIMIT = { perSecond: 20, burst: 40 };

/** More tokens than any bucket here can hold: taking this many at one instant means none is ever refused. */
const MAX_TAKES = 1000;

/** Takes tokens at `now` until one is refused; returns how many went and the refusal. */
function takeAll(bucket: TokenBucket, now: number) {
  for (let allowed = 0; allowed < MAX_TAKES; allowed++) {
    const taken = takeToken(bucket, LIMIT, now);
    bucket = taken.bucket;
    if (!taken.allowed) return { allowed, waitMs: taken.waitMs, bucket };
  }
  throw new Error(`takeToken allowed ${MAX_TAKES} lines at one instant with a burst of ${LIMIT.burst}: it never refuses`);
}

describe('takeToken', () => {
  it('lets a whole burst through at once, then refuses with the time until the next token', () => {
    const { allowed, waitMs } = takeAll(fullBucket(LIMIT, 0), 0);

    expect(allowed).toBe(40);
    expect(waitMs).toBe(50); // 20 a second: one token every 50 ms
  });

  it('counts a part-refilled token: half a token 25 ms after the burst, so 25 ms more to wait', () => {
    const { bucket } = takeAll(fullBucket(LIMIT, 0), 0);

    expect(takeToken(bucket, LIMIT, 25)).toMatchObject({ allowed: false, waitMs: 25 });
  });

  it('with no limit (0 a second) lets every line through and reports the bucket full', () => {
    const unlimited = { perSecond: 0, burst: 0 };
    const bucket = fullBucket(unlimited, 0);
    for (let i = 0; i < 100; i++) expect(takeToken(bucket, unlimited, 0)).toMatchObject({ allowed: true, wasFull: true });
  });

  it('refills at the rate: after 1 s of quiet, 20 more lines may go', () => {
    const drained = takeAll(fullBucket(LIMIT, 0), 0).bucket;

    expect(takeAll(drained, 1000).allowed).toBe(20);
  });

  it('never refills beyond the burst', () => {
    const drained = takeAll(fullBucket(LIMIT, 0), 0).bucket;

    expect(takeAll(drained, 60_000).allowed).toBe(40);
  });

  it('says whether the bucket was full: the client had slowed down completely', () => {
    const first = takeToken(fullBucket(LIMIT, 0), LIMIT, 0);
    expect(first).toMatchObject({ allowed: true, wasFull: true });
    const second = takeToken(first.bucket, LIMIT, 0);
    expect(second).toMatchObject({ allowed: true, wasFull: false });
    expect(takeToken(second.bucket, LIMIT, 10_000)).toMatchObject({ allowed: true, wasFull: true });
  });

  it('refuses nothing when the limit is off (0 per second)', () => {
    const off = { perSecond: 0, burst: 1 };
    let bucket = fullBucket(off, 0);
    for (let i = 0; i < 1000; i++) {
      const taken = takeToken(bucket, off, 0);
      expect(taken.allowed).toBe(true);
      bucket = taken.bucket;
    }
  });

  it('treats a clock that goes backwards as no time passing', () => {
    const drained = takeAll(fullBucket(LIMIT, 1000), 1000).bucket;

    const taken = takeToken(drained, LIMIT, 0);

    expect(taken).toMatchObject({ allowed: false, waitMs: 50 });
  });
});
