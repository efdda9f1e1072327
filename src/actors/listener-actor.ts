/**
 * The listener actor: an acceptor (transport.ts; TCP or TLS in tcp-transport.ts) driven by the
 * listener machine. A connection held while listening is paused is neither served nor greeted —
 * it simply waits (what it types is kept for later, and hanging up frees its place), and is
 * handed over in arrival order on `start listen`.
 */
import { type Actor, type AnyActorRef, createActor, fromPromise, waitFor } from 'xstate';
import { describeCause, StatechatError } from '../io/errors.js';
import { openFileLimit } from '../io/open-file-limit.js';
import { createTcpAcceptor } from '../io/tcp-transport.js';
import type { Transport } from '../io/transport.js';
import { listenerMachine, type ListenerNotice } from '../machines/listener.js';
import { text } from '../machines/protocol.js';
import { afterThisStep } from './after-this-step.js';
import { encodeLines } from './client-link.js';
import type { ServerLog } from './server-log.js';

export interface ListenerOptions {
  host: string;
  port: number;
  maxWaiting: number;
  log: ServerLog;
  /** Starts a connection actor for a socket that is to be served now. */
  serve(connection: Transport, connectionId: string): void;
  /** Hands the listener's actor to the live inspector (src/inspector/) before it starts, if there is one. */
  inspectActor?: (actor: AnyActorRef) => void;
  /** Speak TLS with this PEM certificate (chain) and key; plain TCP when omitted. */
  tls?: { cert: Buffer; key: Buffer; handshakeTimeoutMs: number };
}

export interface Listener {
  readonly actor: Actor<typeof listenerMachine>;
  readonly port: number;
  /** How many connections are waiting while paused. */
  readonly waiting: number;
  /** TLS: how many accepted connections are still in their handshake (0 for plain TCP). */
  readonly handshaking: number;
  /** Stops accepting and closes held connections (served ones are the supervisor's to close). */
  stop(): void;
  /** Resolves once the listening socket is closed and every connection it accepted has ended. */
  readonly closed: Promise<void>;
}

/** EMFILE and friends are logged at most this often; accept itself is retried by libuv. */
const ACCEPT_ERROR_LOG_INTERVAL_MS = 1000;

/**
 * File descriptors kept free for everything that is not a client socket (data files, the log,
 * stdio, the inspector). Out of descriptors, libuv silently accepts-and-closes new connections
 * (its EMFILE trick), so Node never reports it; capping connections just below the limit makes
 * the server drop the excess itself — and say so — while the files it must write stay openable.
 */
const FD_RESERVE = 32;

