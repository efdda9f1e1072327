/**
 * The connection actor: one per accepted socket, running the connection machine with its real
 * effects — socket writes, the user store, the throttle, the chat router and room.
 * Each actor is a child of the server's inert connections root (connection-system.ts), so that
 * all connections share one actor system; not of the supervisor machine (xstate copies a
 * machine's children map on every spawn, which makes 10,000 connections quadratic): the server
 * tracks them in a plain Map instead. A failure (an action throws, a service rejects
 * unexpectedly) stops only this actor: its socket is closed, the error is logged, the server goes on.
 */
import { type Actor, type AnyActorRef, createActor, fromCallback, fromPromise, type SnapshotFrom } from 'xstate';
import type { ServerConfig } from '../io/config.js';
import { isoNow, systemTimers, type Timers } from '../io/clock.js';
import { describeCause } from '../io/errors.js';
import type { HistoryStore, UserStore } from '../io/stores.js';
import { connectionMachine, type JoinResult, type LoginCheck } from '../machines/connection.js';
import { type ChatMessage, formatPrivateLine, loginKey, text } from '../machines/protocol.js';
import type { RateLimit } from '../machines/rate-limit.js';
import type { ChatMember } from './chat-room.js';
import type { ChatRouter } from './chat-router.js';
import { type ConnectionsRoot, PerActor } from './connection-system.js';
import { encodeLines, type ClientLink } from './client-link.js';
import { type LinePump, pumpLines } from './line-pump.js';
import type { LoginThrottle } from './login-throttle.js';
import type { ServerLog } from './server-log.js';

export interface ConnectionDeps {
  config: ServerConfig;
  users: UserStore;
  history: HistoryStore;
  router: ChatRouter;
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
}

export interface ConnectionHandle {
  readonly link: ClientLink;
  readonly actor: Actor<typeof connectionMachine>;
}

/**
 * One connection's state and effects. Every connection runs the *same* provided machine, whose
 * implementations find their connection from the actor they run for (`self`, or an invoked
 * service's parent): `machine.provide()` per connection rebuilt the whole state-node tree each
 * time — ~30 KB of heap and ~0.3 ms of CPU per connection. And they are methods rather than
 * closures: tsx compiles with esbuild's keepNames, which gives every *named* closure its own
 * property dictionary (~0.3 KB); the 25 closures each connection made were ~8 KB of its heap
 * (bench/, scenario 3).
 */
class Connection {
  member: Member | undefined;
  actor!: Actor<typeof connectionMachine>;
  /** Fed by this connection's observer (see `next`); set before the actor starts. */
  pump: LinePump | undefined;
  private ended = false;

  constructor(
    readonly link: ClientLink,
    readonly deps: ConnectionDeps,
  ) {}

  get id(): string {
    return this.link.connectionId;
  }

  /** How the log names this connection's user, if it has one yet. */
  who(): string {
    const login = this.actor.getSnapshot().context.login;
    return login ? `${this.deps.log.pseudonym(login)} ` : '';
  }

  /**
   * Everything this connection routes (chat messages, private messages, /history, its leave
   * notice) enters the router's one queue synchronously, from the action that decided it, so it
   * comes out in the order the user typed: a /msg or a leave notice never overtakes the user's
   * last message, a /history reply includes it. (Safe inside a step: the router runs nothing
   * before the step is over — its steps start from promise callbacks.)
   */
  route<T>(step: () => T | Promise<T>, opts?: { notices?: boolean }): Promise<T> {
    return this.deps.router.enqueue(step, opts);
  }

  leaveRoom(): void {
    const { member } = this;
    if (!member || !this.deps.router.room.leave(member)) return;
    void this.route(() => this.deps.router.notice(text.left(member.login), member), { notices: true });
  }

  end(how: string): void {
    if (this.ended) return;
    this.ended = true;
    this.leaveRoom();
    this.deps.log.info(`disconnected ${this.who()}conn=${this.id} (${how})`);
    this.deps.onEnded(this.id);
  }

  /**
   * Straight to the router, not through the supervisor machine: a chat message is data, not a
   * decision of the control plane, and a supervisor step per message was a tenth of the server's
   * CPU at full fan-out (bench/, scenario 1). The message is stored before anyone receives it.
   */
  postMessage(body: string): void {
    const member = this.member!;
    const message: ChatMessage = { at: isoNow(), login: member.login, text: body };
    this.deps.router.post(message, member).catch((err: unknown) => {
      this.deps.log.info(`error: history append failed, message refused: ${describeCause(err)}`);
      this.link.sendLines([text.messageNotSaved]);
    });
  }

  /**
   * The answer to the sender comes at once, like every other answer, so answers keep the order
   * of the lines typed; the message itself goes through the router, so it never overtakes the
   * sender's chat messages to its recipient.
   */
  sendPrivate(to: string, body: string): void {
    const from = this.member!;
    const target = this.deps.router.room.find(to);
    if (!target || target === from) {
      this.answer([target ? 'That is you.' : `No user named ${to} is online.`]);
      return;
    }
    this.answer([`(private to ${target.login}) ${body}`]);
    const line = encodeLines([formatPrivateLine(isoNow(), from.login, body)]);
    void this.route(() => target.deliver(line));
  }

  listOnline(): void {
    const logins = this.deps.router.room.logins();
    this.answer([`Online (${logins.length}): ${logins.join(', ')}`]);
  }

