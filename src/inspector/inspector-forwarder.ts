/**
 * `--inspect-ws ws://host:port`: the inspection stream goes to an external inspector (a
 * WebSocket server such as `@statelyai/inspect`'s inspector server) instead of our own page —
 * one message per frame, exactly the JSON that Stately's WebSocket inspector sends. While it is
 * unreachable, nothing is recorded (the hub has no subscriber); on every (re)connection it first
 * gets the live actors, so it never shows a stale picture. A receiver that falls behind is
 * disconnected and reconnected rather than buffered for.
 */
import WebSocket from 'ws';
import type { InspectionHub, InspectionSink } from './inspection-hub.js';
import { DEFAULT_MAX_BUFFERED_BYTES } from './page-sink.js';

export interface ForwarderOptions {
  url: string;
  hub: InspectionHub;
  log(line: string): void;
  /** Reconnection delays: from `minRetryMs`, doubling, up to `maxRetryMs`. */
  minRetryMs?: number;
  maxRetryMs?: number;
  maxBufferedBytes?: number;
}

export interface InspectorForwarder {
  readonly url: string;
  /** Resolves once connected (for tests); the forwarder works whether or not anyone awaits it. */
  readonly connected: Promise<void>;
  close(): Promise<void>;
}

export function startForwarder(options: ForwarderOptions): InspectorForwarder {
  const { url, hub, log } = options;
  const minRetryMs = options.minRetryMs ?? 1000;
  const maxRetryMs = options.maxRetryMs ?? 30_000;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  let retryMs = minRetryMs;
  let closed = false;
  let socket: WebSocket | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let announcedOutage = false;
  let markConnected!: () => void;
  const connected = new Promise<void>((resolve) => (markConnected = resolve));

  const connect = () => {
    const ws = new WebSocket(url);
    socket = ws;
    let unsubscribe: (() => void) | undefined;
    ws.on('open', () => {
      retryMs = minRetryMs;
      announcedOutage = false;
      log(`inspector: sending the inspection stream to ${url}`);
      const sink: InspectionSink = {
        deliver(batch) {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (ws.bufferedAmount > maxBufferedBytes) {
            log(`inspector: ${url} fell more than ${maxBufferedBytes} bytes behind; reconnecting`);
            ws.terminate();
            return;
          }
          for (const message of batch) ws.send(message);
        },
      };
      unsubscribe = hub.subscribe(sink);
      markConnected();
    });
    ws.on('message', () => {}); // an inspector may talk back; nothing it says changes the server
    ws.on('error', (err) => {
      if (!announcedOutage) log(`inspector: cannot reach ${url} (${err.message}); retrying`);
      announcedOutage = true;
    });
    ws.on('close', () => {
      unsubscribe?.();
      unsubscribe = undefined;
      if (closed) return;
      retryTimer = setTimeout(connect, retryMs);
      retryTimer.unref();
      retryMs = Math.min(maxRetryMs, retryMs * 2);
    });
  };
  connect();

  return {
    url,
    connected,
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const ws = socket;
      if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(1001, 'server stopped');
        setTimeout(() => ws.terminate(), 500).unref();
      });
    },
  };
}
