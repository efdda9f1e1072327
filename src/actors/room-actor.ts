/**
 * The room actors' effects: the room machine (src/machines/room.ts) provided with the data
 * plane of a room — its members, the messages on their way to disk, the notices gathering, the
 * messages recently delivered — kept in a `RoomState` per room that the actor mutates in place.
 *
 * Ordering is one queue per room (room-queue.ts): a chat message is handed to the history writer
 * and delivered only once it is on disk; everything else the room says (join and leave notices,
 * a welcome, a /history answer, an announcement) queues behind the messages already on their
 * way. The state here takes the queue's entries (`RoomEntry`) in order and does not know where
 * they were ordered — the cluster's Redis stream is the other source (docs/cluster.md). Join and
 * leave notices gather for `noticeDelayMs` and go out
 * together (a burst of 10,000 sign-ins was 50 million one-line writes, bench/ scenario 3);
 * anything else delivered first takes them along, so nobody sees them out of order.
 *
 * Fan-out is the data plane: a line is encoded once and its buffer written to each member's
 * link — never an event per delivery (docs/performance.md).
 *
 * The `RoomDirectory` outlives a room actor's crash: the supervisor restarts the actor
 * (one-for-one) and the new one finds its members and its queue where the old one left them.
 */
import { type AnyActorRef, assign, fromCallback } from 'xstate';
import { isoNow } from '../io/clock.js';
import { describeCause } from '../io/errors.js';
import type { HistoryStore, TopicStore } from '../io/stores.js';
import { type ChatMessage, formatChatLine, text, type Topic } from '../machines/protocol.js';
import { type RoomMember, type RoomReply, roomMachine } from '../machines/room.js';
import { encodeLines, LINE_END } from './client-link.js';
import { listedLogin } from './presence.js';
import { type RoomEntry, type RoomEntrySink, type RoomOrder, RoomQueue } from './room-queue.js';
import type { ServerLog } from './server-log.js';

/**
 * How long notices may wait for company: longer in a bigger room, where each batch costs a write
 * per member — 10 ms up to 100 members, 100 ms at 1,000, a second from 10,000 on.
 */
export function noticeDelayMs(members: number): number {
  return Math.min(1000, Math.max(10, members / 10));
}

export interface RoomDeps {
  history: HistoryStore;
  topics: TopicStore | undefined;
  /** The history writer actor: every append is an event to it (history-writer.ts). */
  writer(): AnyActorRef | undefined;
  /** Messages a room keeps for replays and /history (at least the largest either asks for). */
  keep: number;
  log: ServerLog;
  /** Test seam: called before a room stores a post; a throw there is a crash of that room actor. */
  onRoomEvent?: (room: string, event: { type: string }) => void;
  /** Where the room's entries are ordered: this node's queue unless given (a cluster's: cluster-room-order.ts). */
  order?: (sink: RoomEntrySink, room: string) => RoomOrder;
  /** A cluster's list of who is in which room (room-members-redis.ts), kept up to date on each join and leave, for /names and /rooms. */
  members?: { join(room: string, login: string): Promise<void>; leave(room: string, login: string): Promise<void> };
}

/** One room's data plane; survives its actor's restart. */
export class RoomState implements RoomEntrySink {
  /** The actor that runs the room now (set on each start: see the machine's `register`). */
  ref: AnyActorRef | undefined;
  topic: Topic | undefined;
  /** Who is in the room, by connection id: decided at once on each join and leave. */
  private readonly byId = new Map<string, RoomMember>();
  /**
   * Who gets the room's lines: a member from its welcome on. An array with swap-remove, since
   * iterating an array is several times cheaper than a Map's iterator, and a broadcast to 1,000
   * members is the hottest loop of the server.
   */
  private readonly fanOut: RoomMember[] = [];
  private readonly slotOf = new Map<string, number>();
  /** Members whose leave is on its way through the room's order (see `dismiss`). */
  private readonly leavers = new Map<string, RoomMember>();
  /** The room's order: what it takes from there, it delivers. */
  private readonly queue: RoomOrder;
  private notices: { line: string; except: string | undefined }[] = [];
  private noticeTimer: NodeJS.Timeout | undefined;
  /** What the room delivered last, oldest first (trimmed in bulk: O(1) amortized per message). */
  private recent: ChatMessage[] = [];

