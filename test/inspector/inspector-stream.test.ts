/**
 * The inspection stream end to end, without a browser: a real server with `--inspect` on port 0,
 * real TCP clients signing up and in with a known password, and a WebSocket client in the page's
 * place. Nothing it receives may hold the password, its hash, or the key — while it does show
 * the sign-in itself. And a page that stops reading is cut off.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createServer, type RunningServer } from '../../src/actors/server.js';
import { DEFAULTS, type InspectorConfig, type ServerConfig } from '../../src/io/config.js';
import { InspectionHub } from '../../src/inspector/inspection-hub.js';
import type { InspectionMessage } from '../../src/inspector/inspection-messages.js';
import { startInspectorServer } from '../../src/inspector/inspector-server.js';
import { createInspectionHub, type RunningInspector, startInspector } from '../../src/inspector/start-inspector.js';
import { makeDataDir, signIn, TEST_SCRYPT, TestClient } from '../integration/harness.js';
import { createActor, createMachine } from 'xstate';

const PASSWORD = 'Sw0rdfish-Known';
const WRONG_PASSWORD = 'Sw0rdfish-Wrong';
const WAIT_MS = 5000;

interface Running {
  server: RunningServer;
  inspector: RunningInspector;
  dataDir: string;
  logLines: string[];
}
const running: Running[] = [];
afterEach(async () => {
  for (const { server, inspector, dataDir } of running.splice(0)) {
    await server.shutdown();
    await inspector.close();
    TestClient.destroyAll(server.port);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

async function startInspectedServer({ showContent = false }: { showContent?: boolean } = {}): Promise<Running> {
  const dataDir = await makeDataDir();
  const inspectorConfig: InspectorConfig = { kind: 'page', host: '127.0.0.1', port: 0, showContent };
  const config: ServerConfig = { ...DEFAULTS, port: 0, scrypt: TEST_SCRYPT, envKey: undefined, dataDir, inspector: inspectorConfig };
  const hub = createInspectionHub(inspectorConfig);
  const server = await createServer(config, { stdout: new PassThrough(), inspectActor: hub.inspectActor });
  const logLines: string[] = [];
  const inspector = await startInspector(inspectorConfig, hub, server, (line) => logLines.push(line));
  const entry = { server, inspector, dataDir, logLines };
  running.push(entry);
  return entry;
}

/** A WebSocket client in the page's place: every frame it gets, and the messages in them. */
async function connectPage(url: string) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}ws`);
  const frames: string[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(String(data));
    for (const check of waiters) check();
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const messages = () => frames.flatMap((frame) => JSON.parse(frame) as InspectionMessage[]);
  /** Resolves once a received message satisfies `predicate`. */
  const waitFor = (what: string, predicate: (m: InspectionMessage) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!messages().some(predicate)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, WAIT_MS);
      waiters.add(check);
      check();
    });
  return { ws, frames, messages, waitFor, closed };
}

const connectionAt = (state: string) => (m: InspectionMessage) =>
  m.type === '@xstate.snapshot' && JSON.stringify(m.snapshot.value) === state;

describe('the inspection stream', () => {
  it('never carries a password, its hash or the key, through sign-up, failed and good sign-ins', async () => {
    const t = await startInspectedServer({ showContent: true }); // even with --inspect-content
    const page = await connectPage(t.inspector.url!);

    const alice = await signIn(t.server.port, 'alice', PASSWORD); // registers: choose, repeat
    alice.send('/quit');
    await alice.expectClosed();
    const again = await TestClient.connect(t.server.port);
    again.send('alice', WRONG_PASSWORD, PASSWORD);
    await again.expect(/welcome/i);
    await page.waitFor('the second sign-in to reach chatting', connectionAt('{"chatting":"idle"}'));
    await t.server.shutdown();
    await t.inspector.close(); // hands out the last batch, then closes the page
    await page.closed;

    const everything = page.frames.join('\n');
    const clientsCsv = await fs.readFile(`${t.dataDir}/clients.csv`, 'utf8');
    const [, , , , salt, hash] = clientsCsv.split('\n')[1]!.split(',')[3]!.split('$');
    const key = (await fs.readFile(`${t.dataDir}/statechat.key`, 'utf8')).trim();
    for (const secret of [PASSWORD, WRONG_PASSWORD, salt!, hash!, key]) expect(everything).not.toContain(secret);

    // …and yet the stream did follow it all: this test would see a leak.
    const typed = page.messages().filter((m) => m.type === '@xstate.snapshot' && m.event.type === 'client.line');
    expect(typed.map((m) => (m as unknown as { event: { text: string } }).event.text)).toEqual(['alice', '•••', '•••', '/quit', 'alice', '•••', '•••']);
    expect(everything).toContain('"password":"•••"'); // the verifyPassword / registerUser input
    expect(everything).toContain('"login":"alice"');
  });

  it('shows a page that connects mid-sign-up the live state, with the pending password hidden', async () => {
    const t = await startInspectedServer();
    const client = await TestClient.connect(t.server.port);
    client.send('bob');
    await client.expect(/choose a password/i);
    client.send(PASSWORD); // now pendingPassword holds it, waiting for the repeat
    await client.expect(/repeat/i);

    const page = await connectPage(t.inspector.url!);
    await page.waitFor('the replay', (m) => m.type === '@xstate.actor' && m.name === 'c1');

    const replay = page.messages().find((m) => m.type === '@xstate.actor' && m.name === 'c1');
    expect(replay).toMatchObject({
      snapshot: { value: { authenticating: { registering: 'repeatingPassword' } }, context: { login: 'bob', pendingPassword: '•••' } },
    });
    expect(page.frames.join('\n')).not.toContain(PASSWORD);
    // `connections`: the root of the actor system every connection actor shares (c1's parent).
    const announced = page.messages().filter((m) => m.type === '@xstate.actor') as { name: string; sessionId: string; parentId?: string }[];
    expect(announced.map((m) => m.name)).toEqual(['supervisor', 'historyWriter', 'room:#lobby', 'listener', 'connections', 'c1']);
    expect(announced[5]!.parentId).toBe(announced[4]!.sessionId);
    expect(announced[2]!.parentId).toBe(announced[0]!.sessionId);
  });

  it('shows each room actor, a child of the supervisor, with its state and member count', async () => {
    const t = await startInspectedServer();
    const alice = await signIn(t.server.port, 'alice', PASSWORD);
    alice.send('/join #dev');
    await alice.expect(/You joined #dev/);

    const page = await connectPage(t.inspector.url!);
    await page.waitFor('the replay of #dev', (m) => m.type === '@xstate.actor' && m.name === 'room:#dev');
    const replayed = page.messages().find((m) => m.type === '@xstate.actor' && m.name === 'room:#dev');
    expect(replayed).toMatchObject({ snapshot: { value: { open: 'occupied' }, context: { name: '#dev', members: 1 } } });

    const bob = await signIn(t.server.port, 'bob', PASSWORD);
    bob.send('/join #dev');
    await bob.expect(/You joined #dev \(2 members\)/);
    const context = (m: InspectionMessage) => (m.type === '@xstate.snapshot' ? (m.snapshot as { context?: { name?: string; members?: number } }).context : undefined);
    await page.waitFor('#dev with two members', (m) => context(m)?.name === '#dev' && context(m)?.members === 2).catch((err) => {
      console.log(JSON.stringify(page.messages().filter((m) => JSON.stringify(m).includes('#dev')).slice(-5), null, 1).slice(0, 3000));
      throw err;
    });
  });

  /**
   * Alice posts to #lobby and sends bob a /msg; carol signs in after, so the post is replayed to
   * her; the page watched it all. Returns everything the page received.
   */
  async function chatWatched(showContent: boolean) {
    const t = await startInspectedServer({ showContent });
    const page = await connectPage(t.inspector.url!);
    const alice = await signIn(t.server.port, 'alice', PASSWORD);
    const bob = await signIn(t.server.port, 'bob', PASSWORD);
    alice.send(`${POSTED} in the lobby`);
    await bob.expect(POSTED);
    alice.send(`/msg bob ${WHISPERED}`);
    await bob.expect(WHISPERED);
    alice.send('/away at lunch-away-text');
    await alice.expect(/away/i);
    const carol = await signIn(t.server.port, 'carol', PASSWORD);
    expect(carol.replay!.messages.join('\n')).toContain(POSTED); // the post was replayed to her
    await t.server.shutdown();
    await t.inspector.close();
    await page.closed;
    return { everything: page.frames.join('\n'), messages: page.messages() };
  }
  const POSTED = 'lobby-post-5d1e';
  const WHISPERED = 'whisper-9c7a';
  const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

  it('carries no chat text, /msg text, away message or replayed history by default, only their sizes', async () => {
    const { everything, messages } = await chatWatched(false);

    for (const content of [POSTED, WHISPERED, 'lunch-away-text']) expect(everything).not.toContain(content);
    // …while the stream did follow the chat: the events are there, with sizes instead of text.
    const types = new Set(messages.filter((m) => m.type === '@xstate.event').map((m) => (m as { event: { type: string } }).event.type));
    expect(types).toContain('client.line');
    expect(types).toContain('room.joined');
    expect(everything).toContain(`"text":"••• ${`${POSTED} in the lobby`.length} chars"`);
    expect(everything).toMatch(/"recent":"••• [1-9]\d* items?"/); // carol's replay, as a count
    expect(everything).toContain('"login":"carol"'); // who is there stays visible
  });

  it('carries them with --inspect-content, and a replayed message no more often than a live one', async () => {
    const { everything, messages } = await chatWatched(true);

    expect(everything).toContain(POSTED);
    expect(everything).toContain(WHISPERED);
    expect(everything).toContain('lunch-away-text');
    // Each actor step that handles the post carries its text once (in its snapshot, not also in
    // the event before it) — and carol's replay is one such step: one copy, not three.
    const carrying = messages.filter((m) => JSON.stringify(m).includes(POSTED));
    const steps = carrying.map((m) => `${m.type} ${(m as { event?: { type: string } }).event?.type}`);
    expect(steps.every((step) => step.startsWith('@xstate.snapshot '))).toBe(true);
    expect(new Set(steps).size).toBe(steps.length); // no step twice
    expect(steps).toContain('@xstate.snapshot room.joined'); // the replay, once
    expect(carrying.every((m) => count(JSON.stringify(m), POSTED) === 1)).toBe(true);
  });

  it('refuses a WebSocket from another web site', async () => {
    const t = await startInspectedServer();
    const ws = new WebSocket(`${t.inspector.url!.replace(/^http/, 'ws')}ws`, { origin: 'http://evil.example' });

    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', (err) => resolve(err.message));
    });

    expect(outcome).toMatch(/403/);
  });
});

describe('a slow page', () => {
  it('is disconnected once more than the bound waits unread for it, and the stream goes on', async () => {
    const hub = new InspectionHub({ flushIntervalMs: 1_000_000 }); // batches are flushed by hand below
    const logLines: string[] = [];
    const inspector = await startInspectorServer({ host: '127.0.0.1', port: 0, hub, maxBufferedBytes: 64 * 1024, log: (l) => logLines.push(l) });
    try {
      // A page that completes the handshake and then never reads again.
      const socket = net.connect(inspector.port, '127.0.0.1');
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${inspector.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.pause();
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => {});
      expect(inspector.pageCount).toBe(1);

      const busy = createActor(createMachine({ id: 'busy', on: { big: {} } }));
      hub.inspectActor(busy);
      busy.start();
      const payload = 'x'.repeat(16 * 1024);
      // Each round queues ~3 MiB; the kernel's buffers fill, then `bufferedAmount` passes the bound.
      for (let round = 0; round < 200 && inspector.pageCount > 0; round++) {
        for (let i = 0; i < 100; i++) busy.send({ type: 'big', payload } as never);
        hub.flush();
        await new Promise((resolve) => setImmediate(resolve));
      }

      expect(inspector.pageCount).toBe(0);
      socket.resume(); // a paused socket notices no close: read (and drop) what was sent
      await closed;
      expect(logLines.join('\n')).toMatch(/fell more than 65536 bytes behind and was disconnected/);
      expect(hub.subscriberCount).toBe(0); // nobody left: recording has stopped
    } finally {
      await inspector.close();
    }
  });
});
