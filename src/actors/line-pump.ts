/**
 * Feeds a socket's lines into a machine actor, one at a time, only while the machine is in a
 * state tagged `input`. Lines that arrive while the machine is busy (a password being checked,
 * a registration being saved) wait here, in order — typing ahead or pasting several lines
 * never loses one. A flood is pushed back onto TCP: the socket stops being read while the
 * queue is full.
 */
import type { Actor, AnyStateMachine } from 'xstate';
import { type FramedLine, LineFramer } from '../io/line-framer.js';
import type { ClientLink } from './client-link.js';

/** Lines held before the socket stops being read. */
const MAX_QUEUED_LINES = 256;

type LineEvent =
  | { type: 'client.line'; text: string }
  | { type: 'client.lineTooLong'; bytes: number }
  | { type: 'client.closed' };

export function pumpLines(
  link: ClientLink,
  actor: Actor<AnyStateMachine>,
  maxLineBytes: number,
): void {
  const { socket } = link;
  const framer = new LineFramer(maxLineBytes);
  const queue: FramedLine[] = [];
  /** The client half-closed: once every queued line is handled, the session ends. */
  let inputEnded = false;
  let closedSent = false;

  const send = (event: LineEvent) => actor.send(event);

  const sendClosed = () => {
    if (closedSent) return;
    closedSent = true;
    queue.length = 0;
    if (actor.getSnapshot().status === 'active') send({ type: 'client.closed' });
  };

  const drain = () => {
    let snapshot = actor.getSnapshot();
    while (queue.length > 0 && snapshot.status === 'active' && snapshot.hasTag('input')) {
      const framed = queue.shift()!;
      send(framed.kind === 'line' ? { type: 'client.line', text: framed.text } : { type: 'client.lineTooLong', bytes: framed.bytes });
      snapshot = actor.getSnapshot();
    }
    if (queue.length < MAX_QUEUED_LINES && socket.isPaused() && !inputEnded && !link.isClosing) socket.resume();
    if (inputEnded && queue.length === 0) sendClosed();
  };

  const enqueue = (lines: FramedLine[]) => {
    if (closedSent) return;
    for (const line of lines) queue.push(line);
    if (queue.length >= MAX_QUEUED_LINES) socket.pause();
    drain();
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
  actor.subscribe({ next: drainSoon, error: () => {} });
  socket.on('data', (chunk: Buffer) => enqueue(framer.push(chunk)));
  socket.on('end', () => {
    inputEnded = true;
    enqueue(framer.end());
  });
  socket.on('close', sendClosed);
  // 'close' always follows an error; a reset client is just a closed one.
  socket.on('error', () => {});
  socket.resume();
}