  constructor(
    readonly name: string,
    private readonly deps: RoomDeps,
  ) {
    this.queue = deps.order?.(this, name) ?? new RoomQueue(this, (messages) => this.toWriter(messages));
    this.topic = deps.topics?.all().get(name);
    (this.queue.seed?.(deps.keep) ?? deps.history.recent(name, deps.keep)).then(
      (messages) => this.seed(messages),
      (err: unknown) => {
        deps.log.info(`error: history of ${name} could not be read, replays start empty: ${describeCause(err)}`);
        this.seed([]);
      },
    );
  }

  get size(): number {
    return this.byId.size;
  }

  get receivers(): number {
    return this.fanOut.length;
  }

  has(connectionId: string): boolean {
    return this.byId.has(connectionId);
  }

  member(connectionId: string): RoomMember | undefined {
    return this.byId.get(connectionId);
  }

  /** The logins in the room, sorted, as /names lists them (with an away message). */
  logins(): string[] {
    return [...this.byId.values()].sort((a, b) => a.login.localeCompare(b.login)).map(listedLogin);
  }

  /** This node's members, for a cluster's /names (presence.ts's listedLogins). */
  members(): Iterable<RoomMember> {
    return this.byId.values();
  }

  admit(member: RoomMember): void {
    if (this.byId.has(member.connectionId)) return;
    this.byId.set(member.connectionId, member);
    this.queue.push({ kind: 'join', member });
  }

  dismiss(connectionId: string): void {
    const member = this.byId.get(connectionId);
    if (!member) return;
    this.byId.delete(connectionId);
    this.deps.members?.leave(this.name, member.login).catch((err: unknown) => this.listFailed(err));
    // Out of the fan-out where the leave falls in the room's order (`release`): every line before it
    // reaches the leaver, none after — on a cluster, that is where its notice lands in the stream.
    if (this.slotOf.has(connectionId)) {
      this.leavers.set(connectionId, member);
      this.queue.push({ kind: 'leave', member });
    } else tell(member, { type: 'room.left', room: this.name });
  }

  /** The leave's place in the room's order: the leaver is out of the fan-out and told; the others hear it. */
  private release(member: RoomMember): void {
    if (this.leavers.get(member.connectionId) === member) this.leavers.delete(member.connectionId);
    const slot = this.slotOf.get(member.connectionId);
    if (slot !== undefined && this.fanOut[slot] === member) {
      const last = this.fanOut.pop()!;
      if (last !== member) {
        this.fanOut[slot] = last;
        this.slotOf.set(last.connectionId, slot);
      }
      this.slotOf.delete(member.connectionId);
    }
    tell(member, { type: 'room.left', room: this.name });
    this.gather(text.left(member.login, this.name), undefined);
  }

  /** Hands the messages to the room's order; each is delivered once it is stored. */
  store(connectionId: string, texts: readonly string[]): void {
    const member = this.byId.get(connectionId);
    if (!member || texts.length === 0) return;
    const at = isoNow();
    const messages = texts.map((body): ChatMessage => ({ at, room: this.name, login: member.login, text: body }));
    this.queue.post(messages, connectionId);
  }

  /** This node's order stores through the history writer actor, which answers with `settle`. */
  private toWriter(messages: readonly ChatMessage[]): void {
    const writer = this.deps.writer();
    if (writer) writer.send({ type: 'history.append', messages });
    else this.settle(messages, 'failed');
  }

  /** The writer's answer for messages of this room, in the order they were stored. */
  settle(messages: readonly ChatMessage[], status: 'stored' | 'failed'): void {
    this.queue.settle?.(messages, status);
  }

  notice(line: string, topic?: Topic): void {
    this.queue.push(topic ? { kind: 'notice', line, topic } : { kind: 'notice', line });
  }

  recall(connectionId: string, limit: number): void {
    this.queue.push({ kind: 'recall', connectionId, limit });
  }

  reply(connectionId: string, reply: RoomReply): void {
    this.byId.get(connectionId)?.session.send(reply);
  }

