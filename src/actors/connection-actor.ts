/**
 * The connection actor: one per accepted socket, running the connection machine with its real
 * effects — socket writes, the user store, the throttle, who is online, the rooms.
 * Each actor is a child of the server's inert connections root (connection-system.ts), so that
 * all connections share one actor system; not of the supervisor machine (xstate copies a
 * machine's children map on every spawn, which makes 10,000 connections quadratic): the server
 * tracks them in a plain Map instead. A failure (an action throws, a service rejects
 * unexpectedly) stops only this actor: its socket is closed, the error is logged, the server goes on.
 *
 * Joins go to the supervisor, which routes them to the room's actor (spawning it if need be);
 * everything else for a room — chat messages, leaves, topics, /history — goes straight to the
 * room's actor: data, not decisions of the control plane.
 */
import { type Actor, type AnyActorRef, createActor, fromCallback, fromPromise, type SnapshotFrom } from 'xstate';
import type { ServerConfig } from '../io/config.js';
import { isoNow, systemTimers, type Timers } from '../io/clock.js';
import { describeCause, ServiceUnavailableError, StorageError } from '../io/errors.js';
import type { InboxEntry } from '../io/node-inbox-redis.js';
import type { OfflineMessageStore, UserStore } from '../io/stores.js';
import {
  connectionMachine,
  type JoinResult,
  type LoginCheck,
  type PasswordChangeOutcome,
  type PrivateOutcome,
  type RegistrationOutcome,
  roomsToLeave,
} from '../machines/connection.js';
import { formatPrivateLine, LOBBY, loginKey, stripTerminalControls, text, type Topic } from '../machines/protocol.js';
import type { RateLimit } from '../machines/rate-limit.js';
import type { HistoryWriterEvent, RoomEvent, RoomMember, RoomReply } from '../machines/room.js';
import type { SupervisorEvent } from '../machines/supervisor.js';
import { type ConnectionsRoot, PerActor } from './connection-system.js';
import type { ClientLink } from './client-link.js';
import { afterThisStep } from './after-this-step.js';
import { type LinePump, pumpLines } from './line-pump.js';
import type { LoginThrottle } from './login-throttle.js';
import { listedLogins, type OnlineUser, type Presence } from './presence.js';
import type { RoomDirectory } from './room-actor.js';
import type { ServerLog } from './server-log.js';

export interface ConnectionDeps {
  config: ServerConfig;
  users: UserStore;
  /** Private messages left for users offline. */
  offline: OfflineMessageStore;
  presence: Presence;
  rooms: RoomDirectory;
  /** Where joins go: the supervisor routes them to the rooms. */
  supervisor(): { send(event: SupervisorEvent): void };
  /** The history writer: /msg goes out behind the sender's messages still being stored. */
  writer(): { send(event: HistoryWriterEvent): void } | undefined;
  throttle: LoginThrottle;
  log: ServerLog;
  /** The parent of every connection actor: the one actor system they share. */
  root: ConnectionsRoot;
  /** Called once when the connection has ended, however it ended. */
  onEnded(connectionId: string): void;
  /** Hands the actor to the live inspector (src/inspector/) before it starts, if there is one. */
  inspectActor?: (actor: AnyActorRef) => void;
  /** The clock of the login timeout and the rate limit (default: the system's). */
  timers?: Timers;
  /**
   * A cluster node only: whether its Redis answers now (cluster-link-actor.ts). While it does not,
   * sign-ins and posts are refused with "unavailable, retrying"; a store call that fails is that too.
   */
  storeAvailable?: () => boolean;
  /** A cluster node only: the users signed in on other nodes, for /msg. */
  remote?: RemoteUsers;
}

/** Users of a cluster signed in on other nodes (cluster-node.ts), and who is in which room across the cluster. */
export interface RemoteUsers {
  readonly nodeId: string;
  nodeOf(login: string): Promise<string | undefined>;
  sendTo(nodeId: string, entry: InboxEntry): Promise<void>;
  /** A room's members on every node (logins, unsorted). */
  namesIn(room: string): Promise<string[]>;
  /** Every room with members on some node, and how many. */
  allRooms(): Promise<{ name: string; size: number }[]>;
}

