/**
 * Replays a connection-machine path against a real server over TCP.
 *
 * A path is a sequence of machine events; over TCP the client can only type lines, hang up, or
 * wait, and the operator can type console commands. So each path is mapped to what it implies:
 * - a `client.line` is typed — with scenario logins renamed to fresh ones (`known` → `known_12`,
 *   registered beforehand as `Known_12`) so paths never share an account on the shared server;
 * - the `xstate.done.actor.*` / `xstate.error.actor.*` events are not sent: they happen inside
 *   the server. The client line before them is chosen, and the server preconditioned, so that
 *   they happen as the path says — the right or a wrong password, another session signing in or
 *   registering meanwhile, a one-shot injected store failure (see faults.ts);
 * - `client.chatLines` sends its lines in one write (the pump batches them again);
 * - `client.lineTooLong` sends a line one byte over the limit; `client.closed` half-closes the
 *   socket; `server.kick` is the console's `kick`; `server.shutdown` shuts the server down; the
 *   login timeout is waited for (on a server with a short one).
 * After every step, what the server sent must be exactly what the machine's actions say (a
 * history block may hold messages earlier paths posted) and must satisfy the protocol oracle
 * (`judgeStep`); at the end the client hangs up and nothing else may have arrived.
 */
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { text } from '../../src/machines/protocol.js';
import { register, signIn, TestClient, type TestServer } from '../integration/harness.js';
import {
  closesConnection,
  expectedLines,
  HISTORY_BLOCK,
  judgeStep,
  machine,
  MODEL_INPUT,
  OTHER_PASSWORD,
  PASSWORD,
  QUIT,
  type Scenario,
  SCENARIOS,
  scenarioOf,
  SERVER_ANSWERS,
  UNAVAILABLE,
} from './connection-model.js';
import { faults, type Fault } from './faults.js';
import { describeEvent, linesOf, type ModelPath, replayPure, type ReplayStep } from './graph.js';

const WRONG_PASSWORD = 'not-the-password';

/** Events the server produces itself: completions of its invoked services, a room's answers. */
export function isInternal(event: EventObject): boolean {
  return /^xstate\.(done|error)\.actor\./.test(event.type) || SERVER_ANSWERS.has(event.type);
}

/**
 * Whether a path can be driven over TCP: everything a client or the operator does must happen
 * while the machine waits for input (a state tagged `input`). In any other state a service is
 * running and finishes in microseconds: a client cannot aim a hang-up, a shutdown or a timeout
 * into that window (the pure replay covers those).
 */
export function isDrivableOverTcp(path: ModelPath): boolean {
  const { steps } = replayPure(machine, MODEL_INPUT, path.events);
  // Redis away needs a cluster node (test/integration/cluster.test.ts): the TCP replay runs on the CSV files.
  if (path.events.some((e) => (e as { error?: unknown }).error === UNAVAILABLE)) return false;
  return steps.every((s) => isInternal(s.event) || s.before.hasTag('input'));
}

export type TcpGroup = 'shared' | 'timeout' | 'shutdown';

/** Timeout paths need a server with a short login timeout; a shutdown path ends its server. */
export function tcpGroupOf(path: ModelPath): TcpGroup {
  const last = path.events[path.events.length - 1]?.type ?? '';
  if (last === 'timer.loginExpired') return 'timeout';
  if (last === 'server.shutdown') return 'shutdown';
  return 'shared';
}

/** Fresh names per use of a scenario login, so no two paths (or two uses) share an account. */
let nextIdentity = 1;

interface Identity {
  scenario: Scenario;
  typed: string;
  /** The spelling the server registered (what it shows). */
  registered: string;
}

const FAULT_OF: Record<string, Fault> = {
  'xstate.error.actor.checkLogin': 'registeredLogin',
  'xstate.error.actor.verifyPassword': 'verifyPassword',
  'xstate.error.actor.registerUser': 'register',
};

export async function replayOverTcp(t: TestServer, path: ModelPath): Promise<void> {
  const { initial, steps } = replayPure(machine, MODEL_INPUT, path.events);
  const helpers: { client: TestClient; login: string }[] = [];
  let identity: Identity | undefined;
  faults.reset();

  const rename = (line: string) => {
    if (!identity) return line;
    const { typed, registeredAs } = SCENARIOS[identity.scenario];
    const names = new Map([[typed, identity.typed], ...(registeredAs ? [[registeredAs, identity.registered] as [string, string]] : [])]);
    return line.replace(/\b[A-Za-z]+\b/g, (word) => names.get(word) ?? word);
  };
  const currentLogin = (snapshot: AnyMachineSnapshot) => rename(String(snapshot.context.login));
  const onlineNow = (snapshot: AnyMachineSnapshot) => () =>
    [...helpers.filter((h) => !h.client.isClosed).map((h) => h.login), currentLogin(snapshot)].sort((a, b) => a.localeCompare(b));

  const client = await TestClient.connect(t.port);
  try {
    const greeting = await receive(client, linesOf(initial.actions));
    expectNoProblems(judgeStep(initial.snapshot, initial.snapshot, greeting, false), 'the greeting');

    for (const step of steps) {
      const where = `step ${step.index + 1} (${describeEvent(step.event)})`;
      try {
        if (!isInternal(step.event)) {
          identity = await perform(t, client, step, upcoming(steps, step.index), identity, helpers);
        }
        const expected = expectedLines(step.actions, onlineNow(step.after)).map(rename);
        const received = await receive(client, expected);
        const closes = closesConnection(step.actions);
        if (closes) await client.expectClosed();
        expectNoProblems(judgeStep(step.before, step.after, received, client.isClosed), where);
        if (isInternal(step.event) && !isInternal(steps[step.index + 1]?.event ?? { type: '' })) {
          if (faults.pending().length > 0) throw new Error(`injected faults never triggered: ${faults.pending().join(', ')}`);
        }
      } catch (err) {
        throw annotate(err, `${where}, in state ${JSON.stringify(step.before.value)}`);
      }
    }
    if (!client.isClosed) {
      client.socket.end(); // hang up: the server must close without saying anything more
      await client.expectClosed();
    }
    const extra = client.unread();
    if (extra.length > 0) throw new Error(`the server sent more than the machine said: ${JSON.stringify(extra)}`);
  } catch (err) {
    throw annotate(err, `path ${path.name}\n  received: ${JSON.stringify(client.lines)}`);
  } finally {
    client.close();
    for (const helper of helpers) helper.client.close();
    await Promise.all([client.closed, ...helpers.map((h) => h.client.closed)]);
    faults.reset();
  }
}

