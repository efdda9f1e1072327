/**
 * What bench/run.ts (the parent) and bench/load-generator.ts (its child processes) say to each
 * other over the IPC channel. Times are microseconds of CLOCK_MONOTONIC (`process.hrtime`), which
 * every process on the machine shares, so a message sent by one generator process and received by
 * another is timed on one clock.
 */
import type { SerializedHistogram } from './histogram.js';

export type ServerKind = 'ours' | 'baseline';

export interface ClientSpec {
  login: string;
  password: string;
  /** Global sender index, or -1 for a client that only receives. */
  sender: number;
  /**
   * In a case with rooms (S6): the index of the room this client joins (`/join #room<k>`) once
   * signed in, before it counts as ready. Sender s is in room s % rooms (see `rooms` of init).
   */
  room?: number;
  /** The port this client connects to (S7: the node it is dealt to); absent, the init's. */
  port?: number;
}

/** The room a case's `room` index names: `#room0`, `#room1`, … */
export const roomName = (room: number) => `#room${room}`;

export type ToGenerator =
  | {
      t: 'init';
      gen: number;
      generators: number;
      host: string;
      port: number;
      kind: ServerKind;
      senders: number;
      /** Most messages a sender may have sent and not yet seen delivered to every receiver. */
      window: number;
      /** Length of each chat message's text in characters. */
      textLength: number;
      /** Local addresses to spread connections over (empty: let the kernel choose). */
      sourceAddresses: string[];
      /**
       * Rooms the clients are spread over (S6), 0 or absent: one room, everyone receives every
       * sender. Sender s talks in room s % rooms, and only that room's members receive it.
       */
      rooms?: number;
    }
  /** Connect and sign in `clients`; `late` ones joined while others chat (they do not gate senders). */
  | { t: 'connect'; batch: string; clients: ClientSpec[]; concurrency: number; late: boolean }
  /** From now on, messages sent carry `phase` and deliveries received count towards it. */
  | { t: 'phase'; phase: number }
  /** Start sending: as fast as the window allows, or at a fixed rate per sender (messages/s). */
  | { t: 'send'; rate?: number }
  | { t: 'stop' }
  | { t: 'drain'; finalSeq: number[]; timeoutMs: number }
  /** Another generator's watermarks, relayed by the parent. */
  | { t: 'wm'; from: number; wm: number[] }
  | { t: 'report' }
  | { t: 'close' };

export interface GeneratorReport {
  /** Deliveries received, by the phase in force when they arrived. */
  deliveries: number[];
  /** Latency of deliveries, by the phase the message was sent in. */
  latency: (SerializedHistogram | null)[];
  messagesSent: number;
  missing: number;
  duplicated: number;
  /** Messages received from a sender of another room (rooms only: each should reach its own room alone). */
  misrouted: number;
  /** Lines received while chatting that are not benchmark messages (join/leave notices …). */
  otherLines: number;
  /** Connections that closed after signing in, before `close`. */
  droppedAfterLogin: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

export type FromGenerator =
  | { t: 'ready' }
  | { t: 'wm'; from: number; wm: number[] }
  | { t: 'progress'; batch: string; done: number; failed: number }
  | {
      t: 'connected';
      batch: string;
      ok: number;
      failed: number;
      errors: string[];
      /** Time from connecting to the end of the history replay, per client. */
      loginTime: SerializedHistogram;
      /** Time spent in each step of signing in (see STAGES in load-generator.ts), per client. */
      stages: SerializedHistogram[];
      lastReadyAt: number;
    }
  | { t: 'stopped'; lastSeq: [number, number][] }
  | { t: 'drained'; complete: boolean }
  | { t: 'report'; report: GeneratorReport }
  | { t: 'closed' };

/** Messages carry `~<sender>.<seq>.<phase>.<sentAtMicros>.` then padding; nothing else has `~`. */
export const MARK = 0x7e;
