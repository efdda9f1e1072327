/**
 * The data plane of one TCP connection: encoding lines, per-turn write batching, slow-consumer
 * protection and an idempotent close. Machines decide *what* to send; this moves the bytes.
 *
 * Batching: the first write to a socket in an event-loop turn corks it and the turn's end
 * uncorks every corked socket, so a burst of broadcasts costs one writev per socket instead of
 * one syscall per message.
 */
import type { Socket } from 'node:net';

export const LINE_END = '\r\n';

/** Encodes lines as the protocol sends them (UTF-8, CRLF after each). */
export function encodeLines(lines: readonly string[]): Buffer {
  return Buffer.from(lines.join(LINE_END) + LINE_END, 'utf8');
}

const corked = new Set<Socket>();
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

export class ClientLink {
  private closing = false;
  /** Deliveries held back until the client has been welcomed (see `open`). */
  private held: Buffer[] | undefined;

  constructor(
    readonly connectionId: string,
    readonly socket: Socket,
    readonly remoteAddress: string,
    private readonly maxSendBufferBytes: number,
    private readonly onSlowConsumer: (link: ClientLink) => void,
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
    this.closing = true;
    this.socket.end();
    // A client that never reads would keep the socket half-open forever.
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private write(bytes: Buffer): void {
    if (this.isClosing) return;
    if (this.socket.writableLength + bytes.length > this.maxSendBufferBytes) {
      this.onSlowConsumer(this);
      return;
    }
    if (!corked.has(this.socket)) {
      this.socket.cork();
      corked.add(this.socket);
      if (!uncorkScheduled) {
        uncorkScheduled = true;
        setImmediate(uncorkAll);
      }
    }
    this.socket.write(bytes);
  }
}
