/**
 * The connection actor: one per accepted socket, running the connection machine with its real
 * effects — socket writes, the user store, the throttle, the chat room, the supervisor.
 * Each actor is a root actor (not a child of the supervisor: xstate copies a parent's children
 * map on every spawn, which makes 10,000 connections quadratic); the supervisor actor tracks
 * them in a plain Map instead. A failure (an action throws, a service rejects unexpectedly)
 * stops only this actor: its socket is closed, the error is logged, the server goes on.
 */
import { type Actor, type ActorSystem, type AnyActorRef, createActor, fromPromise } from 'xstate';
import type { ServerConfig } from '../io/config.js';
import { describeCause } from '../io/errors.js';
import type { HistoryStore, UserStore } from '../io/stores.js';
import { connectionMachine, type JoinResult, type LoginCheck } from '../machines/connection.js';
import { type ChatMessage, formatPrivateLine, loginKey, text } from '../machines/protocol.js';
import { afterThisStep } from './after-this-step.js';
import type { ChatMember } from './chat-room.js';
import type { ChatRouter } from './chat-router.js';
import { encodeLines, type ClientLink } from './client-link.js';
import { pumpLines } from './line-pump.js';
import type { LoginThrottle } from './login-throttle.js';
import type { ServerLog } from './server-log.js';

export interface ConnectionDeps {
  config: ServerConfig;
  users: UserStore;
  history: HistoryStore;
  router: ChatRouter;
  throttle: LoginThrottle;
  log: ServerLog;
  /** Hands a chat message to the supervisor, which stores it and then delivers it. Called after the step that posted it. */
  postMessage(connectionId: string, login: string, text: string): void;
  /** Called once when the connection has ended, however it ended. */
  onEnded(connectionId: string): void;
  /** Hands the actor to the live inspector (src/inspector/) before it starts, if there is one. */
  inspectActor?: (actor: AnyActorRef) => void;
}

export interface ConnectionHandle {
  readonly link: ClientLink;
  readonly actor: Actor<typeof connectionMachine>;
}

type Implementations = NonNullable<Parameters<typeof connectionMachine.provide>[0]>;
type Actions = Required<NonNullable<Implementations['actions']>>;
type PromiseArgs<Input> = { input: Input; signal: AbortSignal };

/** One connection's effects: closures over its socket, its room member and the stores. */
interface ConnectionEffects {
  actions: Actions;
  actors: {
    checkLogin(args: PromiseArgs<{ login: string }>): Promise<LoginCheck>;
    verifyPassword(args: PromiseArgs<{ login: string; password: string }>): Promise<boolean>;
    registerUser(args: PromiseArgs<{ login: string; password: string; remoteAddress: string }>): Promise<'registered' | 'taken'>;
    loadHistory(args: PromiseArgs<{ limit: number }>): Promise<ChatMessage[]>;
    joinChat(args: PromiseArgs<{ login: string; historyReplay: number }>): Promise<JoinResult>;
  };
}

/**
 * Every connection runs the *same* provided machine; its implementations find the connection's
 * own effects through the actor's system (each root actor has its own). `machine.provide()` per
 * connection rebuilt the whole state-node tree each time: ~30 KB of heap and ~0.3 ms of CPU per
 * connection (bench/, scenario 3).
 */
const effectsBySystem = new WeakMap<ActorSystem<any>, ConnectionEffects>();

function effectsOf(system: ActorSystem<any>): ConnectionEffects {
  const effects = effectsBySystem.get(system);
  if (!effects) throw new Error('no effects registered for this connection actor');
  return effects;
}

let machineWithEffects: typeof connectionMachine | undefined;

function providedMachine(): typeof connectionMachine {
  return (machineWithEffects ??= connectionMachine.provide({
    actions: {
      send: (args, params) => effectsOf(args.system).actions.send(args, params),
      closeConnection: (args, params) => effectsOf(args.system).actions.closeConnection(args, params),
      postMessage: (args, params) => effectsOf(args.system).actions.postMessage(args, params),
      sendPrivate: (args, params) => effectsOf(args.system).actions.sendPrivate(args, params),
      listOnline: (args, params) => effectsOf(args.system).actions.listOnline(args, params),
      leaveChat: (args, params) => effectsOf(args.system).actions.leaveChat(args, params),
      log: (args, params) => effectsOf(args.system).actions.log(args, params),
      reportFailure: (args, params) => effectsOf(args.system).actions.reportFailure(args, params),
    },
    actors: {
      checkLogin: fromPromise<LoginCheck, { login: string }>(({ input, system, signal }) =>
        effectsOf(system).actors.checkLogin({ input, signal }),
      ),
      verifyPassword: fromPromise<boolean, { login: string; password: string }>(({ input, system, signal }) =>
        effectsOf(system).actors.verifyPassword({ input, signal }),
      ),
      registerUser: fromPromise<'registered' | 'taken', { login: string; password: string; remoteAddress: string }>(
        ({ input, system, signal }) => effectsOf(system).actors.registerUser({ input, signal }),
      ),
      loadHistory: fromPromise<ChatMessage[], { limit: number }>(({ input, system, signal }) =>
        effectsOf(system).actors.loadHistory({ input, signal }),
      ),
      joinChat: fromPromise<JoinResult, { login: string; historyReplay: number }>(({ input, system, signal }) =>
        effectsOf(system).actors.joinChat({ input, signal }),
      ),
    },
  }));
}

