/**
 * The messages of the inspection stream, in the shape of `@statelyai/inspect`'s WebSocket
 * inspector (`StatelyActorEvent`, `StatelyEventEvent`, `StatelySnapshotEvent` in its types.ts),
 * so that the same JSON can feed Stately's tools (`--inspect-ws`) as well as our own page.
 * Each message is one JSON object; our page receives them in batches, as a JSON array.
 */
import type { EventObject } from 'xstate';

/** The `@statelyai/inspect` release whose message shape this follows (its `_version` field). */
export const STATELY_INSPECT_VERSION = '0.7.2';

interface MessageBase {
  /** The session id of the actor's root actor. */
  rootId: string | undefined;
  /** The actor's session id (`x:12`), unique in the process. */
  sessionId: string;
  /** Milliseconds since the epoch, as a string (as Stately sends it). */
  createdAt: string;
  /** Unique per message: a sequence number here. */
  id: string;
  _version: string;
}

/** A snapshot as JSON: `status` always; a machine's `value`, `context`, `tags`, `children` too. */
export interface SnapshotJson {
  status: 'active' | 'done' | 'error' | 'stopped';
  value?: unknown;
  context?: unknown;
  tags?: string[];
  [key: string]: unknown;
}

/** An actor came to life (or, when a page connects, is alive). */
export interface ActorMessage extends MessageBase {
  type: '@xstate.actor';
  /** The actor's id (`supervisor`, `listener`, `c7`, `checkLogin`). */
  name: string;
  snapshot: SnapshotJson;
  /** The machine's definition as JSON (`{"id":"connection"}` alone for our page). */
  definition: string | undefined;
  parentId: string | undefined;
}

/** An event was sent to an actor. */
export interface EventMessage extends MessageBase {
  type: '@xstate.event';
  event: EventObject;
  sourceId: string | undefined;
}

/** An actor took a step: its new snapshot, and the event that caused it. */
export interface SnapshotMessage extends MessageBase {
  type: '@xstate.snapshot';
  event: EventObject;
  snapshot: SnapshotJson;
}

export type InspectionMessage = ActorMessage | EventMessage | SnapshotMessage;
