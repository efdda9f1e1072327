/**
 * Waiting in tests without measuring: a poll for state that sends no event, and a hang guard for
 * a promise. Both bounds only keep a broken build from hanging CI; neither is an assertion about
 * how fast anything is.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { settledWithin } from '../../src/io/clock.js';

/** Waits until `check` holds, polling every 10 ms (for server-side state that sends no event). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** `promise`, or a failure naming `what` if it has not settled after `ms` (a hang guard). */
export function withHangGuard<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return settledWithin(promise, ms, () => new Error(`${what} did not finish within ${ms} ms`));
}

/**
 * A list a test fills from callbacks (entries, errors, lines let out), and a wait, by event, for
 * it to hold `n` items — bounded by a hang guard naming `what`.
 */
export function collected<T>() {
  const items: T[] = [];
  const changed = new EventTarget();
  return {
    items,
    push(item: T): void {
      items.push(item);
      changed.dispatchEvent(new Event('change'));
    },
    until(n: number, what: string, ms = 5_000): Promise<void> {
      const reached = new Promise<void>((resolve) => {
        const check = () => {
          if (items.length < n) return;
          changed.removeEventListener('change', check);
          resolve();
        };
        changed.addEventListener('change', check);
        check();
      });
      return withHangGuard(reached, ms, what);
    },
  };
}
