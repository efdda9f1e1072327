/**
 * `--inspect-ws`: the stream sent to an external inspector — here a WebSocket server standing in
 * for `@statelyai/inspect`'s: one JSON message per frame, full machine definitions, a fresh replay
 * after every reconnection.
 */
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { createActor, createMachine } from 'xstate';
import { createServer, type RunningServer } from '../../src/actors/server.js';
import { DEFAULTS, type InspectorConfig } from '../../src/io/config.js';
import { InspectionHub } from '../../src/inspector/inspection-hub.js';
import type { InspectionMessage } from '../../src/inspector/inspection-messages.js';
import { startForwarder } from '../../src/inspector/inspector-forwarder.js';
import { createInspectionHub, startInspector } from '../../src/inspector/start-inspector.js';
import { makeDataDir, TEST_SCRYPT, TestClient } from '../integration/harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An external inspector: collects every frame, parsed, and can wait for one. */
async function startReceiver() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const frames: unknown[] = [];
  const connections: WebSocket[] = [];
  const waiters = new Set<() => void>();
  wss.on('connection', (ws) => {
    connections.push(ws);
    ws.on('message', (data) => {
      frames.push(JSON.parse(String(data)));
      for (const check of waiters) check();
    });
  });
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => resolve());
  }));
  const waitFor = (what: string, predicate: (frames: unknown[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate(frames)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${frames.length} frames`)), 5000);
      waiters.add(check);
      check();
    });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, frames, connections, waitFor };
}

const actorNames = (frames: unknown[]) =>
  (frames as InspectionMessage[]).filter((f) => f.type === '@xstate.actor').map((f) => (f as { name: string }).name);

describe('--inspect-ws', () => {
  it('sends Stately-shaped messages, one per frame, with the machines’ definitions', async () => {
    const receiver = await startReceiver();
    const dataDir = await makeDataDir();
    const inspectorConfig: InspectorConfig = { kind: 'forward', url: receiver.url, showContent: true };
    const hub = createInspectionHub(inspectorConfig);
    const server: RunningServer = await createServer(
      { ...DEFAULTS, port: 0, scrypt: TEST_SCRYPT, envKey: undefined, dataDir, inspector: inspectorConfig },
      { stdout: new PassThrough(), inspectActor: hub.inspectActor },
    );
    const inspector = await startInspector(inspectorConfig, hub, server, () => {});
    cleanups.push(async () => {
      await server.shutdown();
      await inspector.close();
      TestClient.destroyAll(server.port);
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    await receiver.waitFor('the replay', (frames) => actorNames(frames).includes('listener'));

    const client = await TestClient.connect(server.port);
    await client.expect(/^Enter your login:/);
    await receiver.waitFor('c1', (frames) => actorNames(frames).includes('c1'));

    for (const frame of receiver.frames as Array<Record<string, unknown>>) {
      expect(Array.isArray(frame)).toBe(false);
      expect(['@xstate.actor', '@xstate.event', '@xstate.snapshot']).toContain(frame.type);
      expect(frame).toMatchObject({ sessionId: expect.any(String), createdAt: expect.stringMatching(/^\d+$/), _version: expect.any(String) });
    }
    const c1 = (receiver.frames as InspectionMessage[]).find((f) => f.type === '@xstate.actor' && f.name === 'c1') as { definition: string };
    expect(JSON.parse(c1.definition)).toMatchObject({ id: 'connection', states: { authenticating: expect.any(Object) } });
  });

  it('reconnects after losing the inspector, and starts it over from the live actors', async () => {
    const receiver = await startReceiver();
    const hub = new InspectionHub({ flushIntervalMs: 5 });
    const actor = createActor(createMachine({ id: 'idler' }), { id: 'a1' }).start();
    hub.setLiveActors(() => [actor]);
    const forwarder = startForwarder({ url: receiver.url, hub, log: () => {}, minRetryMs: 20 });
    cleanups.push(() => forwarder.close());
    await receiver.waitFor('the first replay', (frames) => actorNames(frames).length === 1);

    receiver.connections[0]!.terminate();

    await receiver.waitFor('a second replay', (frames) => actorNames(frames).length === 2);
    expect(receiver.connections).toHaveLength(2);
  });
});
