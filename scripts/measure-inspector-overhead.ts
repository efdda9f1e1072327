/**
 * What `--inspect` costs the chat: 10,000 chat messages through a real server (TCP in, history
 * append, delivery to another client), timed without the inspector, with the inspector and no
 * page, and with a subscriber that takes every batch (a page's work minus the WebSocket).
 * Alternates the three, several rounds, and prints the median wall and CPU time of each.
 *
 *   node --expose-gc --import tsx scripts/measure-inspector-overhead.ts [messages] [rounds]
 *
 * Each round runs the three in a different order, after a full GC when --expose-gc allows it, so
 * that no mode always pays for the garbage the one before it left.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createServer } from '../src/actors/server.js';
import { DEFAULTS, type ServerConfig } from '../src/io/config.js';
import { InspectionHub } from '../src/inspector/inspection-hub.js';

const MESSAGES = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 5);
type Mode = 'no inspector' | 'inspector, no page' | 'inspector, one subscriber';

async function run(mode: Mode): Promise<{ ms: number; cpuMs: number; batches: number; bytes: number }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-overhead-'));
  const config: ServerConfig = { ...DEFAULTS, port: 0, dataDir, scrypt: { N: 1024, r: 8, p: 1 }, envKey: undefined, historyReplay: 0 };
  // No input rate limit (`--rate-limit 0`): this measures the chat pipeline, not the limiter.
  Object.assign(config, { rateLimitPerSecond: 0 });
  const hub = mode === 'no inspector' ? undefined : new InspectionHub();
  const server = await createServer(config, { stdout: new PassThrough(), inspectActor: hub?.inspectActor });
  hub?.setLiveActors(() => [server.supervisor, server.listener.actor, ...[...server.connections.values()].map((c) => c.actor)]);
  let batches = 0;
  let bytes = 0;
  if (mode === 'inspector, one subscriber') {
    hub!.subscribe({
      deliver(batch) {
        batches++;
        bytes += `[${batch.join(',')}]`.length; // what a page's frame would be
      },
    });
  }
  try {
    const sender = await signedIn(server.port, 'sender');
    const receiver = await signedIn(server.port, 'receiver');
    let received = 0;
    const allReceived = new Promise<void>((resolve) => {
      receiver.on('data', (chunk: Buffer) => {
        for (const byte of chunk) if (byte === 10) received++;
        if (received >= MESSAGES) resolve();
      });
    });
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    const lines = Array.from({ length: MESSAGES }, (_, i) => `message ${i} with some ordinary chat text\n`).join('');
    sender.write(lines);
    await allReceived;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    sender.destroy();
    receiver.destroy();
    return { ms, cpuMs, batches, bytes };
  } finally {
    await server.shutdown();
    hub?.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

/** Registers `login` and waits for the end of the welcome; returns the socket. */
async function signedIn(port: number, login: string): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  let seen = '';
  const until = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!pattern.test(seen)) return;
        socket.off('data', onData);
        seen = '';
        resolve();
      };
      const onData = (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        check();
      };
      socket.on('data', onData);
    });
  await until(/login:/);
  socket.write(`${login}\n`);
  await until(/password/i);
  socket.write('secret-pass\n');
  await until(/repeat/i);
  socket.write('secret-pass\n');
  await until(/Welcome/);
  return socket;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const modes: Mode[] = ['no inspector', 'inspector, no page', 'inspector, one subscriber'];
const times = new Map<Mode, number[]>(modes.map((m) => [m, []]));
const cpuTimes = new Map<Mode, number[]>(modes.map((m) => [m, []]));
await run('no inspector'); // warm-up: JIT, file system
const collectGarbage = (globalThis as { gc?: () => void }).gc;
for (let round = 0; round < ROUNDS; round++) {
  const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
  for (const mode of order) {
    collectGarbage?.();
    const { ms, cpuMs, batches, bytes } = await run(mode);
    times.get(mode)!.push(ms);
    cpuTimes.get(mode)!.push(cpuMs);
    if (round === 0 && batches > 0) console.log(`  (${mode}: ${batches} batches, ${(bytes / 1e6).toFixed(1)} MB of JSON)`);
  }
}
// Wall time is what a user feels; CPU time (this process: server and clients) is steadier on a busy machine.
for (const [what, samples] of [['wall', times], ['cpu', cpuTimes]] as const) {
  const base = median(samples.get('no inspector')!);
  for (const mode of modes) {
    const m = median(samples.get(mode)!);
    const all = samples.get(mode)!.map((t) => t.toFixed(0)).join(', ');
    console.log(`${what} ${mode.padEnd(26)} median ${m.toFixed(0)} ms for ${MESSAGES} messages (${((m / base - 1) * 100).toFixed(1)}% vs none)  [${all}]`);
  }
}
