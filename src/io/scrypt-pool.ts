/**
 * Where password hashes are computed: a few worker threads running scrypt at a low CPU priority
 * (nice 10), so that a burst of sign-ins yields the CPU to chat delivery whenever both want it.
 *
 * Why not libuv's thread pool (`crypto.scrypt`): its threads run at the same priority as the
 * event loop, so hashing competed with chat delivery for the cores — 200 sign-ins at once
 * (N=16384, ~35 ms of CPU each) raised chat p99 2.9× on 2 cores (bench/, scenario 4, when the
 * server and the load generators shared both cores). A pool thread cannot be re-niced from
 * JavaScript; a worker thread can lower its own priority (Linux keeps the nice value per
 * thread). Nice 10, not 19: on a machine busy with other work, sign-ins still get about a tenth
 * of a core instead of next to nothing. What priority does not fix is a thread busy on a core
 * that other latency-bound processes use: in the bench that was the load generators' core, and
 * it slowed their timing more than the server (bench/README.md, "The login storm's cores"; with
 * the server on a core of its own, hashing beside its event loop, the storm costs 1.3–1.5×).
 *
 * At most `maxHashes` run at once (one core is always left for the event loop); each worker holds
 * a few jobs queued behind its current one (`JOBS_PER_WORKER`), the rest wait their turn here, in
 * order. Workers start at `warmUp()` or on first use; an idle one never keeps the process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** The nice value hashing threads give themselves (0 is normal, 19 the lowest priority). */
export const HASHING_NICE = 10;

/** The worker's whole program (CommonJS, evaluated): hash what it is sent, one at a time. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
try { require('node:os').setPriority(0, ${HASHING_NICE}); } catch {}
parentPort.on('message', ({ password, salt, keylen, options }) => {
  try {
    const key = scryptSync(password, Buffer.from(salt), keylen, options);
    parentPort.postMessage({ key });
  } catch (err) {
    parentPort.postMessage({ error: err && err.message ? err.message : String(err) });
  }
});
`;

export interface ScryptJob {
  password: string;
  salt: Uint8Array;
  keylen: number;
  options: { N: number; r: number; p: number; maxmem: number };
}

interface Pending {
  job: ScryptJob;
  resolve: (key: Buffer) => void;
  reject: (err: Error) => void;
}

/**
 * Jobs a worker holds at once: it hashes one at a time, in order, and the next ones wait in its
 * message queue — so it starts the next hash the moment one ends, instead of idling for a round
 * trip through the event loop (a busy one: at 1,700 cheap sign-ins a second that round trip, not
 * the hashing, set the pace — bench/, scenario 3). Few, so that little is queued where it can no
 * longer be reordered.
 */
export const JOBS_PER_WORKER = 4;

class HashWorker {
  private readonly worker: Worker;
  /** Jobs sent to the thread, oldest (the one hashing) first; results come back in this order. */
  readonly inFlight: Pending[] = [];
  dead = false;

  constructor(private readonly onFree: (worker: HashWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', (msg: { key?: Uint8Array; error?: string }) => {
      const done = this.inFlight.shift();
      if (this.inFlight.length === 0) this.worker.unref();
      if (done) {
        if (msg.key) done.resolve(Buffer.from(msg.key.buffer, msg.key.byteOffset, msg.key.byteLength));
        else done.reject(new Error(msg.error ?? 'scrypt failed'));
      }
      this.onFree(this);
    });
    // A worker that dies (out of memory, killed) fails its jobs; the pool makes a new one.
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the hashing worker exited (code ${code})`)));
    this.worker.unref(); // after the listeners: adding a 'message' listener refs the worker again
  }

  run(pending: Pending): void {
    this.inFlight.push(pending);
    this.worker.ref(); // a hash in progress keeps the process alive; an idle worker does not
    const { password, salt, keylen, options } = pending.job;
    this.worker.postMessage({ password, salt, keylen, options });
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    for (const lost of this.inFlight.splice(0)) lost.reject(err);
    this.onFree(this);
  }
}

export class ScryptPool {
  private readonly live: HashWorker[] = [];
  private readonly waiting: Pending[] = [];

  constructor(readonly maxHashes: number) {}

  /**
   * Starts every worker now (the chat server does at start-up): the first sign-in then does not
   * wait ~30 ms for a thread to boot, and the workers' memory is part of the idle server's.
   */
  warmUp(): void {
    while (this.live.length < this.maxHashes) this.spawn();
  }

  hash(job: ScryptJob): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /** Hands waiting jobs out while some worker has room (see `workerFor`). */
  private dispatch(): void {
    while (this.waiting.length > 0) {
      const worker = this.workerFor();
      if (!worker) return;
      worker.run(this.waiting.shift()!);
    }
  }

  /**
   * An idle worker if there is one; else a new one while there may be more; else the least busy
   * one with room in its queue; else none (every queue full: the job waits here).
   */
  private workerFor(): HashWorker | undefined {
    let leastBusy: HashWorker | undefined;
    for (const worker of this.live) {
      if (!leastBusy || worker.inFlight.length < leastBusy.inFlight.length) leastBusy = worker;
    }
    if (leastBusy?.inFlight.length === 0) return leastBusy;
    if (this.live.length < this.maxHashes) return this.spawn();
    return leastBusy && leastBusy.inFlight.length < JOBS_PER_WORKER ? leastBusy : undefined;
  }

  private spawn(): HashWorker {
    const worker = new HashWorker((w) => this.workerFree(w));
    this.live.push(worker);
    return worker;
  }

  private workerFree(worker: HashWorker): void {
    if (worker.dead) {
      const at = this.live.indexOf(worker);
      if (at >= 0) this.live.splice(at, 1);
    }
    this.dispatch();
  }
}

/** One core for the event loop; the rest may hash. */
export const scryptPool = new ScryptPool(Math.max(1, availableParallelism() - 1));
