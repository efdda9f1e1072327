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
import { entryOfFields, type RoomLog, seqOfFields } from '../io/history-store-redis.js';
import type { StreamEntry } from '../io/room-tails-redis.js';
import { type ChatMessage, text, type Topic } from '../machines/protocol.js';
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
  /** Who is in the room across the cluster (room-members-redis.ts): a join is listed there before its entry is appended, and counted. */
  members?: { join(room: string, login: string): Promise<void>; names(room: string): Promise<string[]> };
  /** The room's topic as Redis has it now (read when the room starts). */
  topic?(room: string): Promise<Topic | undefined>;
}

type Recall = Extract<RoomEntry, { kind: 'recall' }>;

/** A member of this node whose join entry is on its way: `members`, the room's count across the cluster for its welcome, once `counted`. */
interface JoinWaiting {
  member: RoomMember;
  members: number | undefined;
  counted: Promise<void> | undefined;
}

/** Tells this process's posts apart from an earlier life's of the same node (their pids restart at 1). */
const PROCESS_NONCE = Math.random().toString(36).slice(2, 8);

/** Stream IDs ("<ms>-<seq>") in the stream's order. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** How long to wait before asking Redis again for the stream's end, after a post's append failed. */
const RESOLVE_RETRY_MS = 500;

export class ClusterRoomOrder implements RoomOrder {
  /** The ID the room was read up to when the state was seeded (`seed`); its tail goes on from there. */
  private seededThrough = '0-0';
  private opened = false;
  /** This node's members waiting for their join entry to come back, by connection id (with the room's count across the cluster). */
  private readonly joining = new Map<string, JoinWaiting>();
  /** This node's members whose leave notice is on its way to the stream, by connection id. */
  private readonly leaving = new Map<string, RoomMember>();
  /** Entries let out only once a join's count has come (see `receive`). */
  private held: StreamEntry[] | undefined;
  /** This node's posts not yet back from the tail, by sender (recalls wait for them). */
  private readonly inFlight = new Map<string, number>();
  /** Recalls waiting for their asker's posts, by asker. */
  private readonly recalls = new Map<string, Recall[]>();
  private nextPost = 0;
  /**
   * Posts whose append failed, by pid → sender. A failed XADD may still have landed (Redis wrote
   * it, then its answer was lost with the connection): such a post is not refused until the tail
   * has read through the stream's end as it was once Redis answered again — if it comes back by
   * then it landed (and is delivered as any other); if not, it did not, and its sender is told.
   */
  private readonly uncertain = new Map<string, string>();
  /** Groups of uncertain posts and the stream's end the tail must reach before they are refused. */
  private waves: { pids: string[]; through: string | undefined }[] = [];
  private resolving = false;
  /** Posts whose append has not answered yet, and those of them the tail has brought back already. */
  private readonly appending = new Set<string>();
  private readonly landed = new Set<string>();
  /** The ID of the last entry the tail brought back, and its number in the room. */
  private lastReceived = '0-0';
  private lastSeq: number | undefined;
  private stopped = false;

  constructor(
    private readonly sink: RoomEntrySink,
    private readonly deps: ClusterRoomOrderDeps,
  ) {}

  /** The room's last `keep` posts, and the place its tail will start from once `open`ed. */
  async seed(keep: number): Promise<ChatMessage[]> {
    const { log, room } = this.deps;
    const last = await log.lastEntry(room);
    this.seededThrough = last.id;
    this.lastReceived = last.id;
    this.lastSeq = last.seq;
    // Read after the stream's end: a change since comes through the tail as well (setting it again).
    if (this.deps.topic) this.sink.learnTopic?.(await this.deps.topic(room));
    return log.postsThrough(room, this.seededThrough, keep);
  }

