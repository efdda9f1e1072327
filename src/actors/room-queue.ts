/**
 * The order of one room on one node: everything its members see — chat messages, join and leave
 * notices, welcomes, /history answers — as one queue of `RoomEntry`s, let out to the room's state
 * (room-actor.ts) in the order they were queued. A chat message waits until the history writer
 * says it is on disk, and what was queued behind it waits with it: a leave notice never overtakes
 * its sender's last message, and a /history answer holds the asker's own messages.
 *
 * `RoomEntry` is the seam of the cluster (docs/cluster.md): there, a room's Redis stream is to be
 * its order and the node's tail to let the entries out (adding what other nodes' entries need: a
 * post with no local sender, a join with no local member). The room's state takes entries and
 * does not know where they were ordered.
 */
import type { ChatMessage, Topic } from '../machines/protocol.js';
import type { RoomMember } from '../machines/room.js';

/** What a room lets out to its members, in the room's order. */
export type RoomEntry =
  /** A stored chat message: to every member but its sender (a connection id). */
  | { kind: 'post'; message: ChatMessage; sender: string }
  /** A join: the member is welcomed (its replay is what came before), the others hear of it. */
  /** `members`: how many the room has with this one (a cluster's count, across nodes; else the room's own). */
  | { kind: 'join'; member: RoomMember; members?: number }
  /** A line to every member; `topic`: the room's topic changed to this (a cluster's other nodes learn it so). */
  | { kind: 'notice'; line: string; topic?: Topic }
  /** A member's leave takes effect: out of the fan-out (it had every line before this), told `room.left`; the others hear it. */
  | { kind: 'leave'; member: RoomMember }
  /** `/history`: answered with what the room delivered up to here. */
  | { kind: 'recall'; connectionId: string; limit: number };

/** Who takes a room's entries: its state (room-actor.ts). */
export interface RoomEntrySink {
  take(entry: RoomEntry): void;
  /** `count` messages of `sender` could not be stored, so were not delivered. */
  refused(sender: string, count: number): void;
  /** The room's topic as the shared store has it when the room starts (a cluster's: another node may have set it since this one started). */
  learnTopic?(topic: Topic | undefined): void;
}

/**
 * Where a room's entries are put in order and let out to its sink: this node's queue
 * (`RoomQueue`), or the room's stream in a cluster (cluster-room-order.ts).
 */
export interface RoomOrder {
  /** A member's messages: stored, then let out in the room's order (or refused). */
  post(messages: readonly ChatMessage[], sender: string): void;
  /** Anything but a message: let out behind what is already in the order. */
  push(entry: Exclude<RoomEntry, { kind: 'post' }>): void;
  /** The history writer's answer for messages of this room, in the order they were posted (only an order that stores through the writer has one). */
  settle?(messages: readonly ChatMessage[], status: 'stored' | 'failed'): void;
  /** The room's last `keep` messages, where the order reads them itself (a cluster's: its tail goes on from them). */
  seed?(keep: number): Promise<ChatMessage[]>;
  /** Nothing is let out before (the room's last messages are loaded first: the replays start from them). */
  open(): void;
  /** Forgets everything not yet let out (the room was closed). */
  clear(): void;
  /** Lets out what is ready (after a restart of the room's actor; only an order that holds entries back has any). */
  drain?(): void;
  /** The room's state is gone (its actor stopped for good): an order that reads from elsewhere stops reading. */
  stop?(): void;
}

/** A post waits for the history writer's answer; any other entry is ready as it is queued. */
type QueuedPost = Extract<RoomEntry, { kind: 'post' }> & { status: 'pending' | 'stored' | 'failed' };
type Queued = QueuedPost | Exclude<RoomEntry, { kind: 'post' }>;

/** This node's order. A compacting array with a head: O(1) amortized per entry, however long the queue grows. */
export class RoomQueue implements RoomOrder {
  private queue: Queued[] = [];
  private head = 0;
  /** Nothing is let out before `open` (the room's last messages are loaded first: the replays start from them). */
  private opened = false;

  constructor(
    private readonly sink: RoomEntrySink,
    /** Hands messages to the history writer, whose answer comes to `settle`. */
    private readonly store: (messages: readonly ChatMessage[]) => void,
  ) {}

  /** A member's messages, on their way to disk; each is let out once `settle` says it is stored. */
  post(messages: readonly ChatMessage[], sender: string): void {
    for (const message of messages) this.queue.push({ kind: 'post', message, sender, status: 'pending' });
    this.store(messages);
  }

  /** Anything but a message: let out behind what is already queued. */
  push(entry: Exclude<RoomEntry, { kind: 'post' }>): void {
    this.queue.push(entry);
    this.drain();
  }

  /** The history writer's answer for messages of this room, in the order they were posted. */
  settle(messages: readonly ChatMessage[], status: 'stored' | 'failed'): void {
    let at = this.head;
    for (const message of messages) {
      while (at < this.queue.length) {
        const queued = this.queue[at++]!;
        if (queued.kind === 'post' && queued.message === message) {
          queued.status = status;
          break;
        }
      }
    }
    this.drain();
  }

  open(): void {
    this.opened = true;
    this.drain();
  }

  /** Forgets everything queued (the room was closed). */
  clear(): void {
    this.queue = [];
    this.head = 0;
  }

  /** Lets out what is ready at the head of the queue, in order; stops at a message not yet on disk. */
  drain(): void {
    if (!this.opened) return;
    const { queue, sink } = this;
    let failed: Map<string, number> | undefined;
    while (this.head < queue.length) {
      const queued = queue[this.head]!;
      if (queued.kind === 'post' && queued.status !== 'stored') {
        if (queued.status === 'pending') break;
        (failed ??= new Map()).set(queued.sender, (failed.get(queued.sender) ?? 0) + 1);
      } else sink.take(queued);
      this.head++;
    }
    if (this.head === queue.length) {
      queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
    for (const [sender, count] of failed ?? []) sink.refused(sender, count);
  }
}
