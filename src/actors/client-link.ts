/**
 * The data plane of one TCP connection: encoding lines, per-turn write batching, slow-consumer
 * protection and an idempotent close. Machines decide *what* to send; this moves the bytes.
 *
 * Batching: what a link is given in one event-loop turn is kept in an array and written, as one
 * buffer, when the turn ends — a burst of broadcasts costs one write per socket instead of one
 * syscall per message. (Corking the socket instead costs a stream write — an object, a callback,
 * a writev slot — per message: at 1,000 clients that was 3–4× the CPU per delivery; see bench/.)
 */
import type { Transport } from '../io/transport.js';

export const LINE_END = '\r\n';

/** Encodes lines as the protocol sends them (UTF-8, CRLF after each). */
export function encodeLines(lines: readonly string[]): Buffer {
  return Buffer.from(lines.join(LINE_END) + LINE_END, 'utf8');
}

/**
 * Whatever the reason, a link never holds more than this many times its bound (see `write`): a
 * hard cap on the memory one connection's output can take.
 */
const HARD_LIMIT_FACTOR = 4;

/** Links with output from this turn, each once, in the order they were first written to. */
let unflushed: ClientLink[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  const links = unflushed;
  unflushed = [];
  for (const link of links) link.flush();
  lastJoined = undefined;
}

/**
 * The buffers last joined by a flush this turn, and the result. In a busy room nearly every
 * member got the very same broadcasts in the same order (all but their own messages), so the
 * next link usually needs exactly this buffer: shared, it is copied once per turn instead of
 * once per member — less copying, and a thousand fewer buffers for the GC (bench/, scenario 1).
 */
let lastJoined: { parts: Buffer[]; bytes: Buffer } | undefined;

function join(parts: Buffer[], totalBytes: number): Buffer {
  if (parts.length === 1) return parts[0]!;
  const last = lastJoined;
  if (last && last.parts.length === parts.length && last.bytes.length === totalBytes) {
    let same = true;
    for (let i = 0; i < parts.length && same; i++) same = parts[i] === last.parts[i];
    if (same) return last.bytes;
  }
  const bytes = Buffer.concat(parts, totalBytes);
  lastJoined = { parts, bytes };
  return bytes;
}

export class ClientLink {
  private closing = false;
  /** Set once the link reported its client as a slow consumer: nothing more is written. */
  private slowReported = false;
  /** Deliveries held back until the client has been welcomed (see `open`). */
  private held: Buffer[] | undefined;
  /** What this turn wrote, not yet handed to the socket (see `flush`). */
  private out: Buffer[] | undefined;
  private outBytes = 0;
  /** What the socket held unread when this turn's first write came (see `write`). */
  private unreadAtTurnStart = 0;

  constructor(
    readonly connectionId: string,
    readonly socket: Transport,
    readonly remoteAddress: string,
    private readonly maxSendBufferBytes: number,
    /** Told once, with the bytes left unread; the link writes nothing more after it. */
    private readonly onSlowConsumer: (link: ClientLink, unreadBytes: number) => void,
  ) {}

  get isClosing(): boolean {
    return this.closing || this.socket.destroyed;
  }

  sendLines(lines: readonly string[]): void {
    if (lines.length > 0) this.write(encodeLines(lines));
  }

  /**
   * A broadcast or notice from the room. While `holdDeliveries()` is in force they are queued,
   * so a user who has just joined sees the welcome and history before live messages.
   */
  deliver(bytes: Buffer): void {
    if (this.held) this.held.push(bytes);
    else this.write(bytes);
  }

  get isHoldingDeliveries(): boolean {
    return this.held !== undefined;
  }

  holdDeliveries(): void {
    this.held ??= [];
  }

  releaseDeliveries(): void {
    const held = this.held;
    this.held = undefined;
    for (const bytes of held ?? []) this.write(bytes);
  }

  /** Sends what is queued, then closes. Safe to call twice. */
  close(): void {
    if (this.closing) return;
    this.flush(); // what this turn wrote goes out before the end
    this.closing = true;
    this.socket.end();
    // A client that never reads would keep the socket half-open forever.
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  destroy(): void {
    this.closing = true;
    this.out = undefined;
    this.socket.destroy();
  }

  /** Hands what this turn wrote to the socket as one buffer. Called when the turn ends. */
  flush(): void {
    const out = this.out;
    if (out === undefined) return;
    this.out = undefined;
    const bytes = join(out, this.outBytes);
    this.outBytes = 0;
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Drops this write and every later one, and reports the slow consumer, once: its session decides the rest. */
  private slow(unreadBytes: number): void {
    if (this.slowReported) return;
    this.slowReported = true;
    this.onSlowConsumer(this, unreadBytes);
  }

  /**
   * A slow consumer leaves what *earlier* turns handed to the socket unread beyond the bound.
   * This turn's output does not count towards that: it has not even been offered to the kernel
   * yet, and a burst bigger than the bound (one group commit of many long messages) would
   * otherwise disconnect clients that read perfectly well. The hard cap bounds memory anyway.
   *
   * The socket is asked only at a turn's first write: what it holds unread cannot grow before
   * this turn's flush (nothing else writes to it), so later writes of the turn — one per
   * broadcast, the hot loop of a fan-out — compare against that figure, an upper bound.
   */
  private write(bytes: Buffer): void {
    if (this.closing || this.slowReported) return;
    if (this.out !== undefined) {
      this.outBytes += bytes.length;
      if (this.unreadAtTurnStart + this.outBytes > HARD_LIMIT_FACTOR * this.maxSendBufferBytes) {
        this.outBytes -= bytes.length;
        return this.slow(this.unreadAtTurnStart + this.outBytes);
      }
      this.out.push(bytes);
      return;
    }
    if (this.socket.destroyed) return;
    const unread = this.socket.writableLength;
    if (unread > this.maxSendBufferBytes || unread + bytes.length > HARD_LIMIT_FACTOR * this.maxSendBufferBytes) {
      return this.slow(unread);
    }
    this.unreadAtTurnStart = unread;
    this.out = [bytes];
    this.outBytes = bytes.length;
    unflushed.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }
}