  /** The cluster's list of members could not be updated: /names and /rooms on other nodes are off until the next join or leave. */
  private listFailed(err: unknown): void {
    this.deps.log.info(`error: the cluster's list of who is in ${this.name} could not be updated: ${describeCause(err)}`);
  }

  /** The operator closed the room: every member is told and forgotten. */
  closeAll(): void {
    this.flushNotices();
    for (const member of this.byId.values()) this.deps.members?.leave(this.name, member.login).catch((err: unknown) => this.listFailed(err));
    for (const member of this.byId.values()) member.session.send({ type: 'room.closed', room: this.name } satisfies RoomReply);
    // Their leave will not come out of the order now: it took effect.
    for (const member of this.leavers.values()) tell(member, { type: 'room.left', room: this.name });
    this.leavers.clear();
    this.byId.clear();
    this.fanOut.length = 0;
    this.slotOf.clear();
    this.queue.clear();
  }

  /** A restarted actor: members are told, and whatever waited in the queue goes on. */
  restarted(): void {
    for (const member of this.byId.values()) member.session.send({ type: 'room.restarted', room: this.name } satisfies RoomReply);
    this.queue.drain?.();
  }

  stop(): void {
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = undefined;
    this.queue.stop?.();
  }

  private seed(messages: ChatMessage[]): void {
    this.recent = messages.concat(this.recent);
    this.queue.open();
  }

  /** The room's next entry, in its order (RoomEntrySink). */
  take(entry: RoomEntry): void {
    switch (entry.kind) {
      case 'post':
        this.deliver(entry.message, entry.sender);
        break;
      case 'join':
        this.welcome(entry.member, entry.members);
        break;
      case 'leave':
        this.release(entry.member);
        break;
      case 'notice':
        // Set by this node already (saveTopic); another node's change arrives here.
        if (entry.topic) this.topic = entry.topic;
        this.gather(entry.line, undefined);
        break;
      case 'recall':
        this.flushNotices();
        this.reply(entry.connectionId, { type: 'room.recalled', room: this.name, messages: this.recent.slice(-entry.limit) });
        break;
    }
  }

  learnTopic(topic: Topic | undefined): void {
    this.topic = topic;
  }

  /** Tells a sender how many of its messages could not be stored (RoomEntrySink). */
  refused(sender: string, count: number): void {
    this.reply(sender, { type: 'room.postFailed', room: this.name, count });
  }

  /** From its welcome on, a member gets the room's lines: the replay is exactly what came before. */
  private welcome(member: RoomMember, members = this.byId.size): void {
    if (this.byId.get(member.connectionId) !== member) return; // left before it was welcomed
    member.session.send({
      type: 'room.joined',
      room: this.name,
      recent: member.replay > 0 ? this.recent.slice(-member.replay) : [],
      topic: this.topic,
      members,
    } satisfies RoomReply);
    this.slotOf.set(member.connectionId, this.fanOut.length);
    this.fanOut.push(member);
    this.gather(text.joined(member.login, this.name), member.connectionId);
  }

  /** Encodes the message once and writes it to every member but its sender. */
  private deliver(message: ChatMessage, sender: string): void {
    this.flushNotices();
    const bytes = encodeLines([formatChatLine(message)]);
    const { fanOut } = this;
    for (let i = 0; i < fanOut.length; i++) {
      const member = fanOut[i]!;
      if (member.connectionId !== sender) member.link.deliver(bytes);
    }
    this.recent.push(message);
    if (this.recent.length >= 2 * this.deps.keep) this.recent = this.recent.slice(-this.deps.keep);
  }

  /** A notice goes out with those of the next `noticeDelayMs`, or before anything else, whichever comes first. */
  private gather(line: string, except: string | undefined): void {
    this.notices.push({ line, except });
    this.noticeTimer ??= setTimeout(() => this.flushNotices(), noticeDelayMs(this.fanOut.length)).unref();
  }