export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { log } = options;
  /** Accepted connections not yet served or held, by connection id (for one machine step). */
  const arriving = new Map<string, Transport>();
  /** Held connections in arrival order, each with what stops watching it (see `hold`). */
  const waiting = new Map<string, { socket: Transport; unwatch(): void }>();
  let nextId = 1;
  let lastAcceptErrorLog = 0;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  let bindError: unknown;

  const notices: Record<ListenerNotice, (detail?: string) => string> = {
    listening: (port) => `listening on ${options.host}:${port}`,
    paused: () => 'listening paused: new connections wait until "start listen"',
    resumed: () => 'listening resumed',
    alreadyPaused: () => 'listening is already paused',
    alreadyAccepting: () => 'already listening',
    heldForStore: () => 'listening paused while the cluster\'s store (Redis) does not answer: new connections wait until it does',
    resumesWhenStoreAnswers: () => 'listening resumes as soon as the cluster\'s store (Redis) answers again',
    stillPausedByOperator: () => 'the cluster\'s store (Redis) answers again; listening stays paused until "start listen"',
    stopped: () => 'listener stopped',
    acceptFailed: (code) => `accept failed (${code}); backing off, live sessions are unaffected`,
  };

  const fdLimit = openFileLimit();
  const acceptor = createTcpAcceptor(
    { tls: options.tls, maxConnections: fdLimit === undefined ? undefined : Math.max(1, fdLimit - FD_RESERVE) },
    {
      accepted: (connection) => accepted(connection),
      // Out of descriptors: the listener backs off by refusing until some close.
      failed: (code) => actor.send({ type: 'listener.acceptFailed', code }),
      refused: (why) => log.info(why),
    },
  );

  const take = (connectionId: string) => {
    const socket = arriving.get(connectionId);
    arriving.delete(connectionId);
    return socket;
  };

  const actor = createActor(
    listenerMachine.provide({
      actors: {
        bind: fromPromise(({ input }) =>
          acceptor.listen(input.host, input.port).then(
            (port) => ({ port }),
            (err: unknown) => {
              bindError = err;
              throw err;
            },
          ),
        ),
      },
      actions: {
        handOver: (_, { connectionId }) => {
          const socket = take(connectionId);
          if (socket) afterThisStep(() => !socket.destroyed && options.serve(socket, connectionId));
        },
        hold: (_, { connectionId }) => {
          const socket = take(connectionId);
          if (!socket) return;
          const unwatch = acceptor.watchHeld(socket, () => {
            if (!waiting.delete(connectionId)) return;
            log.info(`held connection conn=${connectionId} closed by its client before it was served`);
            actor.send({ type: 'connection.abandoned', connectionId });
          });
          waiting.set(connectionId, { socket, unwatch });
          log.info(`connection held conn=${connectionId} from=${socket.remoteAddress} (listening paused, ${waiting.size} waiting)`);
        },
        turnAway: (_, { connectionId }) => {
          const socket = take(connectionId);
          if (!socket) return;
          acceptor.dismiss(socket, encodeLines([text.serverBusy]));
          log.info(`connection turned away conn=${connectionId}: waiting queue full`);
        },
        releaseWaiting: () => {
          const held = [...waiting];
          waiting.clear();
          for (const [, { unwatch }] of held) unwatch();
          afterThisStep(() => {
            for (const [connectionId, { socket }] of held) if (!socket.destroyed) options.serve(socket, connectionId);
          });
        },
        closeServer: () => {
          acceptor.close(() => markClosed());
          for (const { socket, unwatch } of waiting.values()) {
            unwatch();
            acceptor.dismiss(socket, encodeLines([text.shuttingDown]));
          }
          waiting.clear();
        },
        notify: (_, { notice, detail }) => {
          if (notice === 'acceptFailed') {
            const now = Date.now();
            if (now - lastAcceptErrorLog < ACCEPT_ERROR_LOG_INTERVAL_MS) return;
            lastAcceptErrorLog = now;
          }
          log.info(notices[notice](detail));
        },
      },
    }),
    { id: 'listener', input: { host: options.host, port: options.port, maxWaiting: options.maxWaiting } },
  );

  const accepted = (socket: Transport) => {
    const connectionId = `c${nextId++}`;
    arriving.set(connectionId, socket);
    log.info(`connected conn=${connectionId} from=${socket.remoteAddress}`);
    actor.send({ type: 'connection.accepted', connectionId });
    // Whatever the machine decided, the connection has left `arriving`; a stopped listener drops it.
    const unclaimed = take(connectionId);
    unclaimed?.destroy();
  };

  actor.subscribe({ error: (err) => log.info(`error: listener actor failed: ${describeCause(err)}`) });
  options.inspectActor?.(actor);
  actor.start();
  const settled = await waitFor(actor, (s) => s.status !== 'active' || s.value !== 'binding');
  if (settled.value !== 'accepting') {
    acceptor.close(() => {});
    throw bindError instanceof StatechatError
      ? bindError
      : new StatechatError('STATECHAT_ERR_LISTEN', `cannot listen on ${options.host}:${options.port}: ${describeCause(bindError)}`);
  }

  return {
    actor,
    get port() {
      return actor.getSnapshot().context.boundPort ?? options.port;
    },
    get waiting() {
      return waiting.size;
    },
    get handshaking() {
      return acceptor.settingUp;
    },
    stop() {
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'listener.stop' });
    },
    closed,
  };
}
