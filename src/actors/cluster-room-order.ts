/**
 * A room's order on a node of a cluster (docs/cluster.md): the room's Redis stream, which every
 * node reads, instead of this node's queue (room-queue.ts). It is the `RoomOrder` a cluster room's
 * state is given: what members post, join and announce is appended to the stream
 * (`RoomLog.appendEntry`), and the room's state takes entries only as they come back from the
 * node's tail (`receive`, fed by room-tails-redis.ts) — its own members' posts too — so every
 * node lets out the same entries in the same order, each once.
 *
 * An entry carries the node and connection it came from. Coming back, a post of this node keeps
 * its sender (the state leaves the sender out of its fan-out); any other node's post has none
 * here. A join of this node's member is that member's welcome (its replay is what this node
 * delivered before the join, exactly the posts before it in the stream); another node's join is
 * a notice line. A `/history` answer (recall) is local: it waits until the asker's own posts have
 * come back, so that it holds them.
 */
import { isoNow } from '../io/clock.js';
import { describeCause } from '../io/errors.js';
import { entryOfFields, type RoomLog } from '../io/history-store-redis.js';
import type { StreamEntry } from '../io/room-tails-redis.js';
import { type ChatMessage, text } from '../machines/protocol.js';
import type { RoomMember } from '../machines/room.js';
import type { RoomEntry, RoomEntrySink, RoomOrder } from './room-queue.js';

export interface ClusterRoomOrderDeps {
  room: string;
  /** This node's id, as the entries name it. */
  node: string;
  log: RoomLog;
  /** Starts the node's tail on this room from the entry after `afterId` (RoomTails.follow). */
  follow(afterId: string): void;
  unfollow(): void;
  /** An entry could not be appended, or one came back unreadable: said once, in the server's log. */
  report(problem: string): void;
}

type Recall = Extract<RoomEntry, { kind: 'recall' }>;

export class ClusterRoomOrder implements RoomOrder {
  /** The ID the room was read up to when the state was seeded (`seed`); its tail goes on from there. */
  private seededThrough = '0-0';
  private opened = false;
  /** This node's members waiting for their join entry to come back, by connection id. */
  private readonly joining = new Map<string, RoomMember>();
  /** This node's posts not yet back from the tail, by sender (recalls wait for them). */
  private readonly inFlight = new Map<string, number>();
  /** Recalls waiting for their asker's posts, by asker. */
  private readonly recalls = new Map<string, Recall[]>();

  constructor(
    private readonly sink: RoomEntrySink,
    private readonly deps: ClusterRoomOrderDeps,
  ) {}

  /** The room's last `keep` posts, and the place its tail will start from once `open`ed. */
  async seed(keep: number): Promise<ChatMessage[]> {
    const { log, room } = this.deps;
    this.seededThrough = await log.lastEntryId(room);
    return log.postsThrough(room, this.seededThrough, keep);
  }

  post(messages: readonly ChatMessage[], sender: string): void {
    const { log, room, node } = this.deps;
    this.inFlight.set(sender, (this.inFlight.get(sender) ?? 0) + messages.length);
    const appends = messages.map((message) => log.appendEntry(room, { kind: 'post', message, node, conn: sender }));
    // The sender hears once per batch how many were refused, as this node's queue tells it.
    void Promise.allSettled(appends).then((results) => {
      const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed.length === 0) return;
      this.deps.report(`error: ${failed.length} of ${messages.length} posts to ${room} could not be appended: ${describeCause(failed[0]!.reason)}`);
      this.sink.refused(sender, failed.length);
      for (let i = 0; i < failed.length; i++) this.back(sender);
    });
  }

  push(entry: Exclude<RoomEntry, { kind: 'post' }>): void {
    const { log, room, node } = this.deps;
    const failed = (err: unknown) => this.deps.report(`error: a ${entry.kind} of ${room} could not be appended: ${describeCause(err)}`);
    switch (entry.kind) {
      case 'join': {
        const { member } = entry;
        this.joining.set(member.connectionId, member);
        log.appendEntry(room, { kind: 'join', at: isoNow(), login: member.login, node, conn: member.connectionId }).catch((err: unknown) => {
          this.joining.delete(member.connectionId);
          failed(err);
        });
        break;
      }
      case 'notice':
        log.appendEntry(room, { kind: 'notice', at: isoNow(), line: entry.line, node, ...(entry.topic ? { topic: entry.topic } : {}) }).catch(failed);
        break;
      case 'recall':
        if ((this.inFlight.get(entry.connectionId) ?? 0) === 0) this.sink.take(entry);
        else this.recalls.set(entry.connectionId, [...(this.recalls.get(entry.connectionId) ?? []), entry]);
        break;
    }
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.deps.follow(this.seededThrough);
  }

  /** The room was closed: what waits is forgotten, but the tail goes on (the room's state lives on, and new joins come back through it). */
  clear(): void {
    this.joining.clear();
    this.inFlight.clear();
    this.recalls.clear();
  }

  /** The room's state is gone (its actor stopped): the tail leaves the room. */
  stop(): void {
    this.opened = false;
    this.deps.unfollow();
    this.clear();
  }

  /** New entries of the room from the node's tail, in the stream's order. */
  receive(entries: readonly StreamEntry[]): void {
    const { room, node } = this.deps;
    for (const { id, fields } of entries) {
      const entry = entryOfFields(room, fields);
      if (typeof entry === 'string') {
        this.deps.report(`error: entry ${id} of ${room} is left out: ${entry}`);
        continue;
      }
      const ours = entry.node === node;
      switch (entry.kind) {
        case 'post': {
          const sender = ours && entry.conn !== undefined ? entry.conn : '';
          this.sink.take({ kind: 'post', message: entry.message, sender });
          if (sender !== '') this.back(sender);
          break;
        }
        case 'join': {
          const member = ours && entry.conn !== undefined ? this.joining.get(entry.conn) : undefined;
          if (member) {
            this.joining.delete(member.connectionId);
            this.sink.take({ kind: 'join', member });
          } else if (!ours) {
            this.sink.take({ kind: 'notice', line: text.joined(entry.login, room) });
          }
          break;
        }
        case 'notice':
          this.sink.take(entry.topic ? { kind: 'notice', line: entry.line, topic: entry.topic } : { kind: 'notice', line: entry.line });
          break;
      }
    }
  }

  /** One of `sender`'s posts is back (or failed): its recalls go once none is left on the way. */
  private back(sender: string): void {
    const left = (this.inFlight.get(sender) ?? 1) - 1;
    if (left > 0) {
      this.inFlight.set(sender, left);
      return;
    }
    this.inFlight.delete(sender);
    const waiting = this.recalls.get(sender);
    this.recalls.delete(sender);
    for (const recall of waiting ?? []) this.sink.take(recall);
  }
}
