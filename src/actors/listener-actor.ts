/**
 * The listener actor: the net.Server, driven by the listener machine. Sockets are accepted
 * with `pauseOnConnect`, so a connection held while listening is paused is neither served nor
 * greeted — it simply waits (what it types is kept for later, and hanging up frees its place),
 * and is handed over in arrival order on `start listen`.
 *
 * With TLS (`tls` option) the server is a tls.Server and a connection reaches the machine only
 * once its handshake is done ('secureConnection'): a held TLS client has its handshake completed
 * — the OS and OpenSSL do that much — but gets no application byte until it is served, exactly
 * like a plain one. A handshake that does not finish within `handshakeTimeoutMs` is cut off, and
 * one still in progress at shutdown is dropped, so neither can hold the shutdown up.
 */
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { type Actor, type AnyActorRef, createActor, fromPromise, waitFor } from 'xstate';
import { describeCause, PortInUseError, StatechatError } from '../io/errors.js';
import { listenerMachine, type ListenerNotice } from '../machines/listener.js';
import { text } from '../machines/protocol.js';
import { openFileLimit } from '../io/open-file-limit.js';
import { afterThisStep } from './after-this-step.js';
import { encodeLines } from './client-link.js';
import type { ServerLog } from './server-log.js';

export interface ListenerOptions {
  host: string;
  port: number;
  maxWaiting: number;
  log: ServerLog;
  /** Starts a connection actor for a socket that is to be served now. */
  serve(socket: Socket, connectionId: string): void;
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
  const socketOptions = { pauseOnConnect: true, allowHalfOpen: true, noDelay: true };
  const server = options.tls
    ? tls.createServer({
        ...socketOptions,
        cert: options.tls.cert,
        key: options.tls.key,
        minVersion: 'TLSv1.2',
        handshakeTimeout: options.tls.handshakeTimeoutMs,
      })
    : net.createServer(socketOptions);
  /** TLS: raw sockets whose handshake is still going on, by remote address and port. */
  const handshaking = new Map<string, Socket>();
  const endpoint = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
  /** Accepted sockets not yet served or held, by connection id (for one machine step). */
  const arriving = new Map<string, Socket>();
  /** Held sockets in arrival order, each with what stops watching it (see `hold`). */
  const waiting = new Map<string, { socket: Socket; unwatch(): void }>();
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
    stopped: () => 'listener stopped',
    acceptFailed: (code) => `accept failed (${code}); backing off, live sessions are unaffected`,
  };

  const take = (connectionId: string) => {
    const socket = arriving.get(connectionId);
    arriving.delete(connectionId);
    return socket;
  };

  const actor = createActor(
    listenerMachine.provide({
      actors: {
        bind: fromPromise(
          ({ input }) =>
            new Promise<{ port: number }>((resolve, reject) => {
              const onError = (err: NodeJS.ErrnoException) => {
                bindError = err.code === 'EADDRINUSE' ? new PortInUseError(input.host, input.port) : err;
                reject(bindError);
              };
              server.once('error', onError);
              server.listen({ host: input.host, port: input.port }, () => {
                server.off('error', onError);
                resolve({ port: (server.address() as net.AddressInfo).port });
              });
            }),
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
          // A held socket is read but not consumed, so that a client who gives up is noticed and
          // its place freed. What it typed ahead stays buffered for its connection actor (at most
          // a highWaterMark: then TCP pushes back). `read(0)` turns an end of input with nothing
          // buffered into 'end'; a client that typed ahead and then half-closed is still served.
          const onReadable = () => socket.read(0);
          const onEnd = () => socket.destroy();
          const onClose = () => {
            if (!waiting.delete(connectionId)) return;
            log.info(`held connection conn=${connectionId} closed by its client before it was served`);
            actor.send({ type: 'connection.abandoned', connectionId });
          };
          socket.on('error', () => {});
          socket.on('readable', onReadable);
          socket.once('end', onEnd);
          socket.once('close', onClose);
          const unwatch = () => {
            socket.off('readable', onReadable);
            socket.off('end', onEnd);
            socket.off('close', onClose);
          };
          waiting.set(connectionId, { socket, unwatch });
          log.info(`connection held conn=${connectionId} from=${socket.remoteAddress} (listening paused, ${waiting.size} waiting)`);
        },
        turnAway: (_, { connectionId }) => {
          const socket = take(connectionId);
          if (!socket) return;
          dismiss(socket, text.serverBusy);
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
          server.close(() => markClosed());
          for (const raw of handshaking.values()) raw.destroy();
          handshaking.clear();
          for (const { socket, unwatch } of waiting.values()) {
            unwatch();
            dismiss(socket, text.shuttingDown);
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

  const accepted = (socket: Socket) => {
    const connectionId = `c${nextId++}`;
    arriving.set(connectionId, socket);
    log.info(`connected conn=${connectionId} from=${socket.remoteAddress}`);
    actor.send({ type: 'connection.accepted', connectionId });
    // Whatever the machine decided, the socket has left `arriving`; a stopped listener drops it.
    const unclaimed = take(connectionId);
    unclaimed?.destroy();
  };
  if (server instanceof tls.Server) {
    server.on('connection', (raw: Socket) => {
      const key = endpoint(raw);
      handshaking.set(key, raw);
      raw.once('close', () => handshaking.get(key) === raw && handshaking.delete(key));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      handshaking.delete(endpoint(socket));
      accepted(socket);
    });
    // Not secured (a plain-TCP client, no shared cipher, a handshake timeout, a reset): Node
    // leaves such a socket open once this event has a listener, so it is closed here.
    server.on('tlsClientError', (err, socket) => {
      log.info(`TLS handshake failed from=${socket.remoteAddress ?? 'unknown'}: ${describeCause(err)}`);
      socket.destroy();
    });
  } else {
    server.on('connection', accepted);
  }
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (actor.getSnapshot().value === 'binding') return; // the bind actor reports it
    actor.send({ type: 'listener.acceptFailed', code: err.code ?? describeCause(err) });
  });
  const fdLimit = openFileLimit();
  if (fdLimit !== undefined) {
    server.maxConnections = Math.max(1, fdLimit - FD_RESERVE);
    // Node closes the dropped connection itself; the listener backs off by refusing until some close.
    server.on('drop', () => actor.send({ type: 'listener.acceptFailed', code: `EMFILE, ${server.maxConnections} connections open` }));
  }

  actor.subscribe({ error: (err) => log.info(`error: listener actor failed: ${describeCause(err)}`) });
  options.inspectActor?.(actor);
  actor.start();
  const settled = await waitFor(actor, (s) => s.status !== 'active' || s.value !== 'binding');
  if (settled.value !== 'accepting') {
    server.close();
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
      return handshaking.size;
    },
    stop() {
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'listener.stop' });
    },
    closed,
  };
}

/** How long a dismissed connection may take to close its side before it is cut off. */
const DISMISS_GRACE_MS = 2000;

/**
 * Says a last line to a socket that was never served, and closes it. The socket was accepted
 * paused: unless it is read, the client's FIN is never seen and (the server being half-open)
 * the socket never closes — an fd leaked per busy refusal, and a shutdown that waits forever for
 * `server.close()`. So its input is read and dropped, and a client that never closes its side
 * is cut off after a grace period.
 */
function dismiss(socket: Socket, line: string): void {
  socket.on('error', () => {});
  socket.end(encodeLines([line]));
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), DISMISS_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
