/**
 * Feeds a socket's lines into a machine actor, one at a time, only while the machine is in a
 * state tagged `input`. Lines that arrive while the machine is busy (a password being checked,
 * a registration being saved) wait here, in order — typing ahead or pasting several lines
 * never loses one. A flood is pushed back onto TCP: the socket stops being read while the
 * queue is full.
 *
 * The rate limit (a token bucket, decided by src/machines/rate-limit.ts) is a pace, not a
 * filter: a line that comes too soon waits at the head of the queue until its token is there, and
 * meanwhile the socket is not read — a flooder fills its own TCP buffers, not the server's memory,
 * and costs one timer per token, not a machine step per line it sends. The client is told once
 * per flood. A client paused like this would not be seen hanging up until its backlog had been
 * worked through (hours, for megabytes of it), so one that keeps sending faster than the rate for
 * longer than `maxFloodMs` is disconnected (IRC's "Excess Flood").
 */
import { performance } from 'node:perf_hooks';
import type { Actor, AnyStateMachine } from 'xstate';
import { type FramedLine, LineFramer } from '../io/line-framer.js';
import { text } from '../machines/protocol.js';
import { fullBucket, isLimited, type RateLimit, takeToken, type TokenBucket } from '../machines/rate-limit.js';
import type { ClientLink } from './client-link.js';

/** Lines held before the socket stops being read… */
const MAX_QUEUED_LINES = 256;
/** …or characters of them (lines of up to --max-line bytes: 256 of those would be 1 MiB a connection). */
const MAX_QUEUED_CHARS = 64 * 1024;

export interface PumpOptions {
  /** Lines per second and burst; omitted or 0 per second: no limit. */
  rateLimit?: RateLimit;
  /** A client that keeps sending faster than the rate for this long is disconnected. */
  maxFloodMs?: number;
  /** Called when the client is disconnected for flooding (for the log). */
  onFlood?: () => void;
}

type LineEvent =
  | { type: 'client.line'; text: string }
  | { type: 'client.lineTooLong'; bytes: number }
  | { type: 'client.closed' };

export function pumpLines(
  link: ClientLink,
  actor: Actor<AnyStateMachine>,
  maxLineBytes: number,
  { rateLimit, maxFloodMs = Infinity, onFlood }: PumpOptions = {},
): void {
  const { socket } = link;
  const framer = new LineFramer(maxLineBytes);
  const queue: FramedLine[] = [];
  let queuedChars = 0;
  const isFull = () => queue.length >= MAX_QUEUED_LINES || queuedChars >= MAX_QUEUED_CHARS;
  const limit = rateLimit && isLimited(rateLimit) ? rateLimit : undefined;
  let bucket: TokenBucket | undefined = limit && fullBucket(limit, performance.now());
  /** Set while the line at the head of the queue waits for a token. */
  let tokenTimer: NodeJS.Timeout | undefined;
  /**
   * When the client first had to wait for the rate since it last slowed down (its bucket full
   * again); it is told then, once.
   */
  let floodingSince: number | undefined;
  /** The client half-closed: once every queued line is handled, the session ends. */
  let inputEnded = false;
  let closedSent = false;

  const send = (event: LineEvent) => actor.send(event);

  /**
   * The session is over: drop what is queued and whatever still comes, but read on — a socket
   * left paused would never see the client's FIN, and would linger until the link's close timer.
   */
  const stopFeeding = () => {
    closedSent = true;
    queue.length = 0;
    queuedChars = 0;
    clearTimeout(tokenTimer);
    tokenTimer = undefined;
    if (!socket.destroyed) socket.resume();
  };

  const sendClosed = () => {
    if (closedSent) return;
    stopFeeding();
    if (actor.getSnapshot().status === 'active') send({ type: 'client.closed' });
  };

  /** Too fast: stop reading, say so (once per flood), and feed the next line when its token is there. */
  const waitForToken = (waitMs: number, now: number) => {
    if (floodingSince === undefined) {
      floodingSince = now;
      if (!link.isClosing) link.sendLines([text.tooFast(limit!.perSecond)]);
    } else if (now - floodingSince > maxFloodMs) {
      return disconnectFlooder();
    }
    socket.pause();
    tokenTimer = setTimeout(() => {
      tokenTimer = undefined;
      drain();
    }, waitMs);
  };

  const drain = () => {
    if (tokenTimer || closedSent) return;
    let snapshot = actor.getSnapshot();
    while (queue.length > 0 && snapshot.status === 'active' && snapshot.hasTag('input')) {
      if (limit) {
        const now = performance.now();
        const taken = takeToken(bucket!, limit, now);
        bucket = taken.bucket;
        if (!taken.allowed) return waitForToken(taken.waitMs, now);
        if (taken.wasFull) floodingSince = undefined;
      }
      const framed = queue.shift()!;
      if (framed.kind === 'line') queuedChars -= framed.text.length;
      send(framed.kind === 'line' ? { type: 'client.line', text: framed.text } : { type: 'client.lineTooLong', bytes: framed.bytes });
      snapshot = actor.getSnapshot();
    }
    if (!isFull() && socket.isPaused() && !inputEnded && !link.isClosing) socket.resume();
    if (inputEnded && queue.length === 0) sendClosed();
  };

  const enqueue = (lines: FramedLine[]) => {
    if (closedSent) return;
    for (const line of lines) {
      queue.push(line);
      if (line.kind === 'line') queuedChars += line.text.length;
    }
    if (isFull()) socket.pause();
    drain();
  };

  /** Over the rate for too long: say why, drop what waits, and end the session. */
  const disconnectFlooder = () => {
    if (!link.isClosing) link.sendLines([text.flooding(limit!.perSecond, maxFloodMs / 1000)]);
    onFlood?.();
    // The machine closes the connection (after the notice); whatever else comes is dropped.
    sendClosed();
  };

  // Observers run while the actor is still processing: an event sent from there would be queued
  // behind the current step and then judged by the *old* state. Drain once the step is over.
  let drainScheduled = false;
  const drainSoon = () => {
    if (drainScheduled) return;
    drainScheduled = true;
    queueMicrotask(() => {
      drainScheduled = false;
      drain();
    });
  };
  actor.subscribe({ next: drainSoon, complete: stopFeeding, error: stopFeeding });
  // Once the session is over, input is read only to see the client's FIN: not even framed.
  socket.on('data', (chunk: Buffer) => closedSent || enqueue(framer.push(chunk)));
  socket.on('end', () => {
    inputEnded = true;
    if (!closedSent) enqueue(framer.end());
  });
  socket.on('close', sendClosed);
  // 'close' always follows an error; a reset client is just a closed one.
  socket.on('error', () => {});
  socket.resume();
}