  post(messages: readonly ChatMessage[], sender: string): void {
    const { log, room, node } = this.deps;
    this.inFlight.set(sender, (this.inFlight.get(sender) ?? 0) + messages.length);
    const pids = messages.map(() => `${PROCESS_NONCE}.${++this.nextPost}`);
    for (const pid of pids) this.appending.add(pid);
    const appends = messages.map((message, i) => log.appendEntry(room, { kind: 'post', message, node, conn: sender, pid: pids[i]! }));
    void Promise.allSettled(appends).then((results) => {
      for (const pid of pids) this.appending.delete(pid);
      results.forEach((result, i) => result.status === 'fulfilled' && this.landed.delete(pids[i]!));
      const failed = results.flatMap((result, i) => (result.status === 'rejected' ? [{ pid: pids[i]!, reason: result.reason as unknown }] : []));
      if (failed.length === 0) return;
      this.deps.report(`error: ${failed.length} of ${messages.length} posts to ${room} could not be appended (each is refused unless the stream shows it landed): ${describeCause(failed[0]!.reason)}`);
      const wave: string[] = [];
      for (const { pid } of failed) {
        // Back already (it landed, and the tail was quicker than the error).
        if (this.landed.delete(pid)) continue;
        this.uncertain.set(pid, sender);
        wave.push(pid);
      }
      if (wave.length > 0) this.waves.push({ pids: wave, through: undefined });
      void this.resolve();
    });
  }

