/**
 * One inspector page's share of the stream: a batch becomes one WebSocket frame (a JSON array
 * of messages). A page that does not keep up is dropped, not buffered for: when more than
 * `maxBufferedBytes` it has not read yet are waiting in the socket, the socket is terminated —
 * the page reconnects and starts over from the live state, and the server's memory stays bounded.
 */
import type { InspectionSink } from './inspection-hub.js';

/** The part of a `ws` WebSocket the sink uses (a fake in tests). */
export interface PageSocket {
  readonly readyState: number;
  /** Bytes queued in the socket and not yet sent. */
  readonly bufferedAmount: number;
  send(data: string): void;
  terminate(): void;
}

const OPEN = 1;

/** A page more than this behind is dropped. */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 << 20;

export class PageSink implements InspectionSink {
  private dropped = false;

  constructor(
    private readonly socket: PageSocket,
    private readonly maxBufferedBytes: number,
    /** Called once when the page is dropped for being slow. */
    private readonly onDropped: (sink: PageSink) => void,
  ) {}

  deliver(batch: readonly string[]): void {
    if (this.dropped || this.socket.readyState !== OPEN) return;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.dropped = true;
      this.socket.terminate();
      this.onDropped(this);
      return;
    }
    this.socket.send(`[${batch.join(',')}]`);
  }
}
