/**
 * The baseline: the best a plain `node:net` chat server does on this machine, to compare statechat
 * with. Same line framing (src/io/line-framer.ts), same chat line format, same slow-consumer
 * bound, per-turn batched writes — and nothing else: no auth (a client's first line is its name),
 * no history, no log, no actors.
 *
 *   node --import tsx bench/baseline-server.ts [--port 0] [--host 127.0.0.1] [--batch concat|cork]
 *
 * Prints `listening on HOST:PORT` once accepting. Stops on SIGTERM/SIGINT or stdin's `shutdown`.
 * Batching: `concat` (default) keeps each socket's deliveries of a turn in an array and writes them
 * as one buffer when the turn ends; `cork` corks the socket on its first write of the turn and
 * uncorks it at the end (what statechat's ClientLink does). Either way: one syscall per socket per turn.
 */
import net, { type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { LineFramer } from '../src/io/line-framer.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    batch: { type: 'string', default: 'concat' },
    'max-line': { type: 'string', default: '4096' },
  },
});
const HOST = values.host!;
const MAX_LINE = Number(values['max-line']);
const MAX_UNREAD = 1 << 20;
const CORK = values.batch === 'cork';

class Client {
  name: string | undefined;
  /** Deliveries of the current turn (concat mode). */
  pending: Buffer[] = [];
  pendingBytes = 0;
  dirty = false;
  readonly framer = new LineFramer(MAX_LINE);
  constructor(readonly socket: Socket) {}
}

const clients = new Set<Client>();
const dirty: Client[] = [];
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  for (const client of dirty) {
    client.dirty = false;
    if (CORK) {
      client.socket.uncork();
      continue;
    }
    const { pending } = client;
    if (pending.length === 0) continue;
    client.socket.write(pending.length === 1 ? pending[0] : Buffer.concat(pending, client.pendingBytes));
    client.pending = [];
    client.pendingBytes = 0;
  }
  dirty.length = 0;
}

function send(client: Client, bytes: Buffer): void {
  const { socket } = client;
  if (socket.destroyed) return;
  if (socket.writableLength + client.pendingBytes + bytes.length > MAX_UNREAD) {
    socket.destroy(); // a slow consumer, as statechat does
    return;
  }
  if (!client.dirty) {
    client.dirty = true;
    dirty.push(client);
    if (CORK) socket.cork();
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }
  if (CORK) {
    socket.write(bytes);
  } else {
    client.pending.push(bytes);
    client.pendingBytes += bytes.length;
  }
}

function broadcast(from: Client, text: string): void {
  const line = `[${new Date().toISOString().slice(11, 19)}] ${from.name}: ${text}\r\n`;
  const bytes = Buffer.from(line, 'utf8'); // encoded once for every recipient
  for (const client of clients) if (client !== from) send(client, bytes);
}

const server = net.createServer({ noDelay: true }, (socket) => {
  const client = new Client(socket);
  socket.on('data', (chunk: Buffer) => {
    for (const line of client.framer.push(chunk)) {
      if (line.kind !== 'line') continue;
      if (client.name === undefined) {
        client.name = line.text.trim() || `c${clients.size + 1}`;
        clients.add(client);
        send(client, Buffer.from(`Welcome, ${client.name}!\r\n`));
      } else if (line.text.length > 0) {
        broadcast(client, line.text);
      }
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => clients.delete(client));
});

server.listen({ host: HOST, port: Number(values.port) }, () => {
  const { port } = server.address() as net.AddressInfo;
  process.stdout.write(`baseline listening on ${HOST}:${port}\n`);
});

const stop = () => {
  server.close();
  for (const client of clients) client.socket.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (text: string) => {
  if (/^\s*shutdown\s*$/m.test(text)) stop();
});
process.stdin.on('error', () => {});
