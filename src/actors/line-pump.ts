/**
 * Feeds a socket's lines into a machine actor, one at a time, only while the machine is in a
 * state tagged `input` — or, where the state is also tagged `chatLines`, a run of chat messages
 * that arrived together as one `client.chatLines` event. Lines that arrive while the machine is busy (a password being checked,
 * a registration being saved) wait here, in order — typing ahead or pasting several lines
 * never loses one. A flood is pushed back onto TCP: the socket stops being read while the
 * queue is full.
 *
 * The rate limit (a token bucket, decided by src/machines/rate-limit.ts) is a pace, not a
 * filter: a line that comes too soon waits at the head of the queue until its token is there, and
 * meanwhile the socket is not read — a flooder fills its own TCP buffers, not the server's memory,
 * and costs one timer per token, not a machine step per line it sends. What a flood means is the
 * machine's to decide: the pump reports `client.throttled` when a line has to wait and
 * `client.paced` when the client slowed down again; the connection machine tells the client once
 * per flood and ends a session that stays over the rate too long (IRC's "Excess Flood").
 */
import type { Transport } from '../io/transport.js';
import type { Actor, AnyStateMachine } from 'xstate';
import { systemTimers, type Timer, type Timers } from '../io/clock.js';
import { type FramedLine, LineFramer } from '../io/line-framer.js';
import { isChatMessageLine } from '../machines/commands.js';
import { fullBucket, isLimited, type RateLimit, takeToken, type TokenBucket } from '../machines/rate-limit.js';
import type { ClientLink } from './client-link.js';

/** Lines held before the socket stops being read… */
const MAX_QUEUED_LINES = 256;
/** …or characters of them (lines of up to --max-line bytes: 256 of those would be 1 MiB a connection). */
const MAX_QUEUED_CHARS = 64 * 1024;

export interface PumpOptions {
  /** Lines per second and burst; omitted or 0 per second: no limit. */
  rateLimit?: RateLimit;
  /** The clock and timers of the rate limit (default: the system's). */
  timers?: Timers;
  /**
   * false: the caller already observes the actor and passes every notification on to the
   * returned pump (`next`, `complete`, `error`). One subscription per actor instead of two: each
   * costs an observer object and three bound functions (~0.2 KB a connection). Default true.
   */
  subscribe?: boolean;
}

type LineEvent =
  | { type: 'client.line'; text: string }
  | { type: 'client.chatLines'; texts: string[] }
  | { type: 'client.lineTooLong'; bytes: number }
  | { type: 'client.closed' }
  | { type: 'client.throttled'; at: number }
  | { type: 'client.paced' };

export function pumpLines(
  link: ClientLink,
  actor: Actor<AnyStateMachine>,
  maxLineBytes: number,
  { rateLimit, subscribe = true, timers = systemTimers }: PumpOptions = {},
): LinePump {
  const limit = rateLimit && isLimited(rateLimit) ? rateLimit : undefined;
  return new LinePump(link, actor, new LineFramer(maxLineBytes), limit, subscribe, timers);
}

/** The client's socket errors are not the pump's business: 'close' always follows an error. */
function ignoreSocketError(): void {}

/**
 * One socket's pump. A class, not a set of closures, because it exists once per connection: tsx
 * compiles with esbuild's keepNames, which gives every *named* closure its own property
 * dictionary (~0.3 KB each), and the nine this was made of were ~3.5 KB of every connection's heap
 * (bench/, scenario 3). The socket listeners below stay arrow functions: handed straight to `on`,
 * they are anonymous, which keepNames leaves alone. The pump is the actor's observer itself
 * (`next`, `complete`, `error`), subscribed by `pumpLines` or fed by its caller.
 */
export class LinePump {
  private readonly socket: Transport;
  private readonly queue: FramedLine[] = [];
  private queuedChars = 0;
  private bucket: TokenBucket | undefined;
  /** Set while the line at the head of the queue waits for a token. */
  private tokenTimer: Timer | undefined;
  /** Set once a line had to wait for the rate, until one passes with the bucket full again. */
  private throttled = false;
  /** The client half-closed: once every queued line is handled, the session ends. */
  private inputEnded = false;
  private closedSent = false;
  private drainScheduled = false;

  constructor(
    private readonly link: ClientLink,
    private readonly actor: Actor<AnyStateMachine>,
    private readonly framer: LineFramer,
    /** Undefined: no rate limit. */
    private readonly limit: RateLimit | undefined,
    subscribe: boolean,
    private readonly timers: Timers,
  ) {
    this.socket = link.socket;
    this.bucket = limit && fullBucket(limit, timers.now());
    if (subscribe) actor.subscribe(this);
    const { socket } = link;
    // Once the session is over, input is read only to see the client's FIN: not even framed.
    socket.on('data', (chunk: Buffer) => this.closedSent || this.enqueue(this.framer.push(chunk)));
    socket.on('end', () => {
      this.inputEnded = true;
      if (!this.closedSent) this.enqueue(this.framer.end());
    });
    socket.on('close', () => this.sendClosed());
    socket.on('error', ignoreSocketError);
    socket.resume();
  }

