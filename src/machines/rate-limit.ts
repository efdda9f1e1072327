/**
 * The input rate limit as a pure token bucket: a connection may send `burst` lines at once, and
 * `perSecond` lines a second on average after that. The decision ("this line may go now" or
 * "wait this long") is made here, from a time the caller passes in; the clock, the timer and the
 * socket (which is not read while a line waits) belong to the actor (src/actors/line-pump.ts).
 */

export interface RateLimit {
  /** Tokens added per second; 0 means no limit. */
  readonly perSecond: number;
  /** The bucket's size: lines that may go at once. At least 1. */
  readonly burst: number;
}

export interface TokenBucket {
  /** Tokens available at `at` (fractional between refills). */
  readonly tokens: number;
  /** When `tokens` was computed, in ms on the caller's monotonic clock. */
  readonly at: number;
}

export type TakeResult =
  /** The line may go; `bucket` is the bucket after paying for it. */
  | { readonly allowed: true; readonly bucket: TokenBucket; readonly wasFull: boolean }
  /** Too fast: nothing was taken; try again in `waitMs`. */
  | { readonly allowed: false; readonly bucket: TokenBucket; readonly waitMs: number };

export function isLimited(limit: RateLimit): boolean {
  return limit.perSecond > 0;
}

/** A full bucket at `now`: a new connection may send a whole burst at once. */
export function fullBucket(limit: RateLimit, now: number): TokenBucket {
  return { tokens: limit.burst, at: now };
}

/** The bucket refilled up to `now` (time never runs backwards here, whatever the clock says). */
export function refill(bucket: TokenBucket, limit: RateLimit, now: number): TokenBucket {
  const elapsed = Math.max(0, now - bucket.at);
  return { tokens: Math.min(limit.burst, bucket.tokens + (elapsed * limit.perSecond) / 1000), at: Math.max(now, bucket.at) };
}

/**
 * One line at `now`: allowed (and paid for) or refused with how long until a token is there.
 * `wasFull` says the bucket had refilled completely — the client had slowed down for a while, so
 * a later refusal starts a new flood (worth telling the client about again).
 */
export function takeToken(bucket: TokenBucket, limit: RateLimit, now: number): TakeResult {
  if (!isLimited(limit)) return { allowed: true, bucket, wasFull: true };
  const current = refill(bucket, limit, now);
  if (current.tokens >= 1) {
    return { allowed: true, bucket: { tokens: current.tokens - 1, at: current.at }, wasFull: current.tokens >= limit.burst };
  }
  return { allowed: false, bucket: current, waitMs: Math.ceil(((1 - current.tokens) * 1000) / limit.perSecond) };
}