  /**
   * An answer about who is online goes out at once (answers keep the order typed), but after the
   * join and leave notices still gathering: "Online: alice, bob" before "* bob joined the chat"
   * reads wrong. Delivering those notices early is safe — each was gathered by a router step that
   * ran after everything routed before it had been delivered.
   */
  private answer(lines: string[]): void {
    this.deps.router.flushNotices();
    this.link.sendLines(lines);
  }

  logEntry(entry: string): void {
    this.deps.log.info(`${entry} ${this.who()}conn=${this.id} from=${this.link.remoteAddress}`);
  }

  reportFailure(error: unknown): void {
    this.deps.log.info(`error conn=${this.id}: ${describeCause(error)}`);
  }

  async checkLogin(login: string): Promise<LoginCheck> {
    return { registeredAs: await this.deps.users.registeredLogin(login), online: this.deps.router.room.isOnline(login) };
  }

  async verifyPassword(login: string, password: string, signal: AbortSignal): Promise<boolean> {
    const { throttle, users } = this.deps;
    const key = loginKey(login);
    await throttle.waitTurn(key, signal);
    const ok = await users.verifyPassword(login, password);
    if (ok) throttle.recordSuccess(key);
    else throttle.recordFailure(key);
    return ok;
  }

  /** Behind the router, so the user's own messages still being stored are included. */
  loadHistory(limit: number): Promise<ChatMessage[]> {
    return this.route(() => this.deps.history.recent(limit));
  }

  join(login: string, historyReplay: number): Promise<JoinResult> {
    const { router, history } = this.deps;
    const candidate = new Member(this.id, login, this.link, this.actor);
    // Joining is a step of the router: the replay holds exactly what was delivered before
    // the join, and live deliveries are held until the welcome is out — none lost, none twice.
    return router.enqueue(
      async () => {
        const recent = history.recent(historyReplay);
        if (!router.room.join(candidate)) return { status: 'alreadyOnline' } as const;
        this.member = candidate;
        this.link.holdDeliveries();
        router.notice(text.joined(login), candidate);
        return { status: 'joined', recent: await recent } as const;
      },
      { notices: true },
    );
  }

  // The actor's observer, and the line pump's: one subscription, not two (each is an observer
  // object and three bound functions, ~0.2 KB a connection).
  next(snapshot: SnapshotFrom<typeof connectionMachine>): void {
    if (this.link.isHoldingDeliveries && snapshot.matches('chatting')) this.link.releaseDeliveries();
    this.pump?.next();
  }

  complete(): void {
    this.end('closed');
    this.pump?.complete();
  }

  error(err: unknown): void {
    this.deps.log.info(`error conn=${this.id}: connection actor failed: ${describeCause(err)}`);
    this.link.destroy();
    this.end('actor failed');
    this.pump?.error();
  }

  flooded(): void {
    const { config, log } = this.deps;
    log.info(
      `flooding: ${this.who()}conn=${this.id} kept sending faster than ${config.rateLimitPerSecond} lines a second for ${config.maxFloodMs / 1000} s, disconnected`,
    );
  }
}

/** A connection as the chat room sees it. */
class Member implements ChatMember {
  constructor(
    readonly connectionId: string,
    readonly login: string,
    private readonly link: ClientLink,
    private readonly actor: Actor<typeof connectionMachine>,
  ) {}

  deliver(bytes: Buffer): void {
    this.link.deliver(bytes);
  }

  kick(): void {
    this.actor.send({ type: 'server.kick' });
  }
}

/** Found from an action's `self`, or from an invoked service's parent. */
const connections = new PerActor<Connection>('connection');

let machineWithEffects: typeof connectionMachine | undefined;

function providedMachine(): typeof connectionMachine {
  return (machineWithEffects ??= connectionMachine.provide({
    actions: {
      send: ({ self }, { lines }) => connections.of(self).link.sendLines(lines),
      closeConnection: ({ self }) => connections.of(self).link.close(),
      postMessage: ({ self }, { text: body }) => connections.of(self).postMessage(body),
      postMessages: ({ self }, { texts }) => {
        const connection = connections.of(self);
        for (const body of texts) connection.postMessage(body);
      },
      sendPrivate: ({ self }, { to, text: body }) => connections.of(self).sendPrivate(to, body),
      listOnline: ({ self }) => connections.of(self).listOnline(),
      leaveChat: ({ self }) => connections.of(self).leaveRoom(),
      log: ({ self }, { entry }) => connections.of(self).logEntry(entry),
      reportFailure: ({ self, event }) => connections.of(self).reportFailure((event as { error?: unknown }).error),
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
      registerUser: fromPromise<'registered' | 'taken', { login: string; password: string; remoteAddress: string }>(
        ({ input, self }) => connections.of(self._parent).deps.users.register(input.login, input.password, input.remoteAddress),
      ),
      loadHistory: fromPromise<ChatMessage[], { limit: number }>(({ input, self }) => connections.of(self._parent).loadHistory(input.limit)),
      joinChat: fromPromise<JoinResult, { login: string; historyReplay: number }>(({ input, self }) =>
        connections.of(self._parent).join(input.login, input.historyReplay),
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
    maxFloodMs: config.maxFloodMs,
    onFlood: connection.flooded.bind(connection),
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