export interface ConnectionHandle {
  readonly link: ClientLink;
  readonly actor: Actor<typeof connectionMachine>;
}

/**
 * One connection's state and effects — and the member its rooms and the online list know
 * (`RoomMember`, `OnlineUser`: one object per connection, not one per room). Every connection
 * runs the *same* provided machine, whose implementations find their connection from the actor
 * they run for (`self`, or an invoked service's parent): `machine.provide()` per connection
 * rebuilt the whole state-node tree each time — ~30 KB of heap and ~0.3 ms of CPU per
 * connection. And they are methods rather than closures: tsx compiles with esbuild's keepNames,
 * which gives every *named* closure its own property dictionary (~0.3 KB); the 25 closures each
 * connection made were ~8 KB of its heap (bench/, scenario 3).
 */
class Connection implements RoomMember, OnlineUser {
  /** Set once the login is claimed among those online. */
  login = '';
  actor!: Actor<typeof connectionMachine>;
  /** Fed by this connection's observer (see `next`); set before the actor starts. */
  pump: LinePump | undefined;
  private ended = false;
  /** The away message (/away), shown in /who and /names and told once to each sender of a /msg. */
  away: string | undefined = undefined;
  /** Who has been told this away message already (login keys); a new /away starts afresh. */
  private awayToldTo: Set<string> | undefined;

  constructor(
    readonly link: ClientLink,
    readonly deps: ConnectionDeps,
  ) {}

  get connectionId(): string {
    return this.link.connectionId;
  }

  get session(): AnyActorRef {
    return this.actor;
  }

  get replay(): number {
    return this.deps.config.historyReplay;
  }

  /** What the inspector shows of a member in a `room.join` event: never its socket. */
  toJSON(): { connectionId: string; login: string } {
    return { connectionId: this.connectionId, login: this.login };
  }

  /** How the log names this connection's user, if it has one yet. */
  who(): string {
    const login = this.actor.getSnapshot().context.login;
    return login ? `${this.deps.log.pseudonym(login)} ` : '';
  }

  end(how: string): void {
    if (this.ended) return;
    this.ended = true;
    // A machine that reached `closed` left the chat on its way; one that failed did not.
    const snapshot = this.actor.getSnapshot();
    if (snapshot.status !== 'done') this.leaveChat(roomsToLeave(snapshot.context));
    this.deps.log.info(`disconnected ${this.who()}conn=${this.connectionId} (${how})`);
    this.deps.onEnded(this.connectionId);
  }

  /** Signing in claims the login (in the whole cluster, on a cluster node): from here on nobody else can sign in as it. */
  async joinChat(login: string): Promise<JoinResult> {
    this.login = login;
    const outcome = await this.viaStore(() => this.deps.presence.join(this));
    // This node's lease is gone: its link signs everyone out and takes a new one.
    if (outcome === 'fenced') throw new ServiceUnavailableError();
    // Gone while the cluster answered: the claim is given back (`end` found nothing to release yet).
    if (outcome === 'joined' && this.ended) this.deps.presence.release(this);
    return { status: outcome === 'joined' ? 'joined' : 'alreadyOnline' };
  }

  /**
   * A sign-in step that asks the store: on a cluster node, refused at once while Redis is away,
   * and a storage failure is "unavailable" (the sign-in asks again) rather than a server failure.
   */
  private viaStore<T>(step: () => Promise<T>): Promise<T> {
    const { storeAvailable } = this.deps;
    if (!storeAvailable) return step();
    if (!storeAvailable()) return Promise.reject(new ServiceUnavailableError());
    return step().catch((err: unknown) => {
      throw err instanceof StorageError ? new ServiceUnavailableError(err) : err;
    });
  }

  /** Live lines wait until the room's answer (the welcome, the replay) is shown. */
  requestJoin(room: string): void {
    this.link.holdDeliveries();
    // The supervisor may spawn the room: its step runs after ours, not inside it.
    afterThisStep(() => this.deps.supervisor().send({ type: 'room.join', room, member: this }));
  }

  private toRoom(room: string, event: RoomEvent): boolean {
    const ref = this.deps.rooms.get(room)?.ref;
    ref?.send(event);
    return ref !== undefined;
  }