/** The internal events right after step `index` (what the server will do with the client's input). */
function upcoming(steps: readonly ReplayStep[], index: number): EventObject[] {
  const run: EventObject[] = [];
  for (let i = index + 1; i < steps.length && isInternal(steps[i]!.event); i++) run.push(steps[i]!.event);
  return run;
}

/** Does what a step's event stands for; returns the identity in use afterwards. */
async function perform(
  t: TestServer,
  client: TestClient,
  step: ReplayStep,
  next: EventObject[],
  identity: Identity | undefined,
  helpers: { client: TestClient; login: string }[],
): Promise<Identity | undefined> {
  const { event, before } = step;
  const outcome = (type: string) => next.find((e) => e.type === type) as (EventObject & { output?: unknown }) | undefined;
  const armFaults = () => next.forEach((e) => FAULT_OF[e.type] && faults.arm(FAULT_OF[e.type]!));

  switch (event.type) {
    case 'client.line': {
      let line = (event as EventObject & { text: string }).text;
      const scenario = before.matches({ authenticating: 'awaitingLogin' }) ? scenarioOf(line) : undefined;
      if (scenario) {
        const n = nextIdentity++;
        const { typed, registeredAs } = SCENARIOS[scenario];
        identity = { scenario, typed: `${typed}_${n}`, registered: `${registeredAs ?? typed}_${n}` };
        // Preconditions: the account exists (in its registered spelling), or is online elsewhere.
        if (scenario === 'known' || scenario === 'dupe') await register(t.port, identity.registered, PASSWORD);
        if (scenario === 'busybee') helpers.push({ client: await signIn(t.port, identity.registered, PASSWORD), login: identity.registered });
        line = identity.typed;
      }
      if (line === QUIT) {
        client.send(line); // leaves at any prompt: nothing to set up, nothing to rename
        return identity;
      }
      if (before.matches({ authenticating: 'awaitingPassword' })) {
        // Right or wrong, as the verification that follows says.
        line = outcome('xstate.done.actor.verifyPassword')?.output === false ? WRONG_PASSWORD : PASSWORD;
        if ((outcome('xstate.done.actor.joinChat')?.output as { status?: string } | undefined)?.status === 'alreadyOnline') {
          // Someone else signs in as this login between the password prompt and the join.
          helpers.push({ client: await signIn(t.port, identity!.registered, PASSWORD, true), login: identity!.registered });
        }
      }
      if (outcome('xstate.done.actor.registerUser')?.output === 'taken') {
        // Someone else registers the login while this client is still repeating its password.
        await register(t.port, identity!.typed, OTHER_PASSWORD);
      }
      armFaults();
      client.send(line);
      return identity;
    }
    case 'client.chatLines':
      // In one write, so they arrive together and the line pump batches them.
      client.send(...(event as EventObject & { texts: string[] }).texts);
      return identity;
    case 'client.lineTooLong':
      client.send('x'.repeat((event as EventObject & { bytes: number }).bytes));
      return identity;
    case 'client.closed':
      client.socket.end();
      return identity;
    case 'server.kick':
      t.command(`kick ${identity ? identity.registered : ''}`);
      return identity;
    case 'server.shutdown':
      void t.server.shutdown();
      return identity;
    case 'timer.loginExpired':
      return identity; // the server's timer: just wait
    default:
      throw new Error(`no TCP mapping for ${event.type}`);
  }
}

/**
 * Reads exactly the expected lines, in order, from where the last read stopped. A HISTORY_BLOCK
 * line accepts any whole history block (a header, that many messages, the footer).
 */
async function receive(client: TestClient, expected: readonly string[]): Promise<string[]> {
  const received: string[] = [];
  const next = async () => {
    const line = await client.next();
    received.push(line);
    return line;
  };
  for (const want of expected) {
    const got = await next();
    if (want === HISTORY_BLOCK && got !== HISTORY_BLOCK) {
      const header = /^--- last (\d+) messages? ---$/.exec(got);
      if (!header) throw new Error(`expected a history block, got ${JSON.stringify(got)}`);
      for (let i = 0; i < Number(header[1]); i++) {
        const message = await next();
        if (!/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] (?:#[\w-]+ )?(?:[^:\s]+: |\* |<[^>]+> )/.test(message)) throw new Error(`not a history line: ${JSON.stringify(message)}`);
      }
      if ((await next()) !== text.historyFooter) throw new Error(`history block without its footer: ${JSON.stringify(received)}`);
      continue;
    }
    if (got !== want) throw new Error(`expected ${JSON.stringify(want)}, got ${JSON.stringify(got)} (expected this step: ${JSON.stringify(expected)})`);
  }
  return received;
}

function expectNoProblems(problems: string[], where: string): void {
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
}

function annotate(err: unknown, context: string): Error {
  const error = err instanceof Error ? err : new Error(String(err));
  error.message = `${context}\n  ${error.message}`;
  return error;
}
