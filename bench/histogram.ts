/**
 * A latency histogram in microseconds with ~0.8 % resolution (log-linear buckets, 128 per power
 * of two), cheap enough to record every delivery and small enough to send between processes.
 */
const SUB = 128;
const SUB_BITS = 7;
export const BUCKETS = 64 * SUB;

export class Histogram {
  readonly counts: Float64Array;
  count = 0;
  max = 0;
  min = Number.POSITIVE_INFINITY;
  sum = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(BUCKETS);
    if (counts) {
      this.counts.set(counts);
      for (let i = 0; i < BUCKETS; i++) this.count += this.counts[i];
    }
  }

  record(micros: number): void {
    const v = micros < 0 ? 0 : Math.floor(micros);
    this.counts[bucketOf(v)]++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (v < this.min) this.min = v;
  }

  merge(other: SerializedHistogram): void {
    const counts = other.counts;
    for (let i = 0; i < counts.length; i++) if (counts[i]) this.counts[i] += counts[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
    if (other.count > 0 && other.min < this.min) this.min = other.min;
  }

  /** The value at quantile q (0..1), in microseconds; the exact max for q = 1. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    if (q >= 1) return this.max;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, valueOf(i));
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  /** Sparse form (only non-empty buckets) for IPC and JSON. */
  serialize(): SerializedHistogram {
    const counts: number[] = [];
    let last = -1;
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) last = i;
    for (let i = 0; i <= last; i++) counts.push(this.counts[i]);
    return { counts, count: this.count, max: this.max, min: this.min, sum: this.sum };
  }
}

export interface SerializedHistogram {
  counts: number[];
  count: number;
  max: number;
  min: number;
  sum: number;
}

export function bucketOf(v: number): number {
  if (v < SUB) return v;
  const v32 = v >= 2 ** 31 ? 2 ** 31 - 1 : v;
  const e = 31 - Math.clz32(v32); // floor(log2 v) >= 7
  const m = v32 >>> (e - SUB_BITS); // 128..255
  return (e - SUB_BITS + 1) * SUB + (m - SUB);
}

/** The middle of a bucket's range. */
export function valueOf(index: number): number {
  if (index < SUB) return index;
  const k = Math.floor(index / SUB);
  const m = SUB + (index % SUB);
  const width = 2 ** (k - 1);
  return m * width + (width - 1) / 2;
}
