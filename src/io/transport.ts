/**
 * The transport seam: what the actors need of a client's connection and of what accepts them,
 * whatever carries the bytes. TCP and TLS implement it in tcp-transport.ts, the one module that
 * touches `node:net` and `node:tls`; a WebSocket transport would implement these interfaces and
 * no machine or actor would change.
 */

/** One client's byte stream, as the line pump reads it and the client link writes it. */
export interface Transport {
  readonly remoteAddress: string | undefined;
  /** Ended or failed: nothing more can be written. */
  readonly destroyed: boolean;
  /** Bytes written and not yet taken by the peer: what the slow-consumer check looks at. */
  readonly writableLength: number;
  write(bytes: Buffer): unknown;
  /** Sends what is written (then `last`, if given) and closes this side. */
  end(): unknown;
  end(last: Buffer): unknown;
  /** Closes at once; unsent output is dropped. */
  destroy(): unknown;
  /** Input flow control: a paused transport emits no 'data', and the peer is pushed back. */
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/** What an acceptor tells the listener actor. */
export interface AcceptorEvents {
  /** A connection ready for the chat (for TLS: its handshake done), paused: nothing is read yet. */
  accepted(connection: Transport): void;
  /** Accepting failed (EMFILE…) or a connection was dropped at the descriptor limit. */
  failed(code: string): void;
  /** A connection that never became one (a failed TLS handshake): the log line saying why. */
  refused(why: string): void;
}

/** Where connections come from. The listener actor decides what becomes of each. */
export interface Acceptor {
  /** Binds; resolves with the port bound, rejects with PortInUseError or the cause. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting and drops connections still being set up; `onClosed` once all have ended. */
  close(onClosed: () => void): void;
  /** Connections still being set up (a TLS handshake), not yet accepted. */
  readonly settingUp: number;
  /**
   * Watches a connection held unserved: `onGone` when its client leaves first. What it typed
   * stays buffered for whoever serves it. Returns what stops watching.
   */
  watchHeld(connection: Transport, onGone: () => void): () => void;
  /** Says a last line to a connection never served, and closes it. */
  dismiss(connection: Transport, line: Buffer): void;
}
