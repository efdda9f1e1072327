import { scryptSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { HASHING_NICE, JOBS_PER_WORKER, ScryptPool } from '../../src/io/scrypt-pool.js';

const options = (N: number) => ({ N, r: 8, p: 1, maxmem: 128 * N * 8 * 2 + (1 << 20) });

/** The nice value of every thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadNiceValues(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('ScryptPool', () => {
  it('computes exactly what crypto.scryptSync computes, for many hashes at once', async () => {
    const pool = new ScryptPool(2);
    const jobs = Array.from({ length: 12 }, (_, i) => ({
      password: `pässword ${i}`,
      salt: Buffer.from(`salt-${i}`.padEnd(16, '.')),
      keylen: 32,
      options: options(1024),
    }));
    const keys = await Promise.all(jobs.map((job) => pool.hash(job)));
    keys.forEach((key, i) => {
      const { password, salt, keylen, options: o } = jobs[i]!;
      expect(key.equals(scryptSync(password, salt, keylen, o))).toBe(true);
    });
  });

  it('hashes on a thread that lowered its own priority, not on the event loop', async () => {
    const pool = new ScryptPool(1);
    const before = threadNiceValues().filter((nice) => nice === HASHING_NICE).length;
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    // While it hashes (tens of ms), the event loop keeps running…
    await pool.hash({ password: 'slow', salt: Buffer.alloc(16), keylen: 32, options: options(2 ** 15) });
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(5);
    // …and the worker that hashed it (idle now, kept for the next) runs at the lowered priority.
    expect(threadNiceValues().filter((nice) => nice === HASHING_NICE).length).toBe(before + 1);
  });

  it('answers in the order asked when one worker holds several jobs at once', async () => {
    const pool = new ScryptPool(1);
    const settled: number[] = [];
    const jobs = Array.from({ length: 3 * JOBS_PER_WORKER }, (_, i) =>
      pool.hash({ password: `p${i}`, salt: Buffer.alloc(16, i), keylen: 16, options: options(1024) }).then((key) => {
        settled.push(i);
        return key;
      }),
    );
    const keys = await Promise.all(jobs);
    expect(settled).toEqual(jobs.map((_, i) => i));
    keys.forEach((key, i) => expect(key.equals(scryptSync(`p${i}`, Buffer.alloc(16, i), 16, options(1024)))).toBe(true));
  });

  it('fails only the job that failed, not the ones queued behind it on the same worker', async () => {
    const pool = new ScryptPool(1);
    const good = (i: number) => pool.hash({ password: `g${i}`, salt: Buffer.alloc(16), keylen: 16, options: options(16) });
    const before = good(0);
    const bad = pool.hash({ password: 'x', salt: Buffer.alloc(16), keylen: 16, options: options(1000) });
    const after = [good(1), good(2)];
    await expect(bad).rejects.toThrow(/N|parameter/i);
    for (const [i, key] of (await Promise.all([before, ...after])).entries()) {
      expect(key.equals(scryptSync(`g${i}`, Buffer.alloc(16), 16, options(16)))).toBe(true);
    }
  });

  it('reports a failed hash and goes on hashing', async () => {
    const pool = new ScryptPool(1);
    // N must be a power of two: scrypt refuses it inside the worker.
    await expect(pool.hash({ password: 'x', salt: Buffer.alloc(16), keylen: 32, options: options(1000) })).rejects.toThrow(/N|parameter/i);
    const key = await pool.hash({ password: 'x', salt: Buffer.alloc(16), keylen: 32, options: options(16) });
    expect(key.equals(scryptSync('x', Buffer.alloc(16), 32, options(16)))).toBe(true);
  });
});

/** White-box access to the pool's workers: which jobs each holds is not visible from outside. */
interface PoolInternals {
  live: { inFlight: unknown[]; worker: Worker }[];
  waiting: unknown[];
}
const internals = (pool: ScryptPool) => pool as unknown as PoolInternals;
const job = (i: number, N = 1024) => ({ password: `p${i}`, salt: Buffer.alloc(16, i), keylen: 16, options: options(N) });
const expected = (i: number, N = 1024) => scryptSync(`p${i}`, Buffer.alloc(16, i), 16, options(N));
/** MessagePorts keeping the event loop alive: a worker that is ref'ed counts as one. */
const refedPorts = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;

describe('ScryptPool dispatch', () => {
  it('starts maxHashes workers at warmUp, once, and idle workers do not keep the process alive', async () => {
    const base = refedPorts();
    const pool = new ScryptPool(3);
    pool.warmUp();
    expect(internals(pool).live).toHaveLength(3);
    pool.warmUp();
    expect(internals(pool).live).toHaveLength(3);
    expect(refedPorts()).toBe(base);
    await Promise.all(internals(pool).live.map(({ worker }) => worker.terminate()));
  });

  it('reuses an idle worker instead of starting another', async () => {
    const pool = new ScryptPool(2);
    expect((await pool.hash(job(1))).equals(expected(1))).toBe(true);
    expect((await pool.hash(job(2))).equals(expected(2))).toBe(true);
    expect(internals(pool).live).toHaveLength(1);
  });

  it('spreads jobs over maxHashes workers, at most JOBS_PER_WORKER each, and keeps the rest waiting in order', async () => {
    const pool = new ScryptPool(2);
    const count = 2 * JOBS_PER_WORKER + 3;
    const hashes = Array.from({ length: count }, (_, i) => pool.hash(job(i)));
    const { live, waiting } = internals(pool);
    expect(live.map((w) => w.inFlight.length)).toEqual([JOBS_PER_WORKER, JOBS_PER_WORKER]);
    expect(waiting).toHaveLength(3);
    const keys = await Promise.all(hashes);
    keys.forEach((key, i) => expect(key.equals(expected(i)), `job ${i}`).toBe(true));
    expect(live).toHaveLength(2);
  });

  it('never runs more workers than maxHashes, however many jobs come', async () => {
    const before = threadNiceValues().filter((nice) => nice === HASHING_NICE).length;
    const pool = new ScryptPool(1);
    const keys = await Promise.all(Array.from({ length: 3 * JOBS_PER_WORKER + 1 }, (_, i) => pool.hash(job(i))));
    keys.forEach((key, i) => expect(key.equals(expected(i)), `job ${i}`).toBe(true));
    expect(internals(pool).live).toHaveLength(1);
    expect(threadNiceValues().filter((nice) => nice === HASHING_NICE).length).toBe(before + 1);
  });

  it('keeps the process alive while any job is in flight, and not once all are answered', async () => {
    const base = refedPorts();
    const pool = new ScryptPool(1);
    const first = pool.hash(job(1));
    const rest = [pool.hash(job(2, 4096)), pool.hash(job(3, 4096))];
    expect(refedPorts()).toBe(base + 1);
    await first;
    expect(refedPorts()).toBe(base + 1); // two still in flight
    await Promise.all(rest);
    expect(refedPorts()).toBe(base);
  });
});

describe('ScryptPool when a worker dies', () => {
  it('fails the jobs the worker held, hands the waiting ones to a new worker, and goes on hashing', async () => {
    const pool = new ScryptPool(1);
    const hashes = Array.from({ length: JOBS_PER_WORKER + 2 }, (_, i) => pool.hash(job(i, 4096)));
    const [dying] = internals(pool).live;
    void dying!.worker.terminate();
    const settled = await Promise.allSettled(hashes);
    for (const lost of settled.slice(0, JOBS_PER_WORKER)) {
      expect(lost.status).toBe('rejected');
      expect((lost as PromiseRejectedResult).reason).toMatchObject({ message: expect.stringMatching(/^the hashing worker exited \(code \d+\)$/) });
    }
    settled.slice(JOBS_PER_WORKER).forEach((kept, i) => {
      expect(kept.status).toBe('fulfilled');
      expect((kept as PromiseFulfilledResult<Buffer>).value.equals(expected(JOBS_PER_WORKER + i, 4096))).toBe(true);
    });
    expect(internals(pool).live).toHaveLength(1);
    expect(internals(pool).live[0]).not.toBe(dying);
    expect((await pool.hash(job(99))).equals(expected(99))).toBe(true);
  });

  it("fails a worker's jobs with its error, once, and a late answer from it changes nothing", async () => {
    const pool = new ScryptPool(2);
    const lost = pool.hash(job(1, 4096));
    const kept = pool.hash(job(2, 4096));
    const [failing, healthy] = internals(pool).live;
    const answered = new Promise((resolve) => failing!.worker.once('message', resolve));
    const crash = new Error('worker crashed');
    failing!.worker.emit('error', crash);
    await expect(lost).rejects.toBe(crash);
    expect(internals(pool).live).toEqual([healthy]);
    await answered; // the hash it was running still comes back
    expect(internals(pool).live).toEqual([healthy]);
    expect((await kept).equals(expected(2, 4096))).toBe(true);
    await failing!.worker.terminate();
    expect(internals(pool).live).toEqual([healthy]);
    expect((await pool.hash(job(3))).equals(expected(3))).toBe(true);
  });
});
