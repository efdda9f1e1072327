/**
 * The wall clock as statechat writes it: ISO 8601 in UTC, millisecond precision.
 *
 * Formatted once per millisecond: every chat message, history record and log line carries a
 * timestamp, many share a millisecond at full load, and `toISOString` cost ~0.5 µs each
 * (bench/, scenario 1). Sharing the very string also lets the history store skip re-validating it.
 */
let formattedAt = Number.NaN;
let formatted = '';

export function isoNow(): string {
  const now = Date.now();
  if (now !== formattedAt) {
    formattedAt = now;
    formatted = new Date(now).toISOString();
  }
  return formatted;
}

/** A pending timer of `Timers` (opaque: only `clearTimeout` looks inside). */
export type Timer = object;

/**
 * Time as the server's own timers see it: the login timeout, the rate limit's tokens, the login
 * throttle's delays. A seam: the server uses the system's, a test passes a clock it advances
 * itself, so that "not yet" and "now" are steps it takes rather than waits it measures.
 */
export interface Timers {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Calls `callback` once, `ms` from now. */
  setTimeout(callback: () => void, ms: number): Timer;
  /** Cancels a pending timer; a fired, cancelled or undefined one is ignored. */
  clearTimeout(timer: Timer | undefined): void;
}

export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};

/** `promise`, or a rejection with `late()` once `ms` have passed without its answer (the timer is cleared either way). */
export function settledWithin<T>(promise: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
  });
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer));
}
