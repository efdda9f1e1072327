/**
 * LoginThrottle with an injected clock: vitest's fake timers drive both `Date.now` (the
 * throttle's `now` here) and the timers it waits on, so a 30 s delay costs nothing.
 * The integration suite checks the same delay end to end, on the server's injected clock
 * (test/integration/chat.test.ts: the next attempt after three wrong passwords waits 1 s).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoginThrottle, type LoginThrottleOptions } from '../../src/actors/login-throttle.js';
import { systemTimers } from '../../src/io/clock.js';

const OPTIONS: LoginThrottleOptions = {
  freeFailures: 3,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  forgetAfterMs: 15 * 60_000,
  maxTracked: 100,
};

function makeThrottle(options: Partial<LoginThrottleOptions> = {}): LoginThrottle {
  return new LoginThrottle({ ...OPTIONS, ...options }, { ...systemTimers, now: () => Date.now() });
}

/** Resolves with how long (fake) `waitTurn` took. */
async function timeTurn(throttle: LoginThrottle, key: string): Promise<number> {
  const startedAt = Date.now();
  const turn = throttle.waitTurn(key);
  await vi.runAllTimersAsync();
  await turn;
  return Date.now() - startedAt;
}

function fail(throttle: LoginThrottle, key: string, times: number): void {
  for (let i = 0; i < times; i++) throttle.recordFailure(key);
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LoginThrottle', () => {
  it('lets attempts through at once while a login has fewer failures than the free ones', async () => {
    const throttle = makeThrottle();
    fail(throttle, 'alice', 2);

    expect(throttle.delayFor('alice')).toBe(0);
    expect(await timeTurn(throttle, 'alice')).toBe(0);
  });

  it('delays the next attempt by 1 s after the third failure, doubling with each further one up to 30 s', () => {
    const throttle = makeThrottle();
    const delays: number[] = [];

    for (let failures = 3; failures <= 10; failures++) {
      fail(throttle, 'alice', failures === 3 ? 3 : 1);
      delays.push(throttle.delayFor('alice'));
    }

    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('makes waitTurn wait the delay', async () => {
    const throttle = makeThrottle();
    fail(throttle, 'alice', 4);

    expect(await timeTurn(throttle, 'alice')).toBe(2000);
  });

  it('spaces concurrent attempts on one login one delay apart', async () => {
    const throttle = makeThrottle();
    fail(throttle, 'alice', 3);
    const startedAt = Date.now();
    const doneAt: number[] = [];

    const turns = [1, 2, 3].map(() => throttle.waitTurn('alice').then(() => doneAt.push(Date.now() - startedAt)));
    await vi.runAllTimersAsync();
    await Promise.all(turns);

    expect(doneAt).toEqual([1000, 2000, 3000]);
  });

  it('keeps logins apart: failures on one do not slow another', async () => {
    const throttle = makeThrottle();
    fail(throttle, 'alice', 5);

    expect(throttle.delayFor('bob')).toBe(0);
    expect(await timeTurn(throttle, 'bob')).toBe(0);
  });

  it('forgets the failures after a correct password', () => {
    const throttle = makeThrottle();
    fail(throttle, 'alice', 5);

    throttle.recordSuccess('alice');

    expect(throttle.delayFor('alice')).toBe(0);
  });

  it('forgets the failures after forgetAfterMs of quiet', () => {
    const throttle = makeThrottle();
    fail(throttle, 'alice', 5);

    vi.advanceTimersByTime(OPTIONS.forgetAfterMs + 1);

    expect(throttle.delayFor('alice')).toBe(0);
  });

  it('rejects a wait whose signal aborts (the client went away)', async () => {
    const throttle = makeThrottle();
    fail(throttle, 'alice', 3);
    const abort = new AbortController();

    const turn = throttle.waitTurn('alice', abort.signal);
    abort.abort(new Error('client closed'));

    await expect(turn).rejects.toThrow('client closed');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tracks at most maxTracked logins, forgetting the oldest first', () => {
    const throttle = makeThrottle({ maxTracked: 2 });
    fail(throttle, 'alice', 3);
    fail(throttle, 'bob', 3);

    fail(throttle, 'carol', 3);

    expect([throttle.delayFor('alice'), throttle.delayFor('bob'), throttle.delayFor('carol')]).toEqual([0, 1000, 1000]);
  });
});