  post(room: string, texts: readonly string[]): void {
    // One line per message refused, as for messages that could not be stored (room.postFailed).
    if (this.deps.storeAvailable?.() === false) return this.link.sendLines(Array<string>(texts.length).fill(text.serviceUnavailable));
    // A room closed a moment ago: its room.closed is on its way; nothing was stored.
    if (!this.toRoom(room, { type: 'room.post', connectionId: this.connectionId, texts })) this.link.sendLines([text.messageNotSaved]);
  }

  leaveRoom(room: string): void {
    this.toRoom(room, { type: 'room.leave', connectionId: this.connectionId });
  }

  /** Leaves every room (the others get leave notices) and the online list. Safe to call twice. */
  leaveChat(rooms: readonly string[]): void {
    for (const room of rooms) this.toRoom(room, { type: 'room.leave', connectionId: this.connectionId });
    if (this.login) this.deps.presence.release(this);
  }

  setTopic(room: string, body: string): void {
    this.toRoom(room, { type: 'room.setTopic', connectionId: this.connectionId, text: body });
  }

  showTopic(room: string): void {
    const topic = this.deps.rooms.get(room)?.topic;
    this.link.sendLines([topic && topic.text ? text.topicIs(room, topic.text, topic.by) : text.noTopic(room)]);
  }

  recall(room: string, limit: number): void {
    if (this.toRoom(room, { type: 'room.recall', connectionId: this.connectionId, limit })) return;
    const answer: RoomReply = { type: 'room.recalled', room, messages: [] };
    queueMicrotask(() => this.actor.send(answer));
  }

  /**
   * `/msg`. To a user online: the message goes behind the sender's messages still being stored
   * (the history writer's queue), so it never overtakes them. To a registered user offline: left
   * for their next sign-in, durably, before the sender is told. The presence is looked at again
   * after the await and, offline still, `leave` is called in the same step: a sign-in after that
   * point finds the message waiting (see OfflineMessageStore.deliver).
   */
  async sendPrivate(to: string, body: string): Promise<PrivateOutcome> {
    const { presence, users, offline } = this.deps;
    const online = presence.find(to);
    if (online) return this.deliverPrivate(online, body);
    const registeredAs = await users.registeredLogin(to);
    if (registeredAs === undefined) return { status: 'unknown', to };
    const now = presence.find(to);
    if (now) return this.deliverPrivate(now, body);
    const { remote } = this.deps;
    if (remote) {
      // Online on another node: to its inbox, which delivers it (or leaves it, if they have gone meanwhile).
      const node = await remote.nodeOf(registeredAs);
      if (node !== undefined && node !== remote.nodeId) {
        await remote.sendTo(node, { kind: 'msg', to: registeredAs, message: { from: this.login, at: isoNow(), text: body } });
        return { status: 'delivered', to: registeredAs, text: body, away: undefined };
      }
      const here = presence.find(to);
      if (here) return this.deliverPrivate(here, body);
    }
    const left = await offline.leave(registeredAs, { from: this.login, at: isoNow(), text: body });
    return left === 'stored' ? { status: 'left', to: registeredAs } : { status: 'full', to: registeredAs };
  }

  private deliverPrivate(target: OnlineUser, body: string): PrivateOutcome {
    if (target === this) return { status: 'toSelf' };
    // Answers keep their order with the join and leave notices still gathering (see `answer`).
    this.deps.rooms.get(LOBBY)?.flushNotices();
    const writer = this.deps.writer();
    if (writer) writer.send({ type: 'history.afterWrites', to: target.login, line: formatPrivateLine(isoNow(), this.login, body) });
    return { status: 'delivered', to: target.login, text: body, away: target instanceof Connection ? target.awayReplyFor(this.login) : undefined };
  }

  /** After the welcome: the private messages left while this user was offline, with their times. */
  deliverWaitingMessages(): void {
    const { offline, log } = this.deps;
    offline
      .deliver(this.login, (messages) => {
        // Gone already: the messages keep waiting for the next sign-in.
        if (this.ended) return false;
        this.link.sendLines([
          text.waitingHeader(messages.length),
          ...messages.map((m) => formatPrivateLine(m.at, m.from, stripTerminalControls(m.text))),
          text.waitingFooter,
        ]);
        return true;
      })
      .catch((err: unknown) => log.info(`error: delivered waiting messages ${this.who()}could not be removed (a restart delivers them again): ${describeCause(err)}`));
  }

