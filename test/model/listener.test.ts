/**
 * Model-based tests of the listener machine: paths generated from the machine with xstate/graph,
 * replayed on the pure machine and against a real server, driven by TCP connections and the
 * console (`stop listen`, `start listen`, `shutdown`), each on a fresh server.
 *
 * Over TCP, each step is checked by its effects — a connection handed over is greeted, a held one
 * gets no byte until `start listen`, one turned away is told the server is busy, the console shows
 * each notice — and the state reached by the console's `status` (`listener: paused … (N waiting)`)
 * or, once stopped, by a refused connection.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import { Writable } from 'node:stream';
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/actors/server.js';
import { DEFAULTS } from '../../src/io/config.js';
import { type ListenerInput, listenerMachine as machine, type ListenerNotice } from '../../src/machines/listener.js';
import { text } from '../../src/machines/protocol.js';
import { makeDataDir, startTestServer, TEST_SCRYPT, TestClient, type TestServer } from '../integration/harness.js';
import { ConsoleCursor } from './console-cursor.js';
import { Coverage, expectFullCoverage, describeEvent, eventsFrom, generatePaths, type ModelPath, replayPure, type ReplayStep } from './graph.js';

const MAX_WAITING = 2;
const INPUT: ListenerInput = { host: '127.0.0.1', port: 0, maxWaiting: MAX_WAITING };

function listenerEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  return eventsFrom(snapshot, (type) => {
    switch (type) {
      case 'xstate.done.actor.bind':
        return [{ type, output: { port: 40404 } }];
      case 'xstate.error.actor.bind':
        return [{ type, error: { code: 'EADDRINUSE' } }];
      case 'connection.accepted':
        return [{ type, connectionId: 'next' }];
      // The actor reports an abandoned connection only for one it holds.
      case 'connection.abandoned':
        return snapshot.context.waiting > 0 ? [{ type, connectionId: 'last held' }] : [];
      case 'listener.acceptFailed':
        return [{ type, code: 'EMFILE' }];
      default:
        return undefined;
    }
  });
}

const paths = generatePaths(machine, { input: INPUT, events: listenerEvents });

/**
 * Transitions no TCP client or console command can take, by name, with the reason (the pure
 * replay still takes them).
 */
const TCP_EXCLUDED: Record<string, string> = {
  'listener --listener.acceptFailed--> (self)':
    'accept(2) failing (EMFILE) needs the process out of file descriptors, which would break every test running beside it',
  'binding --listener.stop--> stopped': 'createServer() resolves only once bound, so nothing can stop the listener while it binds',
  ...Object.fromEntries(
    [
      'accepting --listener.hold--> paused',
      'paused --listener.hold--> (self)',
      'paused --listener.unhold[1/2]--> (self)',
      'paused --listener.unhold[2/2]--> accepting',
      'paused --listener.resume[1/2]--> (self)',
      'paused --listener.pause[2/2]--> (self)',
    ].map((name) => [name, 'a cluster node\'s Redis going away and coming back (test/integration/cluster.test.ts, over a real redis-server)']),
  ),
};

function isDrivableOverTcp(path: ModelPath): boolean {
  const first = path.events[0]?.type;
  if (first !== 'xstate.done.actor.bind' && first !== 'xstate.error.actor.bind') return false;
  return !path.events.some((e) => e.type === 'listener.acceptFailed' || e.type === 'listener.hold' || e.type === 'listener.unhold');
}

const NOTICES: Record<ListenerNotice, RegExp> = {
  listening: /listening on 127\.0\.0\.1:\d+/,
  paused: /listening paused: new connections wait/,
  resumed: /listening resumed/,
  alreadyPaused: /listening is already paused/,
  alreadyAccepting: /already listening/,
  stopped: /listener stopped/,
  acceptFailed: /accept failed/,
  heldForStore: /listening paused while the cluster's store/,
  resumesWhenStoreAnswers: /listening resumes as soon as the cluster's store/,
  stillPausedByOperator: /listening stays paused until "start listen"/,
};

describe('listener model: generated paths on the pure machine', () => {
  const coverage = new Coverage('listener', machine);

  it.each(paths.map((p) => [p.name, p] as const))('%s', (_, path) => {
    const { initial, steps } = replayPure(machine, INPUT, path.events);
    coverage.recordSteps(initial.snapshot, steps);
    for (const step of steps) {
      // The machine's own invariants: the waiting count is what hold/abandon/resume made it.
      const { waiting } = step.after.context;
      expect(waiting).toBeGreaterThanOrEqual(0);
      expect(waiting).toBeLessThanOrEqual(MAX_WAITING);
      if (!step.after.matches('paused')) expect(waiting).toBe(0);
      const types = step.actions.map((a) => a.type);
      if (step.event.type === 'connection.accepted') {
        // Every accepted connection is exactly one of: served, held, turned away.
        expect(types.filter((t) => ['handOver', 'hold', 'turnAway'].includes(t))).toHaveLength(1);
      }
    }
  });

  it('reaches every state and takes every transition', () => {
    console.log(`listener: ${paths.length} generated paths, ${paths.filter(isDrivableOverTcp).length} drivable over TCP`);
    expectFullCoverage(coverage);
  });
});