  push(entry: Exclude<RoomEntry, { kind: 'post' }>): void {
    const { log, room, node } = this.deps;
    const failed = (err: unknown) => this.deps.report(`error: a ${entry.kind} of ${room} could not be appended: ${describeCause(err)}`);
    switch (entry.kind) {
      case 'join': {
        const { member } = entry;
        const waiting: JoinWaiting = { member, members: undefined, counted: undefined };
        this.joining.set(member.connectionId, waiting);
        const { members } = this.deps;
        if (members) {
          // Listed, then counted, then appended — all sent now, in this order on one connection, so
          // the join keeps its place among this node's appends and whoever reads it finds it listed.
          const listFailed = (err: unknown) => this.deps.report(`error: the cluster's list of who is in ${room} could not be updated: ${describeCause(err)}`);
          members.join(room, member.login).catch(listFailed);
          waiting.counted = members.names(room).then((names) => void (waiting.members = names.length), listFailed);
        }
        log.appendEntry(room, { kind: 'join', at: isoNow(), login: member.login, node, conn: member.connectionId }).catch((err: unknown) => {
          this.joining.delete(member.connectionId);
          failed(err);
        });
        break;
      }
      case 'notice':
        log.appendEntry(room, { kind: 'notice', at: isoNow(), line: entry.line, node, ...(entry.topic ? { topic: entry.topic } : {}) }).catch(failed);
        break;
      case 'leave': {
        // Its notice, with the leaver's connection: the leave takes effect here when it is back.
        const { member } = entry;
        this.leaving.set(member.connectionId, member);
        log.appendEntry(room, { kind: 'notice', at: isoNow(), line: text.left(member.login, room), node, conn: member.connectionId }).catch((err: unknown) => {
          failed(err);
          // Not in the stream: it takes effect here all the same (the other nodes do not hear of it).
          if (this.leaving.delete(member.connectionId)) this.sink.take(entry);
        });
        break;
      }
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
    this.uncertain.clear();
    this.leaving.clear();
    this.waves = [];
    this.landed.clear();
    this.joining.clear();
    this.inFlight.clear();
    this.recalls.clear();
  }

  /** Learns the stream's end for each wave of uncertain posts (retrying while Redis is away), then settles what the tail has passed. */
  private async resolve(): Promise<void> {
    if (this.resolving) return;
    this.resolving = true;
    try {
      for (;;) {
        const wave = this.waves.find((w) => w.through === undefined);
        if (!wave || this.stopped) return;
        try {
          // Read after the failure: anything that landed is at or before this end.
          wave.through = await this.deps.log.lastEntryId(this.deps.room);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, RESOLVE_RETRY_MS).unref());
          continue;
        }
        this.settleWaves();
      }
    } finally {
      this.resolving = false;
    }
  }

  /** Refuses the uncertain posts of every wave whose stream end the tail has reached without them coming back. */
  private settleWaves(): void {
    while (this.waves.length > 0) {
      const wave = this.waves[0]!;
      if (wave.through === undefined || compareStreamIds(this.lastReceived, wave.through) < 0) return;
      this.waves.shift();
      const refused = new Map<string, number>();
      for (const pid of wave.pids) {
        const sender = this.uncertain.get(pid);
        if (sender === undefined) continue; // it came back: it landed
        this.uncertain.delete(pid);
        refused.set(sender, (refused.get(sender) ?? 0) + 1);
      }
      for (const [sender, count] of refused) {
        this.sink.refused(sender, count);
        for (let i = 0; i < count; i++) this.back(sender);
      }
    }
  }

  /** The room's state is gone (its actor stopped): the tail leaves the room. */
  stop(): void {
    this.stopped = true;
    this.opened = false;
    this.deps.unfollow();
    this.clear();
  }

  /** New entries of the room from the node's tail, in the stream's order. */
  receive(entries: readonly StreamEntry[]): void {
    const { room, node } = this.deps;
    // Behind a join whose count has not come yet: everything after it waits with it, in order.
    if (this.held) {
      this.held.push(...entries);
      return;
    }
    for (let i = 0; i < entries.length; i++) {
      const { id, fields } = entries[i]!;
      const entry = entryOfFields(room, fields);
      const early = typeof entry !== 'string' && entry.kind === 'join' && entry.node === node && entry.conn !== undefined ? this.joining.get(entry.conn) : undefined;
      if (early?.counted && early.members === undefined) {
        const held = (this.held = entries.slice(i));
        void early.counted.finally(() => {
          this.held = undefined;
          this.receive(held);
        });
        early.counted = undefined;
        return this.settleWaves();
      }
      this.lastReceived = id;
      this.checkSeq(fields);
      if (typeof entry === 'string') {
        this.deps.report(`error: entry ${id} of ${room} is left out: ${entry}`);
        continue;
      }
      const ours = entry.node === node;
      switch (entry.kind) {
        case 'post': {
          const sender = ours && entry.conn !== undefined ? entry.conn : '';
          // A post whose append "failed" landed after all: delivered as any other, never refused (and
          // one back before its append answered is remembered, in case that answer is a failure).
          if (ours && entry.pid !== undefined && !this.uncertain.delete(entry.pid) && this.appending.has(entry.pid)) this.landed.add(entry.pid);
          this.sink.take({ kind: 'post', message: entry.message, sender });
          if (sender !== '') this.back(sender);
          break;
        }
        case 'join': {
          const waiting = ours && entry.conn !== undefined ? this.joining.get(entry.conn) : undefined;
          if (waiting) {
            const { member, members } = waiting;
            this.joining.delete(member.connectionId);
            this.sink.take(members === undefined ? { kind: 'join', member } : { kind: 'join', member, members });
          } else if (!ours) {
            this.sink.take({ kind: 'notice', line: text.joined(entry.login, room) });
          }
          break;
        }
        case 'notice': {
          const leaver = ours && entry.conn !== undefined ? this.leaving.get(entry.conn) : undefined;
          if (leaver) {
            this.leaving.delete(leaver.connectionId);
            this.sink.take({ kind: 'leave', member: leaver });
          } else this.sink.take(entry.topic ? { kind: 'notice', line: entry.line, topic: entry.topic } : { kind: 'notice', line: entry.line });
          break;
        }
      }
    }
    this.settleWaves();
  }

  /**
   * Entries the tail never saw — trimmed before it read them: this node fell further behind than
   * the stream keeps (`--cluster-retain`) — are said, to the log and to the room's members here.
   */
  private checkSeq(fields: readonly string[]): void {
    const seq = seqOfFields(fields);
    if (seq === undefined) return;
    const missed = this.lastSeq === undefined ? 0 : seq - this.lastSeq - 1;
    this.lastSeq = seq;
    if (missed <= 0) return;
    this.deps.report(`error: this node missed ${missed} entries of ${this.deps.room}: trimmed from its stream before the node read them (it fell behind by more than --cluster-retain posts)`);
    this.sink.take({ kind: 'notice', line: text.missedLines(this.deps.room, missed) });
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