  setAway(away: string | undefined): void {
    this.away = away;
    this.awayToldTo = undefined;
  }

  /** The away message for a sender of a /msg, the first time only (IRC's RPL_AWAY, once). */
  private awayReplyFor(sender: string): string | undefined {
    if (this.away === undefined) return undefined;
    const told = (this.awayToldTo ??= new Set());
    const key = loginKey(sender);
    if (told.has(key)) return undefined;
    told.add(key);
    return this.away;
  }

  listOnline(): void {
    const { presence } = this.deps;
    const answer = (logins: string[]) => this.answer([`Online (${logins.length}): ${logins.join(', ')}`]);
    if (!presence.isShared) return answer(presence.logins());
    presence.everyone().then(answer, () => this.link.sendLines([text.serviceUnavailable]));
  }

  listRooms(): void {
    const { remote, rooms } = this.deps;
    if (!remote) {
      const all = rooms.all();
      return this.answer([`Rooms (${all.length}):`, ...roomLines(all)]);
    }
    clusterRooms(remote, rooms).then(
      (all) => this.answer([`Rooms (${all.length}):`, ...roomLines(all)]),
      () => this.link.sendLines([text.serviceUnavailable]),
    );
  }

  listNames(room: string): void {
    const { remote } = this.deps;
    if (remote) {
      remote.namesIn(room).then(
        (logins) => {
          if (logins.length === 0) return this.link.sendLines([text.noSuchRoom(room)]);
          const state = this.deps.rooms.get(room);
          state?.flushNotices();
          const listed = listedLogins(logins, state?.members() ?? []);
          this.link.sendLines([`In ${room} (${listed.length}): ${listed.join(', ')}`]);
        },
        () => this.link.sendLines([text.serviceUnavailable]),
      );
      return;
    }
    const state = this.deps.rooms.get(room);
    if (!state) return this.link.sendLines([text.noSuchRoom(room)]);
    state.flushNotices();
    const logins = state.logins();
    this.link.sendLines([`In ${room} (${logins.length}): ${logins.join(', ')}`]);
  }

  /**
   * An answer about who is online goes out at once (answers keep the order typed), but after the
   * join and leave notices of #lobby still gathering: "Online: alice, bob" before "* bob joined
   * the chat" reads wrong. Delivering those notices early is safe — each was gathered only once
   * everything ahead of it had been delivered.
   */
  private answer(lines: string[]): void {
    this.deps.rooms.get(LOBBY)?.flushNotices();
    this.link.sendLines(lines);
  }

  logEntry(entry: string): void {
    this.deps.log.info(`${entry} ${this.who()}conn=${this.connectionId} from=${this.link.remoteAddress}`);
  }

  reportFailure(error: unknown): void {
    this.deps.log.info(`error conn=${this.connectionId}: ${describeCause(error)}`);
  }

  checkLogin(login: string): Promise<LoginCheck> {
    return this.viaStore(async () => ({ registeredAs: await this.deps.users.registeredLogin(login), online: this.deps.presence.isOnline(login) }));
  }

  async verifyPassword(login: string, password: string, signal: AbortSignal): Promise<boolean> {
    const { throttle, users } = this.deps;
    const key = loginKey(login);
    await throttle.waitTurn(key, signal);
    const ok = await this.viaStore(() => users.verifyPassword(login, password));
    if (ok) throttle.recordSuccess(key);
    else throttle.recordFailure(key);
    return ok;
  }

  /**
   * `/passwd`: a wrong current password counts toward the brute-force slowdown like a wrong one at
   * sign-in (the same key: guessing through /passwd is no faster), and a right one resets it.
   */
  async changePassword(login: string, current: string, next: string, signal: AbortSignal): Promise<PasswordChangeOutcome> {
    const { throttle, users } = this.deps;
    const key = loginKey(login);
    await throttle.waitTurn(key, signal);
    const outcome = await users.changePassword(login, current, next);
    if (outcome === 'changed') throttle.recordSuccess(key);
    else throttle.recordFailure(key);
    return outcome;
  }

