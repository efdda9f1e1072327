/**
 * Model-based tests of the supervisor machine (the operator's console): paths generated from the
 * machine with xstate/graph for the chat server and the echo server, replayed on the pure machine
 * and against a real server (a fresh one per path: every path starts from a new server), driven
 * through its console stdin, with real TCP clients for kicks and announcements.
 *
 * Each step is checked by its effects: the console's answers, what clients receive, the data
 * files (`clear log`, `clear file`), and the log's record of failures.
 * Store failures are injected one-shot (faults.ts). A command the model sends while a clear or
 * the shutdown is running is typed in the same stdin write as the command that started it (the
 * console reads them in one go, before that work can finish), so "busy" states are reachable.
 * At the end of a path still running, `status` must report the log display and the listener the
 * way the path left them.
 */
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { describe, expect, it, vi } from 'vitest';
import { CONSOLE_HELP, parseConsoleLine } from '../../src/machines/console-command.js';
import { LOBBY, text } from '../../src/machines/protocol.js';
import { supervisorMachine as machine, type SupervisorInput } from '../../src/machines/supervisor.js';
import { signIn, startTestServer, TestClient, type TestServer } from '../integration/harness.js';
import { ConsoleCursor } from './console-cursor.js';
import { type Fault, faults } from './faults.js';
import { Coverage, expectFullCoverage, describeEvent, eventsFrom, generatePaths, type ModelPath, replayPure, type ReplayStep } from './graph.js';
import { CLIENTS_HEADER } from '../../src/io/user-store-csv.js';

vi.mock('../../src/io/user-store-csv.js', async (original) => (await import('./faults.js')).faultyUserStoreModule(await original()));
vi.mock('../../src/io/history-store-csv.js', async (original) => (await import('./faults.js')).faultyHistoryStoreModule(await original()));
vi.mock('../../src/io/log-file.js', async (original) => (await import('./faults.js')).faultyLogFileModule(await original()));

const KICKED = 'carol';
const SAID = 'maintenance at noon';
const injected = { message: 'injected fault' };

function supervisorEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  return eventsFrom(snapshot, (type) => {
    switch (type) {
      case 'console.kick':
        return [{ type, login: KICKED }];
      case 'console.say':
        return [{ type, room: undefined, text: SAID }];
      // #lobby (which is never closed) and a room nobody made: the answers need no other room.
      case 'console.close':
        return [
          { type, room: LOBBY },
          { type, room: NO_ROOM },
        ];
      // Joins and idle rooms come from connections and room actors: LEFT_TO_OTHER_TESTS.
      case 'room.join':
      case 'room.idle':
        return [];
      case 'console.unknown':
        return [{ type, input: 'frobnicate' }];
      case 'console.usage':
        return [{ type, usage: 'Usage: kick <login>', chatOnly: true }];
      case 'process.signal':
        return [{ type, signal: 'SIGTERM' }];
      case 'cluster.unavailable':
        return [{ type, cause: 'Redis did not answer' }];
      case 'cluster.lapsed':
        return [{ type, why: 'fenced' }];
      default:
        // A room actor's end or crash (the wildcard transitions): LEFT_TO_OTHER_TESTS.
        if (type.endsWith('.*')) return [];
        return type.startsWith('xstate.error.actor.') ? [{ type, error: injected }] : undefined;
    }
  });
}

const NO_ROOM = '#nowhere';

/**
 * Transitions left to the rooms' own tests (test/machines/supervisor.test.ts, pure, and
 * test/integration/rooms.test.ts, over TCP): they start from a connection's join or a room
 * actor's end, which no console command makes.
 */
const LEFT_TO_OTHER_TESTS: Record<string, string> = {
  'running --room.join[1/3]--> (self)': 'a connection joining a room that runs',
  'running --room.join[2/3]--> (self)': 'a new room beyond the limit (test/integration/rooms.test.ts)',
  'running --room.join[3/3]--> (self)': 'a connection joining a room that does not run yet',
  'running --room.idle--> (self)': 'an empty room that timed out',
  'running --console.close[2/3]--> (self)': 'closing a room that runs needs a member to make it',
  'running --xstate.done.actor.*--> (self)': 'a closed room actor ending',
  'running --xstate.error.actor.*[1/2]--> (self)': 'a room actor that crashed (restarted one-for-one: test/machines/supervisor-rooms.test.ts)',
  'running --xstate.error.actor.*[2/2]--> (self)': 'the error of a room stopped already, ignored (test/machines/supervisor-rooms.test.ts)',
};

const BUSY: Record<string, string> = {
  clearingLog: 'xstate.done.actor.clearLogFile',
  clearingFile: 'xstate.done.actor.clearClientsFile',
};