describe('listener model: generated paths against a real server', () => {
  const coverage = new Coverage('listener over TCP', machine);
  const tcpPaths = paths.filter(isDrivableOverTcp);
  const running: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(running.map((t) => t.stop()));
  });

  it.each(tcpPaths.map((p) => [p.name, p] as const))('%s', async (_, path) => {
    const { initial, steps } = replayPure(machine, INPUT, path.events);
    const [first, ...rest] = steps;
    if (first!.event.type === 'xstate.error.actor.bind') {
      await expectPortInUse();
    } else {
      const t = await startTestServer({ maxWaiting: MAX_WAITING });
      running.push(t);
      const cursor = new ConsoleCursor(t);
      // The server printed "listening on …" while starting, before the cursor existed.
      expect(t.output()).toMatch(NOTICES.listening);
      const world: World = { t, cursor, served: [], held: [] };
      for (const step of rest) {
        try {
          await performListenerStep(world, step);
          await checkListenerState(world, step.after);
        } catch (err) {
          throw new Error(`step ${step.index + 1} (${describeEvent(step.event)}): ${(err as Error).message}\nconsole:\n${t.output()}`);
        }
      }
      await t.stop();
    }
    coverage.recordSteps(initial.snapshot, steps);
  });

  it('reaches every state and takes every transition', () => {
    console.log(`listener: ${tcpPaths.length} paths replayed over TCP`);
    expectFullCoverage(coverage, TCP_EXCLUDED);
  });
});

interface World {
  t: TestServer;
  cursor: ConsoleCursor;
  /** Connections the server serves (greeted). */
  served: TestClient[];
  /** Connections held while paused, in arrival order. */
  held: TestClient[];
}

async function performListenerStep(world: World, step: ReplayStep): Promise<void> {
  const { t, cursor } = world;
  let arrived: TestClient | undefined;
  switch (step.event.type) {
    case 'connection.accepted':
      arrived = await TestClient.connect(t.port);
      break;
    case 'connection.abandoned': {
      const gone = world.held.pop()!;
      gone.close();
      await gone.closed;
      await cursor.expect(/held connection conn=\S+ closed by its client before it was served/);
      break;
    }
    case 'listener.pause':
      t.command('stop listen');
      break;
    case 'listener.resume':
      // Until now, the held connections got nothing at all.
      expect(world.held.map((c) => c.bytesReceived)).toEqual(world.held.map(() => 0));
      t.command('start listen');
      break;
    case 'listener.stop':
      t.command('shutdown');
      break;
    default:
      throw new Error(`no TCP mapping for ${step.event.type}`);
  }
  for (const action of step.actions) {
    const params = action.params as { notice?: ListenerNotice } | undefined;
    switch (action.type) {
      case 'handOver':
        await arrived!.expect(text.greeting);
        world.served.push(arrived!);
        break;
      case 'hold':
        await cursor.expect(/connection held conn=\S+/);
        world.held.push(arrived!);
        break;
      case 'turnAway':
        expect(await arrived!.expect(/busy/)).toBe(text.serverBusy);
        await arrived!.expectClosed();
        await cursor.expect(/connection turned away conn=\S+: waiting queue full/);
        break;
      case 'releaseWaiting':
        // Every held connection is greeted, in the order it came.
        for (const client of world.held) await client.expect(text.greeting);
        world.served.push(...world.held.splice(0));
        break;
      case 'closeServer':
        // Held connections are told and closed; served ones are ended by their own sessions.
        for (const client of [...world.held, ...world.served]) {
          await client.expect(text.shuttingDown);
          await client.expectClosed();
        }
        world.held = [];
        world.served = [];
        break;
      case 'notify':
        await cursor.expect(NOTICES[params!.notice!]);
        break;
      default:
        throw new Error(`no TCP check for the action ${action.type}`);
    }
  }
}

/** The state as the server reports it: `status`, or a refused connection once stopped. */
async function checkListenerState(world: World, snapshot: AnyMachineSnapshot): Promise<void> {
  const { t } = world;
  if (snapshot.matches('stopped')) {
    await t.server.stopped;
    await expect(TestClient.connect(t.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    return;
  }
  t.command('status');
  const status = await world.cursor.expect(/^listener: .*$/m);
  const waiting = snapshot.context.waiting as number;
  expect(status).toBe(
    `listener: ${String(snapshot.value)} on 127.0.0.1:${t.port}${snapshot.matches('paused') ? ` (${waiting} waiting)` : ''}`,
  );
}

/** Binding fails on a port another socket holds: createServer rejects with a clear error. */
async function expectPortInUse(): Promise<void> {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as net.AddressInfo;
  const dataDir = await makeDataDir();
  try {
    await expect(
      createServer({ ...DEFAULTS, port, dataDir, scrypt: TEST_SCRYPT, envKey: undefined }, { stdout: devNull() }),
    ).rejects.toMatchObject({ code: 'STATECHAT_ERR_PORT_IN_USE' });
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

function devNull(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
