/**
 * Slows brute force down per login: once a login has collected `freeFailures` wrong passwords,
 * every further attempt on it waits a delay that doubles with each failure (capped), and
 * attempts on it are spaced one delay apart however many connections make them. A correct
 * password resets the count; failures are forgotten after `forgetAfterMs` of quiet.
 */
import { systemTimers, type Timers } from '../io/clock.js';

export interface LoginThrottleOptions {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetAfterMs: number;
  /** Bounds memory under a spray of random logins: the oldest entries go first. */
  maxTracked: number;
}

interface Failures {
  count: number;
  lastAt: number;
  /** The earliest time the next attempt may be checked. */
  nextSlotAt: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();

  constructor(
    private readonly options: LoginThrottleOptions = {
      freeFailures: 3,
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      forgetAfterMs: 15 * 60_000,
      maxTracked: 100_000,
    },
    private readonly timers: Timers = systemTimers,
  ) {}

  private now(): number {
    return this.timers.now();
  }

  /** The delay the next attempt on `key` waits, in ms (0 while under the free failures). */
  delayFor(key: string): number {
    const entry = this.current(key);
    if (!entry || entry.count < this.options.freeFailures) return 0;
    const doublings = entry.count - this.options.freeFailures;
    return Math.min(this.options.baseDelayMs * 2 ** Math.min(doublings, 30), this.options.maxDelayMs);
  }

  /** Resolves when an attempt on `key` may be checked; rejects if `signal` aborts first. */
  async waitTurn(key: string, signal?: AbortSignal): Promise<void> {
    const delay = this.delayFor(key);
    if (delay === 0) return;
    const entry = this.failures.get(key)!;
    const now = this.now();
    const slot = Math.max(now, entry.nextSlotAt);
    entry.nextSlotAt = slot + delay;
    const wait = slot + delay - now;
    await new Promise<void>((resolve, reject) => {
      const timer = this.timers.setTimeout(resolve, wait);
      signal?.addEventListener('abort', () => {
        this.timers.clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    });
  }

  recordFailure(key: string): void {
    const now = this.now();
    const entry = this.current(key) ?? { count: 0, lastAt: now, nextSlotAt: now };
    entry.count++;
    entry.lastAt = now;
    // Re-insert so the Map's order stays oldest-first for eviction.
    this.failures.delete(key);
    this.failures.set(key, entry);
    if (this.failures.size > this.options.maxTracked) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  recordSuccess(key: string): void {
    this.failures.delete(key);
  }

  private current(key: string): Failures | undefined {
    const entry = this.failures.get(key);
    if (entry && this.now() - entry.lastAt > this.options.forgetAfterMs) {
      this.failures.delete(key);
      return undefined;
    }
    return entry;
  }
}