  /** Delivers the gathered notices now (also for /who's answer, which must not read before them). */
  flushNotices(): void {
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = undefined;
    const { notices } = this;
    if (notices.length === 0) return;
    this.notices = [];
    const bytes = encodeLines(notices.map((n) => n.line));
    /** For a member named as `except` (it joined with that line): where the lines after it start. */
    let after: Map<string, number> | undefined;
    let end = 0;
    for (const { line, except } of notices) {
      end += Buffer.byteLength(line, 'utf8') + LINE_END.length;
      if (except) (after ??= new Map()).set(except, end);
    }
    for (const member of this.fanOut) {
      const from = after?.get(member.connectionId);
      if (from === undefined) member.link.deliver(bytes);
      else if (from < bytes.length) member.link.deliver(bytes.subarray(from));
    }
  }
}

/** A reply to a member still connected (one that left the chat is not told). */
function tell(member: RoomMember, reply: RoomReply): void {
  if (member.session.getSnapshot().status === 'active') member.session.send(reply);
}

/** Every room's state by room key, for the room actors, the supervisor's console and /rooms. */
export class RoomDirectory {
  private readonly rooms = new Map<string, RoomState>();

  constructor(readonly deps: RoomDeps) {}

  /** The room's state, made on its first start. */
  open(name: string): RoomState {
    let room = this.rooms.get(name);
    if (!room) this.rooms.set(name, (room = new RoomState(name, this.deps)));
    return room;
  }

  get(name: string): RoomState | undefined {
    return this.rooms.get(name);
  }

  /** A room's topic as this node knows it (a room that does not run here: as the topic store has it). */
  topicOf(name: string): Topic | undefined {
    return this.rooms.get(name)?.topic ?? this.deps.topics?.all().get(name);
  }

  /** A stopped room's state goes (its history stays on disk). */
  forget(name: string): void {
    this.rooms.get(name)?.stop();
    this.rooms.delete(name);
  }

  all(): RoomState[] {
    return [...this.rooms.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The room machine with these rooms' effects: one provided machine per server. */
  machine(): typeof roomMachine {
    const state = ({ context }: { context: { name: string } }) => this.open(context.name);
    const { deps } = this;
    return roomMachine.provide({
      actions: {
        register: (args) => {
          const room = state(args);
          room.ref = args.self;
        },
        admit: (args, { member }) => state(args).admit(member),
        dismiss: (args, { connectionId }) => state(args).dismiss(connectionId),
        store: (args, { connectionId, texts }) => {
          deps.onRoomEvent?.(args.context.name, args.event);
          state(args).store(connectionId, texts);
        },
        deliverStored: (args, { messages }) => state(args).settle(messages, 'stored'),
        refuseUnstored: (args, { messages }) => state(args).settle(messages, 'failed'),
        reply: (args, { connectionId, reply }) => state(args).reply(connectionId, reply),
        recall: (args, { connectionId, limit }) => state(args).recall(connectionId, limit),
        saveTopic: (args, { connectionId, text: body }) => {
          const room = state(args);
          const member = room.member(connectionId);
          if (!member) return;
          const topic: Topic = { text: body, by: member.login, at: isoNow() };
          const self = args.self;
          (deps.topics ? deps.topics.set(room.name, topic) : Promise.resolve()).then(
            () => {
              room.topic = topic;
              self.send({ type: 'room.topicSaved', topic });
            },
            (err: unknown) => {
              deps.log.info(`error: the topic of ${room.name} could not be saved: ${describeCause(err)}`);
              self.send({ type: 'room.topicFailed', connectionId });
            },
          );
        },
        announce: (args, { line, topic }) => state(args).notice(line, topic),
        dismissAll: (args) => state(args).closeAll(),
        countMembers: assign({ members: (args) => state(args).size }),
        tellRestarted: (args) => state(args).restarted(),
      },
      guards: {
        isMember: (args, { connectionId }) => state(args).has(connectionId),
        isEmpty: (args) => state(args).size === 0,
      },
      actors: {
        idleTimer: fromCallback<{ type: 'room.idleTimeout' }, { ms: number }>(({ input, sendBack }) => {
          const timer = setTimeout(() => sendBack({ type: 'room.idleTimeout' }), input.ms);
          // An empty room's timer must not keep a server that is otherwise done alive.
          timer.unref();
          return () => clearTimeout(timer);
        }),
      },
    });
  }
}