  // The actor's observer. Observers run while the actor is still processing: an event sent from
  // there would be queued behind the current step and then judged by the *old* state. Drain once
  // the step is over.
  next(): void {
    // Nothing waits (the usual case: one line, one step): new lines drain as they arrive.
    if (this.drainScheduled || (this.queue.length === 0 && !this.inputEnded)) return;
    this.drainScheduled = true;
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  complete(): void {
    this.stopFeeding();
  }

  error(): void {
    this.stopFeeding();
  }

  private isFull(): boolean {
    return this.queue.length >= MAX_QUEUED_LINES || this.queuedChars >= MAX_QUEUED_CHARS;
  }

  private send(event: LineEvent): void {
    this.actor.send(event);
  }

  /**
   * The session is over: drop what is queued and whatever still comes, but read on — a socket
   * left paused would never see the client's FIN, and would linger until the link's close timer.
   */
  private stopFeeding(): void {
    this.closedSent = true;
    this.queue.length = 0;
    this.queuedChars = 0;
    this.timers.clearTimeout(this.tokenTimer);
    this.tokenTimer = undefined;
    if (!this.socket.destroyed) this.socket.resume();
  }

  private sendClosed(): void {
    if (this.closedSent) return;
    this.stopFeeding();
    if (this.actor.getSnapshot().status === 'active') this.send({ type: 'client.closed' });
  }

  /** Too fast: stop reading, tell the machine, and feed the next line when its token is there. */
  private waitForToken(waitMs: number, now: number): void {
    this.throttled = true;
    this.send({ type: 'client.throttled', at: now });
    // The machine may have ended the session (a flood too long): then nothing waits any more.
    if (this.closedSent || this.actor.getSnapshot().status !== 'active') return;
    this.socket.pause();
    this.tokenTimer = this.timers.setTimeout(() => {
      this.tokenTimer = undefined;
      this.drain();
    }, waitMs);
  }

  private drain(): void {
    if (this.tokenTimer || this.closedSent) return;
    const { queue, socket } = this;
    let snapshot = this.actor.getSnapshot();
    while (queue.length > 0 && snapshot.status === 'active' && snapshot.hasTag('input')) {
      let wait = this.nextToken();
      if (wait) return this.waitForToken(wait.waitMs, wait.now);
      const framed = this.shift();
      if (framed.kind === 'tooLong') {
        this.send({ type: 'client.lineTooLong', bytes: framed.bytes });
      } else if (!snapshot.hasTag('chatLines') || !isChatMessageLine(framed.text)) {
        this.send({ type: 'client.line', text: framed.text });
      } else {
        // A run of chat messages that came together goes as one event (see ConnectionEvent),
        // each line still paying its token.
        const texts = [framed.text];
        for (let head = queue[0]; head?.kind === 'line' && isChatMessageLine(head.text); head = queue[0]) {
          if ((wait = this.nextToken())) break;
          this.shift();
          texts.push(head.text);
        }
        this.send(texts.length === 1 ? { type: 'client.line', text: framed.text } : { type: 'client.chatLines', texts });
        if (wait) return this.waitForToken(wait.waitMs, wait.now);
      }
      snapshot = this.actor.getSnapshot();
    }
    // An emptied array keeps its backing store (shift() does not shrink it); setting the length
    // to 0 frees it, so an idle connection holds no queue storage.
    if (queue.length === 0) queue.length = 0;
    if (!this.isFull() && socket.isPaused() && !this.inputEnded && !this.link.isClosing) socket.resume();
    if (this.inputEnded && queue.length === 0) this.sendClosed();
  }

  /** Takes the next line's token; when there is none yet, says how long to wait. */
  private nextToken(): { waitMs: number; now: number } | undefined {
    const { limit } = this;
    if (!limit) return undefined;
    const now = this.timers.now();
    const taken = takeToken(this.bucket!, limit, now);
    this.bucket = taken.bucket;
    if (!taken.allowed) return { waitMs: taken.waitMs, now };
    if (taken.wasFull && this.throttled) {
      this.throttled = false;
      this.send({ type: 'client.paced' });
    }
    return undefined;
  }

  private shift(): FramedLine {
    const framed = this.queue.shift()!;
    if (framed.kind === 'line') this.queuedChars -= framed.text.length;
    return framed;
  }

  private enqueue(lines: FramedLine[]): void {
    if (this.closedSent) return;
    for (const line of lines) {
      this.queue.push(line);
      if (line.kind === 'line') this.queuedChars += line.text.length;
    }
    if (this.isFull()) this.socket.pause();
    this.drain();
  }

}
