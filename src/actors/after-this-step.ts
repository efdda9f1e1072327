/**
 * Runs `fn` once the current actor step is over. A custom action that sends to another actor
 * synchronously makes that actor run its step *inside* ours (xstate warns about it in dev
 * builds); deferring to a microtask keeps each actor's steps separate and in order.
 */
export function afterThisStep(fn: () => void): void {
  queueMicrotask(fn);
}