export function startConnectionActor(link: ClientLink, deps: ConnectionDeps): ConnectionHandle {
  const { config, users, history, router, throttle, log } = deps;
  const { room } = router;
  const id = link.connectionId;
  let member: ChatMember | undefined;
  let ended = false;

  const who = () => {
    const login = actor.getSnapshot().context.login;
    return login ? `${log.pseudonym(login)} ` : '';
  };

  /**
   * Everything this connection routes (private messages, /history, its leave notice) goes
   * through here. Its chat messages reach the router only once the current step is over (they
   * go to the supervisor with `afterThisStep`); routing anything else from the same step at once
   * would overtake them — a /msg or a leave notice ahead of the user's last message, a /history
   * reply without it. Deferring both the same way keeps the order in which the user typed.
   */
  const route = <T>(step: () => T | Promise<T>, opts?: { notices?: boolean }): Promise<T> =>
    new Promise<T>((resolve, reject) => afterThisStep(() => router.enqueue(step, opts).then(resolve, reject)));

  const leaveRoom = () => {
    if (!member || !room.leave(member)) return;
    const left = member;
    void route(() => router.notice(text.left(left.login), left), { notices: true });
  };

  const end = (how: string) => {
    if (ended) return;
    ended = true;
    leaveRoom();
    log.info(`disconnected ${who()}conn=${id} (${how})`);
    deps.onEnded(id);
  };

  const effects: ConnectionEffects = {
    actions: {
      send: (_, { lines }) => link.sendLines(lines),
      closeConnection: () => link.close(),
      postMessage: (_, { text: body }) => {
        const { login } = member!;
        afterThisStep(() => deps.postMessage(id, login, body));
      },
      sendPrivate: (_, { to, text: body }) => {
        const from = member!;
        // Through the router, so a private message never overtakes the sender's chat messages.
        void route(() => {
          const target = room.find(to);
          if (!target || target === from) {
            link.sendLines([target ? 'That is you.' : `No user named ${to} is online.`]);
            return;
          }
          target.deliver(encodeLines([formatPrivateLine(new Date().toISOString(), from.login, body)]));
          link.sendLines([`(private to ${target.login}) ${body}`]);
        });
      },
      listOnline: () => {
        const logins = room.logins();
        link.sendLines([`Online (${logins.length}): ${logins.join(', ')}`]);
      },
      leaveChat: leaveRoom,
      log: (_, { entry }) => log.info(`${entry} ${who()}conn=${id} from=${link.remoteAddress}`),
      reportFailure: ({ event }) =>
        log.info(`error conn=${id}: ${describeCause((event as { error?: unknown }).error)}`),
    },
    actors: {
      checkLogin: async ({ input }) => ({
        registeredAs: await users.registeredLogin(input.login),
        online: room.isOnline(input.login),
      }),
      verifyPassword: async ({ input, signal }) => {
        const key = loginKey(input.login);
        await throttle.waitTurn(key, signal);
        const ok = await users.verifyPassword(input.login, input.password);
        if (ok) throttle.recordSuccess(key);
        else throttle.recordFailure(key);
        return ok;
      },
      registerUser: ({ input }) => users.register(input.login, input.password, input.remoteAddress),
      // Behind the router, so the user's own messages still being stored are included.
      loadHistory: ({ input }) => route(() => history.recent(input.limit)),
      joinChat: async ({ input }) => {
        const candidate: ChatMember = {
          connectionId: id,
          login: input.login,
          deliver: (bytes) => link.deliver(bytes),
          kick: () => actor.send({ type: 'server.kick' }),
        };
        // Joining is a step of the router: the replay holds exactly what was delivered before
        // the join, and live deliveries are held until the welcome is out — none lost, none twice.
        return router.enqueue(async () => {
          const recent = history.recent(input.historyReplay);
          if (!room.join(candidate)) return { status: 'alreadyOnline' } as const;
          member = candidate;
          link.holdDeliveries();
          router.notice(text.joined(input.login), candidate);
          return { status: 'joined', recent: await recent } as const;
        }, { notices: true });
      },
    },
  };

  const actor = createActor(providedMachine(), {
    id,
    input: {
      connectionId: id,
      remoteAddress: link.remoteAddress,
      loginTimeoutMs: config.loginTimeoutMs,
      minPasswordLength: config.minPasswordLength,
      maxPasswordAttempts: config.maxPasswordAttempts,
      historyReplay: config.historyReplay,
      maxLineBytes: config.maxLineBytes,
    },
  });

  actor.subscribe({
    next: (snapshot) => {
      if (snapshot.matches('chatting')) link.releaseDeliveries();
    },
    complete: () => end('closed'),
    error: (err) => {
      log.info(`error conn=${id}: connection actor failed: ${describeCause(err)}`);
      link.destroy();
      end('actor failed');
    },
  });
  link.socket.once('close', () => {
    // The machine normally reaches `closed` first; if it is stuck in a service, stop it here.
    if (actor.getSnapshot().status === 'active') actor.send({ type: 'client.closed' });
    if (actor.getSnapshot().status === 'active') actor.stop();
    end('socket closed');
  });

  effectsBySystem.set(actor.system, effects);
  deps.inspectActor?.(actor);
  actor.start();
  pumpLines(link, actor, config.maxLineBytes, {
    rateLimit: { perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst },
    maxFloodMs: config.maxFloodMs,
    onFlood: () => log.info(`flooding: ${who()}conn=${id} kept sending faster than ${config.rateLimitPerSecond} lines a second for ${config.maxFloodMs / 1000} s, disconnected`),
  });
  return { link, actor };
}