  /** `/deleteaccount`, the password checked (verifyPassword) and the login confirmed. */
  async deleteAccount(login: string): Promise<void> {
    await this.deps.users.deleteUser(login);
    // The login is free now: whoever registers it next must not get messages left for this user.
    await this.deps.offline.forget(login);
  }

  /**
   * A new registration starts with nothing waiting — not even a message left for an account
   * deleted a moment before, by a sender who had looked it up just before the deletion.
   */
  async register(login: string, password: string, remoteAddress: string): Promise<RegistrationOutcome> {
    return this.viaStore(async () => {
      const outcome = await this.deps.users.register(login, password, remoteAddress);
      if (outcome === 'registered') await this.deps.offline.forget(login);
      return outcome;
    });
  }

  // The actor's observer, and the line pump's: one subscription, not two (each is an observer
  // object and three bound functions, ~0.2 KB a connection).
  next(_snapshot: SnapshotFrom<typeof connectionMachine>): void {
    this.pump?.next();
  }

  complete(): void {
    this.end('closed');
    this.pump?.complete();
  }

  error(err: unknown): void {
    this.deps.log.info(`error conn=${this.connectionId}: connection actor failed: ${describeCause(err)}`);
    this.link.destroy();
    this.end('actor failed');
    this.pump?.error();
  }

  slowConsumer(unreadBytes: number): void {
    const { config, log } = this.deps;
    log.info(`slow consumer conn=${this.connectionId}: more than ${config.maxSendBufferBytes} bytes unread, disconnected (${unreadBytes} unread)`);
  }

  flooded(): void {
    const { config, log } = this.deps;
    log.info(
      `flooding: ${this.who()}conn=${this.connectionId} kept sending faster than ${config.rateLimitPerSecond} lines a second for ${config.maxFloodMs / 1000} s, disconnected`,
    );
  }
}

/** A cluster's rooms (members on any node), with the topics this node knows. */
export async function clusterRooms(remote: RemoteUsers, rooms: RoomDirectory): Promise<{ name: string; size: number; topic: Topic | undefined }[]> {
  const all = await remote.allRooms();
  return all.map(({ name, size }) => ({ name, size, topic: rooms.topicOf(name) })).sort((a, b) => a.name.localeCompare(b.name));
}

/** `/rooms` and the console's `rooms`: one line per room, aligned. */
export function roomLines(rooms: readonly { name: string; size: number; topic: { text: string } | undefined }[]): string[] {
  const width = Math.max(0, ...rooms.map((r) => r.name.length));
  return rooms.map((r) => {
    const members = `${r.size} ${r.size === 1 ? 'member' : 'members'}`;
    return `  ${r.name.padEnd(width)}  ${members.padEnd(11)}${r.topic?.text ? `  ${r.topic.text}` : ''}`.trimEnd();
  });
}

/** Found from an action's `self`, or from an invoked service's parent. */
const connections = new PerActor<Connection>('connection');

let machineWithEffects: typeof connectionMachine | undefined;

