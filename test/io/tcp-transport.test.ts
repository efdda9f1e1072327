/**
 * The TCP and TLS transport (src/io/tcp-transport.ts) on real loopback sockets, port 0: what is
 * accepted and when, held connections, dismissed ones, the handshakes still going on, and the
 * client side's connect. Every wait is for an event of the sockets themselves.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import net, { type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PortInUseError } from '../../src/io/errors.js';
import { connectTcp, createTcpAcceptor, type TcpAcceptorOptions } from '../../src/io/tcp-transport.js';
import type { Acceptor, Transport } from '../../src/io/transport.js';

let dir: string;
let cert: Buffer;
let key: Buffer;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-tcp-transport-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '1', '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  [cert, key] = await Promise.all([fs.readFile(certFile), fs.readFile(keyFile)]);
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

/** An acceptor on 127.0.0.1 and a free port, recording what it reports. */
interface Harness {
  acceptor: Acceptor;
  port: number;
  failed: string[];
  refused: string[];
  /** The next connection accepted. */
  nextAccepted(): Promise<Socket>;
}

const open: Array<{ acceptor: Acceptor; sockets: Set<Socket> }> = [];

async function listen(options: TcpAcceptorOptions = {}): Promise<Harness> {
  const accepted: Socket[] = [];
  const waiters: Array<(socket: Socket) => void> = [];
  const failed: string[] = [];
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  const acceptor = createTcpAcceptor(options, {
    accepted(connection: Transport) {
      const socket = connection as Socket;
      sockets.add(socket);
      const waiter = waiters.shift();
      if (waiter) waiter(socket);
      else accepted.push(socket);
    },
    failed: (code) => failed.push(code),
    refused: (why) => refused.push(why),
  });
  open.push({ acceptor, sockets });
  const port = await acceptor.listen('127.0.0.1', 0);
  return {
    acceptor,
    port,
    failed,
    refused,
    nextAccepted: () => {
      const ready = accepted.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

const clients = new Set<Socket>();
function connect(port: number): net.Socket {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  clients.add(socket);
  return socket;
}

/** Resolves once `socket` has closed (events.once would reject on an 'error' first). */
const closed = (socket: Socket): Promise<void> => new Promise((resolve) => socket.once('close', () => resolve()));

/** Everything the peer sends until it closes its side. */
async function readAll(socket: Socket): Promise<string> {
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  await once(socket, 'end');
  return text;
}

afterEach(async () => {
  for (const client of clients) client.destroy();
  clients.clear();
  await Promise.all(
    open.splice(0).map(({ acceptor, sockets }) => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => acceptor.close(resolve));
    }),
  );
});

describe('plain TCP acceptor', () => {
  it('listens on the port it resolves with, and accepts a connection paused, its input kept for whoever serves it', async () => {
    const h = await listen();
    expect(h.port).toBeGreaterThan(0);
    const client = connect(h.port);
    client.write('typed ahead\n');
    const socket = await h.nextAccepted();
    expect(socket.isPaused()).toBe(true);
    expect(socket.remoteAddress).toBe('127.0.0.1');
    expect(h.acceptor.settingUp).toBe(0);
    socket.setEncoding('utf8');
    socket.resume();
    const [chunk] = await once(socket, 'data');
    expect(chunk).toBe('typed ahead\n');
  });

  it('keeps a connection writable after its client half-closes', async () => {
    const h = await listen();
    const client = connect(h.port);
    const socket = await h.nextAccepted();
    const reply = readAll(client);
    client.end('bye\n');
    socket.resume();
    await once(socket, 'end');
    socket.end('see you\n');
    expect(await reply).toBe('see you\n');
  });

  it('rejects a port in use with PortInUseError, without reporting it as a failure', async () => {
    const h = await listen();
    const second = createTcpAcceptor({}, { accepted: () => {}, failed: (code) => h.failed.push(code), refused: () => {} });
    const attempt = second.listen('127.0.0.1', h.port);
    await expect(attempt).rejects.toThrow(PortInUseError);
    await expect(attempt).rejects.toMatchObject({ host: '127.0.0.1', port: h.port });
    expect(h.failed).toEqual([]);
  });

  it('rejects any other bind error as it is', async () => {
    const acceptor = createTcpAcceptor({}, { accepted: () => {}, failed: () => {}, refused: () => {} });
    await expect(acceptor.listen('192.0.2.1', 0)).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });

  it('drops connections beyond maxConnections, reporting each as EMFILE', async () => {
    const h = await listen({ maxConnections: 1 });
    connect(h.port);
    await h.nextAccepted();
    const dropped = connect(h.port);
    await closed(dropped);
    expect(h.failed).toEqual(['EMFILE, 1 connections open']);
  });

  it('calls back on close once the connections it accepted have ended, not before', async () => {
    const h = await listen();
    connect(h.port);
    const socket = await h.nextAccepted();
    let calledBack = false;
    const acceptorClosed = new Promise<void>((resolve) =>
      h.acceptor.close(() => {
        calledBack = true;
        resolve();
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(calledBack).toBe(false);
    socket.destroy();
    await acceptorClosed;
    open.pop(); // closed already
  });
});

describe('watchHeld', () => {
  it('tells when a held client leaves without having typed anything', async () => {
    const h = await listen();
    const client = connect(h.port);
    const socket = await h.nextAccepted();
    const gone = new Promise<void>((resolve) => h.acceptor.watchHeld(socket, resolve));
    client.end();
    await gone;
    expect(socket.destroyed).toBe(true);
  });

  it('tells when a held client resets, without an unhandled error', async () => {
    const h = await listen();
    const client = connect(h.port);
    const socket = await h.nextAccepted();
    const gone = new Promise<void>((resolve) => h.acceptor.watchHeld(socket, resolve));
    client.resetAndDestroy();
    await gone;
    expect(socket.destroyed).toBe(true);
  });

  it('once stopped, leaves the connection to whoever serves it: its input flows, its half-close is theirs', async () => {
    const h = await listen();
    const client = connect(h.port);
    const socket = await h.nextAccepted();
    let goneCalls = 0;
    const stop = h.acceptor.watchHeld(socket, () => goneCalls++);
    const socketClosed = closed(socket);
    const reply = readAll(client);
    client.end('typed ahead\n');
    stop();
    socket.resume();
    const input = await readAll(socket);
    socket.end(`got ${input}`);
    expect(await reply).toBe('got typed ahead\n');
    await socketClosed;
    expect(goneCalls).toBe(0);
  });
});

describe('dismiss', () => {
  it('sends the last line and closes, reading what the client sends meanwhile', async () => {
    const h = await listen();
    const client = connect(h.port);
    const socket = await h.nextAccepted();
    const received = readAll(client);
    // The server's socket sees the client's end only if it reads: a close by the 2 s grace (for a
    // client that never closes) destroys it without one. So 'end' before 'close' says which it was.
    let endedFirst = false;
    socket.once('end', () => (endedFirst = !socket.destroyed));
    h.acceptor.dismiss(socket, Buffer.from('server busy\n'));
    const socketClosed = closed(socket);
    expect(await received).toBe('server busy\n');
    client.end('ignored\n');
    await socketClosed;
    expect(endedFirst).toBe(true);
  });

  it('cuts off a client that never closes its side, after a grace of 2 s', async () => {
    const h = await listen();
    connect(h.port);
    const socket = await h.nextAccepted();
    const start = performance.now();
    const socketClosed = closed(socket);
    h.acceptor.dismiss(socket, Buffer.from('server busy\n'));
    await socketClosed;
    expect(performance.now() - start).toBeGreaterThanOrEqual(1900);
  });

  it('survives a client that resets instead of closing', async () => {
    const h = await listen();
    const client = connect(h.port);
    const socket = await h.nextAccepted();
    const socketClosed = closed(socket);
    h.acceptor.dismiss(socket, Buffer.from('server busy\n'));
    client.resetAndDestroy();
    await socketClosed;
    expect(socket.destroyed).toBe(true);
  });
});

describe('TLS acceptor', () => {
  const tlsOptions = (handshakeTimeoutMs = 10_000): TcpAcceptorOptions => ({ tls: { cert, key, handshakeTimeoutMs } });

  it('accepts a connection once its handshake is done, paused, and counts it as set up no longer', async () => {
    const h = await listen(tlsOptions());
    const client = tls.connect({ host: '127.0.0.1', port: h.port, ca: cert, servername: 'localhost' });
    client.on('error', () => {});
    clients.add(client);
    client.write('hello\n');
    const socket = await h.nextAccepted();
    expect(socket).toBeInstanceOf(tls.TLSSocket);
    expect(socket.isPaused()).toBe(true);
    expect(h.acceptor.settingUp).toBe(0);
    socket.setEncoding('utf8');
    socket.resume();
    const [chunk] = await once(socket, 'data');
    expect(chunk).toBe('hello\n');
  });

  it('counts each connection whose handshake is going on, until it leaves', async () => {
    const h = await listen(tlsOptions());
    const first = connect(h.port);
    const second = connect(h.port);
    await Promise.all([once(first, 'connect'), once(second, 'connect')]);
    // Both are counted once the server has seen them: a third, full connection is the barrier.
    const client = tls.connect({ host: '127.0.0.1', port: h.port, ca: cert, servername: 'localhost' });
    client.on('error', () => {});
    clients.add(client);
    await h.nextAccepted();
    expect(h.acceptor.settingUp).toBe(2);
    first.write('not a TLS hello\n');
    second.write('nor this\n');
    await Promise.all([closed(first), closed(second)]);
    expect(h.acceptor.settingUp).toBe(0);
  });

  it('refuses a client that does not speak TLS, saying from where, and closes it', async () => {
    const h = await listen(tlsOptions());
    const client = connect(h.port);
    client.write('GET / HTTP/1.0\r\n\r\n');
    await closed(client);
    expect(h.refused).toHaveLength(1);
    expect(h.refused[0]).toMatch(/^TLS handshake failed from=127\.0\.0\.1: .+/);
  });

  it('cuts off a handshake that does not finish in time', async () => {
    const h = await listen(tlsOptions(100));
    const client = connect(h.port);
    await closed(client);
    expect(h.refused).toHaveLength(1);
    expect(h.refused[0]).toMatch(/^TLS handshake failed from=127\.0\.0\.1: .*timed? ?out/i);
  });

  it('drops the handshakes still going on when it closes, so that closing does not wait for them', async () => {
    const h = await listen(tlsOptions());
    const client = connect(h.port);
    await once(client, 'connect');
    const barrier = tls.connect({ host: '127.0.0.1', port: h.port, ca: cert, servername: 'localhost' });
    barrier.on('error', () => {});
    clients.add(barrier);
    (await h.nextAccepted()).destroy();
    expect(h.acceptor.settingUp).toBe(1);
    const clientClosed = closed(client);
    const acceptorClosed = new Promise<void>((resolve) => h.acceptor.close(resolve));
    expect(h.acceptor.settingUp).toBe(0);
    await clientClosed;
    await acceptorClosed;
    open.pop();
  });
});

describe('connectTcp', () => {
  it('connects in plain TCP and gives the data as text, a character split across chunks whole', async () => {
    const h = await listen();
    let established = 0;
    const connected = new Promise<void>((resolve) => {
      const client = connectTcp({ host: '127.0.0.1', port: h.port, onEstablished: () => (established++, resolve()) });
      clients.add(client as Socket);
    });
    const client = [...clients].at(-1) as unknown as ReturnType<typeof connectTcp>;
    client.on('error', () => {});
    const socket = await h.nextAccepted();
    await connected;
    expect(established).toBe(1);
    const chunks: string[] = [];
    client.on('data', (text) => chunks.push(text));
    const euro = Buffer.from('a€b\n');
    socket.write(euro.subarray(0, 2));
    await new Promise((resolve) => socket.write(Buffer.alloc(0), resolve));
    socket.end(euro.subarray(2));
    await once(client as Socket, 'end');
    expect(chunks.every((chunk) => typeof chunk === 'string')).toBe(true);
    expect(chunks.join('')).toBe('a€b\n');
  });

  it('connects with TLS, established only once the certificate is verified, sending the host name as SNI', async () => {
    const h = await listen({ tls: { cert, key, handshakeTimeoutMs: 10_000 } });
    const seen: Array<{ authorized: boolean; encrypted: boolean }> = [];
    let established!: () => void;
    const isEstablished = new Promise<void>((resolve) => (established = resolve));
    const client = connectTcp({
      host: 'localhost',
      port: h.port,
      tls: { verify: true, ca: cert },
      onEstablished: () => {
        const socket = client as tls.TLSSocket;
        seen.push({ authorized: socket.authorized, encrypted: socket.encrypted });
        established();
      },
    });
    clients.add(client as Socket);
    client.on('error', () => {});
    const socket = (await h.nextAccepted()) as tls.TLSSocket;
    expect(socket.servername).toBe('localhost');
    await isEstablished;
    expect(seen).toEqual([{ authorized: true, encrypted: true }]);
  });

  it('sends no SNI for an IP address, which is still checked against the certificate', async () => {
    const h = await listen({ tls: { cert, key, handshakeTimeoutMs: 10_000 } });
    const client = connectTcp({ host: '127.0.0.1', port: h.port, tls: { verify: true, ca: cert }, onEstablished: () => {} });
    clients.add(client as Socket);
    client.on('error', () => {});
    const socket = (await h.nextAccepted()) as tls.TLSSocket;
    expect(socket.servername).toBeFalsy();
  });

  it('refuses a certificate it cannot verify, unless told not to verify', async () => {
    const h = await listen({ tls: { cert, key, handshakeTimeoutMs: 10_000 } });
    const established: string[] = [];
    const strict = connectTcp({ host: 'localhost', port: h.port, tls: { verify: true }, onEstablished: () => established.push('strict') });
    clients.add(strict as Socket);
    const errors: NodeJS.ErrnoException[] = [];
    strict.on('error', (err) => errors.push(err));
    await closed(strict as Socket);
    expect(errors.map((err) => err.code)).toEqual(['DEPTH_ZERO_SELF_SIGNED_CERT']);

    const laxUp = new Promise<void>((resolve) => {
      const lax = connectTcp({ host: 'localhost', port: h.port, tls: { verify: false }, onEstablished: () => (established.push('lax'), resolve()) });
      clients.add(lax as Socket);
      lax.on('error', () => {});
    });
    await h.nextAccepted();
    await laxUp;
    expect(established).toEqual(['lax']);
  });
});
