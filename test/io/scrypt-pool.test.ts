import { scryptSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
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
