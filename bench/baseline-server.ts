/**
 * The baseline: the best a plain `node:net` chat server does on this machine, to compare statechat
 * with. Same line framing (src/io/line-framer.ts), same chat line format, same slow-consumer
 * bound, per-turn batched writes — and nothing else: no auth (a client's first line is its name),
 * no history, no log, no actors.
 *
 * Rooms, as naively as the one room: everyone starts in #lobby; `/join #name` (created if new)
 * answers with statechat's own lines — `You joined #name (N members). Lines you type now go to
 * #name.` and, since the baseline keeps no history, `--- no messages yet ---` — and from then on
 * the client's plain lines go to the other members of that room, as `[YYYY-MM-DD HH:MM:SS] #name <alice> hi`
 * (#lobby's still read `[YYYY-MM-DD HH:MM:SS] alice: hi`). A member stays in every room it joined, as in
 * statechat. No join/leave notices, no other commands (any other line is chat).
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
import { LOBBY, roomKey, roomNameProblem, text } from '../src/machines/protocol.js';

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
  /** The room plain lines go to. */
  room = LOBBY;
  /** Every room joined (#lobby first), to leave them all on close. */
  readonly rooms: Set<Client>[] = [];
  /** Deliveries of the current turn (concat mode). */
  pending: Buffer[] = [];
  pendingBytes = 0;
  dirty = false;
  readonly framer = new LineFramer(MAX_LINE);
  constructor(readonly socket: Socket) {}
}

/** Members by room key; #lobby holds everyone signed in. */
const rooms = new Map<string, Set<Client>>([[LOBBY, new Set()]]);
const clients = rooms.get(LOBBY)!;
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

function broadcast(from: Client, chat: string): void {
  const where = from.room === LOBBY ? `${from.name}:` : `${from.room} <${from.name}>`;
  const now = new Date().toISOString();
  const line = `[${now.slice(0, 10)} ${now.slice(11, 19)}] ${where} ${chat}\r\n`;
  const bytes = Buffer.from(line, 'utf8'); // encoded once for every recipient
  for (const client of rooms.get(from.room)!) if (client !== from) send(client, bytes);
}

function reply(client: Client, ...lines: string[]): void {
  send(client, Buffer.from(lines.map((line) => `${line}\r\n`).join(''), 'utf8'));
}

function join(client: Client, name: string): void {
  const problem = roomNameProblem(name);
  if (problem) return reply(client, problem);
  const room = roomKey(name);
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  client.room = room;
  if (members.has(client)) return reply(client, text.nowTalkingIn(room));
  members.add(client);
  client.rooms.push(members);
  reply(client, text.joinedRoom(room, members.size), text.noHistory);
}

function leaveAll(client: Client): void {
  for (const members of client.rooms) members.delete(client);
  for (const [room, members] of rooms) if (members.size === 0 && room !== LOBBY) rooms.delete(room);
}

const server = net.createServer({ noDelay: true }, (socket) => {
  const client = new Client(socket);
  socket.on('data', (chunk: Buffer) => {
    for (const line of client.framer.push(chunk)) {
      if (line.kind !== 'line') continue;
      if (client.name === undefined) {
        client.name = line.text.trim() || `c${clients.size + 1}`;
        clients.add(client);
        client.rooms.push(clients);
        send(client, Buffer.from(`Welcome, ${client.name}!\r\n`));
      } else if (line.text.startsWith('/join ')) {
        join(client, line.text.slice(6).trim());
      } else if (line.text.length > 0) {
        broadcast(client, line.text);
      }
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => leaveAll(client));
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
