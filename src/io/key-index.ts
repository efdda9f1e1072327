/**
 * A map from keyed hashes — the 64-hex-digit HMAC-SHA256 values clients.csv indexes its users by
 * (`login_key`, `skeleton_key`) — to values, that holds each key as its 32 bytes in one typed
 * array instead of as a string: start-up indexes 100,000 users without making 200,000 strings
 * for the garbage collector to copy, and reads the keys straight from the file's bytes
 * (docs/performance.md, S5).
 *
 * Open addressing with linear probing. The slot a key starts from is its first four bytes: the
 * keys are HMACs under the server's secret key, evenly spread, and nobody without the key can
 * choose ones that collide.
 */

const KEY_BYTES = 32;
const EMPTY = 0;
const FULL = 1;
/** A deleted key's slot: probing goes on past it. */
const DELETED = 2;

export class KeyIndex<V> {
  private keys: Uint8Array;
  private states: Uint8Array;
  private values: (V | undefined)[];
  /** Slots in use, live or deleted: what makes probing long. */
  private used = 0;
  private live = 0;
  private readonly scratch = new Uint8Array(KEY_BYTES);

  constructor(private capacity = 1024) {
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`KeyIndex: capacity must be a power of two, got ${capacity}`);
    this.keys = new Uint8Array(capacity * KEY_BYTES);
    this.states = new Uint8Array(capacity);
    this.values = new Array<V | undefined>(capacity);
  }

  get size(): number {
    return this.live;
  }

  has(key: string): boolean {
    return this.find(this.parse(key)) >= 0;
  }

  get(key: string): V | undefined {
    const slot = this.find(this.parse(key));
    return slot >= 0 ? this.values[slot] : undefined;
  }

  set(key: string, value: V): void {
    this.put(this.parse(key), value);
  }

  /**
   * Sets the key held as 64 hex digits at bytes [start, start + 64) of `input` (a line of the
   * file), unless it is there already; says whether it was added. The caller has checked the digits.
   */
  addAt(input: Uint8Array, start: number, value: V): boolean {
    const key = this.scratch;
    for (let i = 0, at = start; i < KEY_BYTES; i++, at += 2) key[i] = (HEX[input[at]!]! << 4) | HEX[input[at + 1]!]!;
    if (this.find(key) >= 0) return false;
    this.insert(key, value);
    return true;
  }

  delete(key: string): boolean {
    const slot = this.find(this.parse(key));
    if (slot < 0) return false;
    this.states[slot] = DELETED;
    this.values[slot] = undefined;
    this.live--;
    return true;
  }

  clear(): void {
    this.states.fill(EMPTY);
    this.values.fill(undefined);
    this.used = 0;
    this.live = 0;
  }

  /** The 64-hex-digit `key` as bytes, in the scratch array. */
  private parse(key: string): Uint8Array {
    if (key.length !== 2 * KEY_BYTES) throw new TypeError(`KeyIndex: a key is ${2 * KEY_BYTES} hex digits, got ${key.length} characters`);
    const bytes = this.scratch;
    for (let i = 0; i < KEY_BYTES; i++) {
      const high = HEX[key.charCodeAt(2 * i)] ?? -1;
      const low = HEX[key.charCodeAt(2 * i + 1)] ?? -1;
      if (high < 0 || low < 0) throw new TypeError('KeyIndex: a key is lowercase hex digits');
      bytes[i] = (high << 4) | low;
    }
    return bytes;
  }

  /** The slot holding `key`, or -1. */
  private find(key: Uint8Array): number {
    const { states, keys } = this;
    const mask = this.capacity - 1;
    for (let slot = startSlot(key) & mask; ; slot = (slot + 1) & mask) {
      const state = states[slot];
      if (state === EMPTY) return -1;
      if (state === FULL) {
        const at = slot * KEY_BYTES;
        let i = 0;
        while (i < KEY_BYTES && keys[at + i] === key[i]) i++;
        if (i === KEY_BYTES) return slot;
      }
    }
  }

  private put(key: Uint8Array, value: V): void {
    const existing = this.find(key);
    if (existing >= 0) this.values[existing] = value;
    else this.insert(key, value);
  }

  /** Adds `key`, known not to be here. */
  private insert(key: Uint8Array, value: V): void {
    // At most half the slots in use, so that a probe stays short.
    if (2 * (this.used + 1) > this.capacity) this.grow();
    const { states, keys } = this;
    const mask = this.capacity - 1;
    let slot = startSlot(key) & mask;
    while (states[slot] === FULL) slot = (slot + 1) & mask;
    if (states[slot] === EMPTY) this.used++;
    for (let i = 0, at = slot * KEY_BYTES; i < KEY_BYTES; i++) keys[at + i] = key[i]!;
    states[slot] = FULL;
    this.values[slot] = value;
    this.live++;
  }

  /** Twice the slots (or as many, when deleted slots are most of the use), live keys only. */
  private grow(): void {
    const { keys, states, values, capacity } = this;
    this.capacity = 2 * this.live + 2 > capacity ? 2 * capacity : capacity;
    this.keys = new Uint8Array(this.capacity * KEY_BYTES);
    this.states = new Uint8Array(this.capacity);
    this.values = new Array<V | undefined>(this.capacity);
    this.used = 0;
    this.live = 0;
    for (let slot = 0; slot < capacity; slot++) {
      if (states[slot] === FULL) this.insert(keys.subarray(slot * KEY_BYTES, (slot + 1) * KEY_BYTES), values[slot] as V);
    }
  }
}

function startSlot(key: Uint8Array): number {
  return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
}

/** The value of each lowercase hex digit by its character code; -1 for any other code below 256. */
const HEX = new Int8Array(256).fill(-1);
for (let digit = 0; digit < 16; digit++) HEX['0123456789abcdef'.charCodeAt(digit)] = digit;
