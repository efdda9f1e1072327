/**
 * Waiting in tests without measuring: a poll for state that sends no event, and a hang guard for
 * a promise. Both bounds only keep a broken build from hanging CI; neither is an assertion about
 * how fast anything is.
 */
import { setTimeout as sleep } from 'node:timers/promises';

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
  let guard: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    guard = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(guard));
}
