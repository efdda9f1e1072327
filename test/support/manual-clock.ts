/**
 * Test helper: a clock that stands still until the test moves it (the server's `timers` seam,
 * src/io/clock.ts). Timers fire inside `advance`, in the order they are due, each with `now()` at
 * its due time — so "not yet" is checked at 1 ms before a deadline and "now" at the deadline,
 * with no wall-clock waits in between.
 */
import type { Timer, Timers } from '../../src/io/clock.js';

interface Pending {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
  /** The delay it was set with. */
  readonly ms: number;
}

export class ManualClock implements Timers {
  private time = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly watchers = new Set<() => void>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const timer = { id: this.nextId++, dueAt: this.time + Math.max(0, ms), callback, ms };
    this.pending.set(timer.id, timer);
    for (const watch of this.watchers) watch();
    return { id: timer.id };
  }

  clearTimeout(timer: Timer | undefined): void {
    if (timer) this.pending.delete((timer as { id: number }).id);
  }

  /** The delays (as set) of the timers still pending, soonest first. */
  pendingDelays(): number[] {
    return [...this.pending.values()].sort((a, b) => a.dueAt - b.dueAt).map((t) => t.ms);
  }

  /**
   * Moves time on by `ms`, firing every timer due by then — including ones those timers set —
   * in due order. Bounded: a timer that keeps setting a 0 ms timer is an error, not a hang.
   */
  advance(ms: number): void {
    const until = this.time + ms;
    for (let fired = 0; ; fired++) {
      if (fired > 100_000) throw new Error(`ManualClock: over 100,000 timers fired within ${ms} ms`);
      let next: Pending | undefined;
      for (const timer of this.pending.values()) if (timer.dueAt <= until && (!next || timer.dueAt < next.dueAt)) next = timer;
      if (!next) break;
      this.pending.delete(next.id);
      this.time = next.dueAt;
      next.callback();
    }
    this.time = until;
  }

  /**
   * Resolves once a timer set with delay `ms` is pending (the code under test has reached the
   * point where it waits); fails after `hangGuardMs` of real time — a hang guard only.
   */
  whenPending(ms: number, hangGuardMs = 5000): Promise<void> {
    const has = () => [...this.pending.values()].some((t) => t.ms === ms);
    if (has()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const watch = () => {
        if (!has()) return;
        this.watchers.delete(watch);
        clearTimeout(guard);
        resolve();
      };
      const guard = setTimeout(() => {
        this.watchers.delete(watch);
        reject(new Error(`no ${ms} ms timer was set within ${hangGuardMs} ms; pending: ${this.pendingDelays().join(', ') || 'none'}`));
      }, hangGuardMs);
      this.watchers.add(watch);
    });
  }
}