/** The running supervisor, not clearing anything: where the console's answers come at once. */
function isStable(snapshot: AnyMachineSnapshot): boolean {
  return snapshot.matches({ running: { maintenance: 'idle' } });
}

function pathsFor(mode: SupervisorInput['mode']): ModelPath[] {
  return generatePaths(machine, {
    input: { mode, roomIdleMs: 60_000, maxRooms: 10 },
    events: supervisorEvents,
    // A path never ends while a clear or the shutdown runs: it goes on with its completion.
    settle: (s) => {
      if (s.matches('shuttingDown')) return { type: 'xstate.done.actor.shutDown' };
      const maintenance = (s.value as { running?: { maintenance?: string } }).running?.maintenance;
      return maintenance && BUSY[maintenance] ? { type: BUSY[maintenance]! } : undefined;
    },
  });
}

const MODES = ['chat', 'echo'] as const;
const paths = Object.fromEntries(MODES.map((mode) => [mode, pathsFor(mode)])) as Record<(typeof MODES)[number], ModelPath[]>;

const isConsole = (event: EventObject) => event.type.startsWith('console.');
const isInternal = (event: EventObject) => /^xstate\.(done|error)\.actor\./.test(event.type);

/**
 * Drivable from the console and TCP: a console command while busy must follow the command that
 * made it busy in the same write; a signal needs a stable supervisor (it does not come through
 * stdin, so it cannot be aimed into the busy window); the echo server has no history store whose
 * closing could fail.
 */
function isDrivable(mode: SupervisorInput['mode'], path: ModelPath): boolean {
  const { steps } = replayPure(machine, { mode, roomIdleMs: 60_000, maxRooms: 10 }, path.events);
  return steps.every((step, i) => {
    if (step.event.type.startsWith('cluster.')) return false;
    if (isInternal(step.event)) return !(mode === 'echo' && step.event.type === 'xstate.error.actor.shutDown');
    if (isStable(step.before)) return true;
    return isConsole(step.event) && i > 0 && isConsole(steps[i - 1]!.event);
  });
}

/** The console line for a model event; checked against the console's own parser. */
function commandLine(event: EventObject): string {
  const line = (() => {
    switch (event.type) {
      case 'console.kick':
        return `kick ${(event as EventObject & { login: string }).login}`;
      case 'console.say':
        return `say ${(event as EventObject & { text: string }).text}`;
      case 'console.close':
        return `close ${(event as EventObject & { room: string }).room}`;
      case 'console.unknown':
        return (event as EventObject & { input: string }).input;
      case 'console.usage':
        return 'kick';
      default: {
        const words = event.type.slice('console.'.length).replace(/([A-Z])/g, ' $1').toLowerCase();
        return words;
      }
    }
  })();
  expect(parseConsoleLine(line)).toEqual(event);
  return line;
}

const FAULT_OF: Record<string, Fault> = {
  'xstate.error.actor.clearLogFile': 'clearLog',
  'xstate.error.actor.clearClientsFile': 'clearClients',
  'xstate.error.actor.shutDown': 'historyClose',
};

/**
 * Transitions the console cannot take over a real server, by name, with the reason: besides the
 * rooms', a cluster node's link (this server runs on the CSV files). Every other transition is
 * driven (store failures injected; SIGTERM as the CLI's handler delivers it).
 */
const TCP_EXCLUDED: Record<string, string> = {
  ...LEFT_TO_OTHER_TESTS,
  ...Object.fromEntries(
    ['running --cluster.unavailable--> (self)', 'running --cluster.available--> (self)', 'running --cluster.lapsed--> (self)'].map((name) => [
      name,
      'a cluster node\'s link to Redis (test/integration/cluster.test.ts, over a real redis-server)',
    ]),
  ),
};

describe('supervisor model: generated paths on the pure machine', () => {
  const coverage = new Coverage('supervisor', machine);

  describe.each(MODES)('%s server', (mode) => {
    it.each(paths[mode].map((p) => [p.name, p] as const))('%s', (_, path) => {
      const { initial, steps } = replayPure(machine, { mode, roomIdleMs: 60_000, maxRooms: 10 }, path.events);
      coverage.recordSteps(initial.snapshot, steps);
      for (const step of steps) {
        const types = step.actions.map((a) => a.type);
        // The echo server never acts on chat-only commands; it says they belong to the chat server.
        if (mode === 'echo') expect(types.filter((t) => ['kick', 'say', 'showWho'].includes(t))).toEqual([]);
        // A shutdown starts once: nothing is accepted any more once it has begun.
        if (!step.before.matches('running')) expect(isInternal(step.event)).toBe(true);
      }
    });
  });

  it('reaches every state and takes every transition (both servers together)', () => {
    for (const mode of MODES) {
      console.log(`supervisor (${mode}): ${paths[mode].length} generated paths, ${paths[mode].filter((p) => isDrivable(mode, p)).length} drivable over TCP`);
    }
    expectFullCoverage(coverage, LEFT_TO_OTHER_TESTS);
  });
});