function providedMachine(): typeof connectionMachine {
  return (machineWithEffects ??= connectionMachine.provide({
    actions: {
      send: ({ self }, { lines }) => connections.of(self).link.sendLines(lines),
      closeConnection: ({ self }) => connections.of(self).link.close(),
      requestJoin: ({ self }, { room }) => connections.of(self).requestJoin(room),
      releaseDeliveries: ({ self }) => connections.of(self).link.releaseDeliveries(),
      post: ({ self }, { room, texts }) => connections.of(self).post(room, texts),
      leaveRoom: ({ self }, { room }) => connections.of(self).leaveRoom(room),
      setTopic: ({ self }, { room, text: body }) => connections.of(self).setTopic(room, body),
      showTopic: ({ self }, { room }) => connections.of(self).showTopic(room),
      recall: ({ self }, { room, limit }) => connections.of(self).recall(room, limit),
      deliverWaitingMessages: ({ self }) => connections.of(self).deliverWaitingMessages(),
      listOnline: ({ self }) => connections.of(self).listOnline(),
      setAway: ({ self }, { text: away }) => connections.of(self).setAway(away),
      listRooms: ({ self }) => connections.of(self).listRooms(),
      listNames: ({ self }, { room }) => connections.of(self).listNames(room),
      leaveChat: ({ self }, { rooms }) => connections.of(self).leaveChat(rooms),
      log: ({ self }, { entry }) => connections.of(self).logEntry(entry),
      reportFailure: ({ self, event }) => connections.of(self).reportFailure((event as { error?: unknown }).error),
      reportFlood: ({ self }) => connections.of(self).flooded(),
      reportSlowConsumer: ({ self }, { unreadBytes }) => connections.of(self).slowConsumer(unreadBytes),
      abortConnection: ({ self }) => connections.of(self).link.destroy(),
    },
    actors: {
      loginTimer: fromCallback<{ type: 'timer.loginExpired' }, { ms: number }>(({ input, self, sendBack }) => {
        const timers = connections.of(self._parent).deps.timers ?? systemTimers;
        const timer = timers.setTimeout(() => sendBack({ type: 'timer.loginExpired' }), input.ms);
        return () => timers.clearTimeout(timer);
      }),
      checkLogin: fromPromise<LoginCheck, { login: string }>(({ input, self }) => connections.of(self._parent).checkLogin(input.login)),
      verifyPassword: fromPromise<boolean, { login: string; password: string }>(({ input, self, signal }) =>
        connections.of(self._parent).verifyPassword(input.login, input.password, signal),
      ),
      registerUser: fromPromise<RegistrationOutcome, { login: string; password: string; remoteAddress: string }>(
        ({ input, self }) => connections.of(self._parent).register(input.login, input.password, input.remoteAddress),
      ),
      joinChat: fromPromise<JoinResult, { login: string }>(({ input, self }) => connections.of(self._parent).joinChat(input.login)),
      changePassword: fromPromise<PasswordChangeOutcome, { login: string; password: string; pendingPassword: string }>(
        ({ input, self, signal }) => connections.of(self._parent).changePassword(input.login, input.password, input.pendingPassword, signal),
      ),
      deleteAccount: fromPromise<void, { login: string }>(({ input, self }) => connections.of(self._parent).deleteAccount(input.login)),
      sendPrivate: fromPromise<PrivateOutcome, { to: string; text: string }>(({ input, self }) =>
        connections.of(self._parent).sendPrivate(input.to, input.text),
      ),
    },
  }));
}

export function startConnectionActor(link: ClientLink, deps: ConnectionDeps): ConnectionHandle {
  const { config } = deps;
  const connection = new Connection(link, deps);
  const actor = createActor(providedMachine(), {
    id: link.connectionId,
    parent: deps.root,
    input: {
      connectionId: link.connectionId,
      remoteAddress: link.remoteAddress,
      loginTimeoutMs: config.loginTimeoutMs,
      minPasswordLength: config.minPasswordLength,
      maxPasswordAttempts: config.maxPasswordAttempts,
      historyReplay: config.historyReplay,
      maxLineBytes: config.maxLineBytes,
      ratePerSecond: config.rateLimitPerSecond,
      maxFloodMs: config.maxFloodMs,
    },
  });
  connection.actor = actor;
  connections.set(actor, connection);

  actor.subscribe(connection);
  // `on`, not `once`: a socket closes once anyway, and `once` keeps a wrapper, its state and a
  // bound function per connection for as long as the socket lives (~0.14 KB).
  link.socket.on('close', () => {
    // The machine normally reaches `closed` first; `client.closed` ends it from any state (and a
    // child actor cannot be stopped from outside: see connection-system.ts).
    if (actor.getSnapshot().status === 'active') actor.send({ type: 'client.closed' });
    connection.end('socket closed');
  });

  // Before the actor starts, so that the pump hears every notification (a failed start too).
  // Nothing is read before the start below: socket data comes in a later turn.
  connection.pump = pumpLines(link, actor, config.maxLineBytes, {
    rateLimit: rateLimitOf(config),
    subscribe: false,
    timers: deps.timers,
  });
  deps.inspectActor?.(actor);
  actor.start();
  // The connection is the handle (it has `link` and `actor`): the server keeps one per connection.
  return connection;
}

/** The pump keeps its rate limit for the connection's life: one object per server, not per connection. */
const rateLimits = new WeakMap<ServerConfig, RateLimit>();

function rateLimitOf(config: ServerConfig): RateLimit {
  let limit = rateLimits.get(config);
  if (!limit) rateLimits.set(config, (limit = { perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst }));
  return limit;
}
