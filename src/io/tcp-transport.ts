/**
 * The TCP and TLS transport (transport.ts): the only module that touches `node:net` and
 * `node:tls`. A net.Socket or tls.TLSSocket is a Transport as it is — no wrapper object per
 * connection — and the acceptor is a net.Server or tls.Server.
 *
 * Connections are accepted with `pauseOnConnect`, so one held while listening is paused is
 * neither served nor greeted — it simply waits. With TLS a connection is accepted only once its
 * handshake is done ('secureConnection'): a held TLS client has its handshake completed (the OS
 * and OpenSSL do that much) but gets no application byte until it is served, like a plain one.
 * A handshake that does not finish within `handshakeTimeoutMs` is cut off, and one still in
 * progress at close is dropped, so neither can hold a shutdown up.
 */
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { describeCause, PortInUseError } from './errors.js';
import type { Acceptor, AcceptorEvents, Transport } from './transport.js';

export interface TcpAcceptorOptions {
  /** Speak TLS with this PEM certificate (chain) and key; plain TCP when omitted. */
  tls?: { cert: Buffer; key: Buffer; handshakeTimeoutMs: number };
  /** Connections beyond this are dropped by Node itself (reported as `failed`); none if omitted. */
  maxConnections?: number;
}

/** How long a dismissed connection may take to close its side before it is cut off. */
const DISMISS_GRACE_MS = 2000;

export function createTcpAcceptor(options: TcpAcceptorOptions, events: AcceptorEvents): Acceptor {
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
  let binding = false;

  if (server instanceof tls.Server) {
    server.on('connection', (raw: Socket) => {
      const key = endpoint(raw);
      handshaking.set(key, raw);
      raw.once('close', () => handshaking.get(key) === raw && handshaking.delete(key));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      handshaking.delete(endpoint(socket));
      events.accepted(socket);
    });
    // Not secured (a plain-TCP client, no shared cipher, a handshake timeout, a reset): Node
    // leaves such a socket open once this event has a listener, so it is closed here.
    server.on('tlsClientError', (err, socket) => {
      events.refused(`TLS handshake failed from=${socket.remoteAddress ?? 'unknown'}: ${describeCause(err)}`);
      socket.destroy();
    });
  } else {
    server.on('connection', (socket: Socket) => events.accepted(socket));
  }
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (!binding) events.failed(err.code ?? describeCause(err)); // while binding, listen() reports it
  });
  if (options.maxConnections !== undefined) {
    server.maxConnections = options.maxConnections;
    server.on('drop', () => events.failed(`EMFILE, ${server.maxConnections} connections open`));
  }

  return {
    listen: (host, port) =>
      new Promise<number>((resolve, reject) => {
        binding = true;
        const onError = (err: NodeJS.ErrnoException) => {
          binding = false;
          reject(err.code === 'EADDRINUSE' ? new PortInUseError(host, port) : err);
        };
        server.once('error', onError);
        server.listen({ host, port }, () => {
          binding = false;
          server.off('error', onError);
          resolve((server.address() as net.AddressInfo).port);
        });
      }),
    close(onClosed) {
      server.close(() => onClosed());
      for (const raw of handshaking.values()) raw.destroy();
      handshaking.clear();
    },
    get settingUp() {
      return handshaking.size;
    },
    watchHeld(connection, onGone) {
      const socket = connection as Socket;
      // Read but not consumed, so that a client who gives up is noticed and its place freed.
      // What it typed ahead stays buffered (at most a highWaterMark: then TCP pushes back).
      // `read(0)` turns an end of input with nothing buffered into 'end'; a client that typed
      // ahead and then half-closed is still served.
      const onReadable = () => socket.read(0);
      const onEnd = () => socket.destroy();
      socket.on('error', () => {});
      socket.on('readable', onReadable);
      socket.once('end', onEnd);
      socket.once('close', onGone);
      return () => {
        socket.off('readable', onReadable);
        socket.off('end', onEnd);
        socket.off('close', onGone);
      };
    },
    dismiss,
  };
}

/**
 * A last line to a connection that was never served, then close. It was accepted paused: unless
 * it is read, the client's FIN is never seen and (the server being half-open) it never closes —
 * an fd leaked per busy refusal, and a shutdown that waits forever for `server.close()`. So its
 * input is read and dropped, and a client that never closes its side is cut off after a grace.
 */
function dismiss(connection: Transport, line: Buffer): void {
  connection.on('error', () => {});
  connection.end(line);
  connection.resume();
  const timer = setTimeout(() => connection.destroy(), DISMISS_GRACE_MS);
  timer.unref();
  connection.once('close', () => clearTimeout(timer));
}

/** What the terminal client needs of its connection to the server. */
export interface ClientTransport {
  readonly destroyed: boolean;
  setTimeout(ms: number, onTimeout?: () => void): unknown;
  write(text: string): unknown;
  end(): unknown;
  destroy(error?: Error): unknown;
  on(event: 'data', listener: (text: string) => void): unknown;
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

export interface ConnectOptions {
  host: string;
  port: number;
  /** TLS: whether to verify the server's certificate, and a CA to trust besides the system's. */
  tls?: { verify: boolean; ca?: Buffer };
  /** Called once the connection (for TLS: the handshake, the certificate verified) is up. */
  onEstablished: () => void;
}

/**
 * Connects to a statechat server; `onEstablished` once the connection (and TLS handshake) is up.
 * 'data' is UTF-8 text (multi-byte characters split across chunks decoded).
 */
export function connectTcp({ host, port, tls: secure, onEstablished }: ConnectOptions): ClientTransport {
  const socket = secure
    ? tls.connect({
        host,
        port,
        // SNI takes a host name only; an IP address is still checked against the certificate.
        servername: net.isIP(host) ? undefined : host,
        rejectUnauthorized: secure.verify,
        ...(secure.verify && secure.ca ? { ca: [...tls.rootCertificates, secure.ca.toString('utf8')] } : {}),
      })
    : net.connect({ host, port });
  socket.setEncoding('utf8');
  socket.setNoDelay(true);
  socket.once(secure ? 'secureConnect' : 'connect', onEstablished);
  return socket;
}