describe('supervisor model: generated paths against a real server', () => {
  const coverage = new Coverage('supervisor over TCP', machine);

  describe.each(MODES)('%s server', (mode) => {
    it.each(paths[mode].filter((p) => isDrivable(mode, p)).map((p) => [p.name, p] as const))('%s', async (_, path) => {
      const { initial, steps } = replayPure(machine, { mode, roomIdleMs: 60_000, maxRooms: 10 }, path.events);
      const t = await startTestServer({ mode });
      faults.reset();
      try {
        await replaySupervisorPath(t, mode, steps);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nconsole:\n${t.output()}`);
      } finally {
        faults.reset();
        await t.stop();
      }
      coverage.recordSteps(initial.snapshot, steps);
    });
  });

  it('reaches every state and takes every transition (both servers together)', () => {
    expectFullCoverage(coverage, TCP_EXCLUDED);
  });
});

interface World {
  t: TestServer;
  mode: SupervisorInput['mode'];
  cursor: ConsoleCursor;
  /** Chat sessions online, by login. */
  online: Map<string, TestClient>;
  listenerPaused: boolean;
  /** Whether the console shows log lines (`stop log` / `start log`). */
  logShown: boolean;
}

async function replaySupervisorPath(t: TestServer, mode: SupervisorInput['mode'], steps: readonly ReplayStep[]): Promise<void> {
  const world: World = { t, mode, cursor: new ConsoleCursor(t), online: new Map(), listenerPaused: false, logShown: true };
  if (mode === 'chat') {
    for (const login of ['alice', 'bob']) world.online.set(login, await signIn(t.port, login, 'secret-password'));
  }
  let written = -1; // the last step whose console line is already written
  for (const step of steps) {
    try {
      if (step.index > written) written = await perform(world, steps, step.index);
      await check(world, step);
    } catch (err) {
      throw new Error(`step ${step.index + 1} (${describeEvent(step.event)}): ${(err as Error).message}`);
    }
  }
  const last = steps[steps.length - 1]!.after;
  if (last.matches('stopped')) {
    await t.server.stopped;
    for (const client of world.online.values()) {
      await client.expect(text.shuttingDown);
      await client.expectClosed();
    }
    await expect(TestClient.connect(t.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  } else {
    // The state the path left, as the server reports it.
    t.command('status');
    await world.cursor.expect(`listener: ${world.listenerPaused ? 'paused' : 'accepting'} on 127.0.0.1:${t.port}${world.listenerPaused ? ' (0 waiting)' : ''}`);
    const shown = last.matches({ running: { logDisplay: 'shown' } });
    expect(world.logShown).toBe(shown);
    await world.cursor.expect(`log display: ${shown ? 'on' : 'off'}`);
  }
}

/**
 * Does what step `index` stands for; a console command is written together with the commands
 * after it that the model sends while the supervisor is busy. Returns the last step written.
 */
async function perform(world: World, steps: readonly ReplayStep[], index: number): Promise<number> {
  const { t } = world;
  const step = steps[index]!;
  if (isInternal(step.event)) return index; // the server's own work finishing
  if (step.event.type === 'process.signal') {
    // What the CLI's SIGTERM handler does (src/cli/server.ts); the test process cannot take the signal itself.
    t.server.supervisor.send({ type: 'process.signal', signal: 'SIGTERM' });
    return index;
  }
  let last = index;
  while (last + 1 < steps.length && isConsole(steps[last + 1]!.event) && !isStable(steps[last + 1]!.before)) last++;
  const batch = steps.slice(index, last + 1);
  for (const s of batch) {
    if (s.event.type === 'console.kick' && world.mode === 'chat') {
      world.online.set(KICKED, await signIn(t.port, KICKED, 'secret-password')); // someone to kick
    }
  }
  // Faults for what the batch starts, armed just before it starts it.
  for (const s of steps.slice(index)) {
    if (!isInternal(s.event) && s.index > last) break;
    if (FAULT_OF[s.event.type]) faults.arm(FAULT_OF[s.event.type]!);
  }
  t.command(batch.map((s) => commandLine(s.event)).join('\n'));
  return last;
}

/** Checks the effects of one step's actions. */
async function check(world: World, step: ReplayStep): Promise<void> {
  const { t, cursor } = world;
  for (const action of step.actions) {
    const logShown = world.logShown;
    const params = action.params as Record<string, unknown> | undefined;
    switch (action.type) {
      case 'reply':
        for (const line of params!.lines as string[]) await cursor.expect(line);
        break;
      case 'showHelp':
        await cursor.expect('Console commands:');
        for (const { usage } of CONSOLE_HELP.filter((c) => world.mode === 'chat' || !c.chat)) {
          await cursor.expect(new RegExp(`^  ${usage.replace(/[<>]/g, '.')} +\\S`, 'm'));
        }
        if (world.mode === 'echo') expect(cursor.rest()).not.toMatch(/^ {2}(clear file|who|kick|say)\b/m);
        break;
      case 'showStatus': {
        const paused = world.listenerPaused;
        await cursor.expect(`listener: ${paused ? 'paused' : 'accepting'} on 127.0.0.1:${t.port}${paused ? ' (0 waiting)' : ''}`);
        await cursor.expect(`connections: ${world.online.size}`);
        if (world.mode === 'chat') {
          await cursor.expect(`users online: ${world.online.size}`);
          await cursor.expect(/^registered users: \d+$/m);
        }
        await cursor.expect(`log display: ${logShown ? 'on' : 'off'}`);
        break;
      }
      case 'showWho': {
        const logins = [...world.online.keys()].sort((a, b) => a.localeCompare(b));
        await cursor.expect(logins.length === 0 ? 'Nobody is online.' : `Online (${logins.length}): ${logins.join(', ')}`);
        break;
      }
      case 'kick': {
        const victim = world.online.get(KICKED)!;
        await cursor.expect(`Kicked ${KICKED}.`);
        expect(await victim.expect(/disconnected/)).toBe(text.kicked);
        await victim.expectClosed();
        world.online.delete(KICKED);
        break;
      }
      case 'showRooms': {
        const members = world.online.size;
        await cursor.expect('Rooms (1):');
        await cursor.expect(`  ${LOBBY}  ${members} ${members === 1 ? 'member' : 'members'}`);
        break;
      }
      case 'say': {
        await cursor.expect(`Sent to ${world.online.size} ${world.online.size === 1 ? 'user' : 'users'}.`);
        for (const client of world.online.values()) await client.expect(`* [server] ${SAID}`);
        break;
      }
      case 'pauseListener':
      case 'resumeListener': {
        const pausing = action.type === 'pauseListener';
        const already = world.listenerPaused === pausing;
        world.listenerPaused = pausing;
        if (logShown) {
          await cursor.expect(
            pausing ? (already ? /listening is already paused/ : /listening paused/) : already ? /already listening/ : /listening resumed/,
          );
        }
        break;
      }
      case 'setLogDisplay':
        world.logShown = params!.shown as boolean; // seen in status and in what the console shows
        break;
      case 'clearScreen':
        break; // nothing to clear on a pipe; the log file is checked once the clear is reported
      case 'reportFailure': {
        const what = params!.what as string;
        if (what === 'shutdown') {
          // The shutdown still closed everything (and logged why it failed) before failing,
          // and says it was not clean (the CLI exits 1 on that).
          expect(await t.server.stopped).toEqual({ clean: false });
          await waitForLogFile(t, /error: closing the data files failed: .*injected fault[^]*server stopped/);
          if (logShown) await cursor.expect(/error: shutdown failed: .*injected fault/);
        } else {
          await waitForLogFile(t, new RegExp(`error: ${what} failed: .*injected fault`));
        }
        break;
      }
      default:
        throw new Error(`no check for the action ${action.type}`);
    }
  }
  if (step.event.type === 'xstate.done.actor.clearLogFile') {
    // Emptied: the startup's first line is gone.
    expect(await t.readFile('server.log')).not.toMatch(/listening on/);
  }
  if (step.event.type === 'xstate.done.actor.clearClientsFile') {
    expect(await t.readFile('clients.csv')).toBe(`${CLIENTS_HEADER.join(',')}\n`);
  }
  if (!world.logShown && isConsole(step.event)) {
    // With the display stopped, the console shows no log line (replies only).
    expect(cursor.rest()).not.toMatch(/^\d\d:\d\d:\d\d console:/m);
  }
}

async function waitForLogFile(t: TestServer, pattern: RegExp): Promise<void> {
  for (let waited = 0; ; waited += 20) {
    if (pattern.test(await t.readFile('server.log'))) return;
    if (waited > 5000) throw new Error(`server.log never showed ${pattern}:\n${await t.readFile('server.log')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
