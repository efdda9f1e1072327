/**
 * The connection machine as a test model: which events a client (and the server's own services)
 * can produce in each state, with payloads, and the protocol oracle every replayed step is judged
 * by — the same oracle for the pure machine and for the real server over TCP.
 *
 * Invoked services (checkLogin, verifyPassword, registerUser, joinChat, loadHistory) do not run
 * during graph traversal, so their `xstate.done.actor.*` / `xstate.error.actor.*` events are
 * offered as events, with outputs consistent with the login the path typed: each login below is a
 * *scenario* the TCP replay can set up on a real server (a registered user, one already online,
 * one registered by someone else meanwhile…).
 */
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { DEFAULTS } from '../../src/io/config.js';
import { type ConnectionInput, connectionMachine, type JoinResult, type LoginCheck, type PrivateOutcome } from '../../src/machines/connection.js';
import { LOBBY, loginKey, SERVICE_UNAVAILABLE, text } from '../../src/machines/protocol.js';
import { type EmittedAction, eventsFrom, generatePaths, leafIds, linesOf, type ModelPath } from './graph.js';

export const machine = connectionMachine;

/** Mirrors the server defaults the TCP replay runs with. */
export const MODEL_INPUT: ConnectionInput = {
  connectionId: 'model',
  remoteAddress: '127.0.0.1',
  loginTimeoutMs: DEFAULTS.loginTimeoutMs,
  minPasswordLength: DEFAULTS.minPasswordLength,
  maxPasswordAttempts: DEFAULTS.maxPasswordAttempts,
  historyReplay: DEFAULTS.historyReplay,
  maxLineBytes: DEFAULTS.maxLineBytes,
  ratePerSecond: DEFAULTS.rateLimitPerSecond,
  maxFloodMs: DEFAULTS.maxFloodMs,
};

/**
 * The logins a path may type, each a scenario:
 * - `newbie`: unknown, registers.
 * - `racer`: unknown, but someone else registers it while this client is choosing its password
 *   (the registration then reports `taken`).
 * - `known`: registered as `Known` (the registered spelling wins), signs in with a password.
 * - `busybee`: registered as `BusyBee` and online on another connection (refused at once, under
 *   its registered spelling).
 * - `dupe`: registered; someone else signs in as it between the password prompt and the join
 *   (the join then reports `alreadyOnline`).
 */
export type Scenario = 'newbie' | 'racer' | 'known' | 'busybee' | 'dupe';

export const SCENARIOS: Record<Scenario, { typed: string; registeredAs: string | undefined }> = {
  newbie: { typed: 'newbie', registeredAs: undefined },
  racer: { typed: 'racer', registeredAs: undefined },
  known: { typed: 'known', registeredAs: 'Known' },
  busybee: { typed: 'busybee', registeredAs: 'BusyBee' },
  dupe: { typed: 'dupe', registeredAs: 'dupe' },
};

export function scenarioOf(login: string | undefined): Scenario | undefined {
  if (login === undefined) return undefined;
  return (Object.keys(SCENARIOS) as Scenario[]).find((s) => loginKey(SCENARIOS[s].typed) === loginKey(login));
}

/** Invalid logins: each gets its reason and the prompt again. */
export const INVALID_LOGINS = ['', 'no spaces allowed'];
export const PASSWORD = 'p4ssword';
/** Typed at any sign-in prompt: leaves, it is no login and no password. */
export const QUIT = '/quit';
export const TOO_SHORT = 'abc';
export const OTHER_PASSWORD = 'something-else';
/** What a chatting user types: one of each kind the machine tells apart. */
export const CHAT_LINES = [
  'hello, everyone',
  '   ',
  '/who',
  '/help',
  '/history',
  '/history 2',
  '/history 0',
  '/msg nobody are you there?',
  '/msg',
  '/me waves',
  '/part',
  '/part #model',
  '/join model',
  '/join #model',
  '/frobnicate',
  '/quit',
];
/** The one room a model path joins besides #lobby. */
export const MODEL_ROOM = '#model';
/** Chat messages that arrive together: the line pump feeds them as one `client.chatLines`. */
export const CHAT_RUN = ['hello, everyone', 'and a second line'];

/** The one recipient of `/msg` in CHAT_LINES: never online. */
export const NOBODY = 'nobody';

const injected = { message: 'injected fault' };
/** What a cluster node's store call fails with while Redis does not answer (src/io/errors.ts). */
export const UNAVAILABLE = { message: 'the cluster\'s store is unavailable', code: SERVICE_UNAVAILABLE };

function checkResult(login: string | undefined): LoginCheck {
  const scenario = scenarioOf(login);
  if (!scenario) throw new Error(`checkingLogin with a login that is no scenario: ${login}`);
  const { registeredAs } = SCENARIOS[scenario];
  return { registeredAs, online: scenario === 'busybee' };
}

/** The events offered in a state, with payloads; see the module comment. */
export function connectionEvents(snapshot: AnyMachineSnapshot): EventObject[] {
  const login = snapshot.context.login as string | undefined;
  const awaiting = (state: string) => snapshot.matches({ authenticating: state });
  return eventsFrom(snapshot, (type) => {
    switch (type) {
      case 'client.line':
        if (awaiting('awaitingLogin')) {
          return [...Object.values(SCENARIOS).map((s) => s.typed), ...INVALID_LOGINS, QUIT].map((t) => line(t));
        }
        // The password typed is right or wrong as the verify outcome that follows says: the TCP
        // replay types the one that produces it.
        if (awaiting('awaitingPassword')) return [line(PASSWORD), line(QUIT)];
        if (snapshot.matches({ authenticating: { registering: 'choosingPassword' } })) return [line(TOO_SHORT), line(PASSWORD), line(QUIT)];
        if (snapshot.matches({ authenticating: { registering: 'repeatingPassword' } })) return [line(PASSWORD), line(OTHER_PASSWORD), line(QUIT)];
        if (snapshot.matches({ chatting: 'idle' })) return CHAT_LINES.map(line);
        return [];
      case 'client.chatLines':
        return snapshot.hasTag('chatLines') ? [{ type, texts: CHAT_RUN }] : [];
      // The line pump delivers lines (too long or not) only in states tagged `input`.
      case 'client.lineTooLong':
        return snapshot.hasTag('input') ? [{ type, bytes: MODEL_INPUT.maxLineBytes + 1 }] : [];
      case 'xstate.done.actor.checkLogin':
        return [{ type, output: checkResult(login) }];
      case 'xstate.done.actor.verifyPassword':
        return [{ type, output: true }, { type, output: false }];
      case 'xstate.done.actor.registerUser':
        return [{ type, output: scenarioOf(login) === 'racer' ? 'taken' : 'registered' }];
      case 'xstate.done.actor.joinChat': {
        const output: JoinResult = scenarioOf(login) === 'dupe' ? { status: 'alreadyOnline' } : { status: 'joined' };
        return [{ type, output }];
      }
      // Claiming a login fails only on a cluster node whose Redis does not answer (a lookup in memory on one node).
      case 'xstate.error.actor.joinChat':
        return [{ type, error: UNAVAILABLE }];
      // The sign-in's store calls: a failure, or (on a cluster node) Redis away.
      case 'xstate.error.actor.checkLogin':
      case 'xstate.error.actor.verifyPassword':
      case 'xstate.error.actor.registerUser':
        return [{ type, error: injected }, { type, error: UNAVAILABLE }];
      // Only a cluster node's lease lapsing signs a user out: LEFT_TO_OTHER_TESTS.
      case 'server.signOut':
        return [];
      // #lobby's answers: the room actor's, so they come only where the session waits for them.
      case 'room.joined':
        if (snapshot.matches({ chatting: 'entering' })) return [{ type, room: LOBBY, recent: [], topic: undefined, members: 1 }];
        // Nobody else is in the model's room, nobody sets its topic.
        if (snapshot.matches({ chatting: 'joiningRoom' })) return [{ type, room: MODEL_ROOM, recent: [], topic: undefined, members: 1 }];
        return [];
      case 'room.recalled':
        return snapshot.matches({ chatting: 'recalling' }) ? [{ type, room: LOBBY, messages: [] }] : [];
      // A /part's room says it has taken effect.
      case 'room.left':
        return snapshot.matches({ chatting: 'leavingRoom' }) ? [{ type, room: snapshot.context.leaving }] : [];
      // NOBODY is never registered (the other outcomes: test/integration/offline-messages.test.ts).
      case 'xstate.done.actor.sendPrivate':
        return [{ type, output: { status: 'unknown', to: NOBODY } satisfies PrivateOutcome }];
      // No fault of the TCP replay makes it fail (NOBODY is never stored): LEFT_TO_OTHER_TESTS.
      case 'xstate.error.actor.sendPrivate':
        return [];
      default:
        if (type.startsWith('xstate.error.actor.')) return [{ type, error: injected }];
        // The other room replies and private deliveries come from other users and rooms: the
        // rooms' own tests cover them (LEFT_TO_OTHER_TESTS).
        if (type.startsWith('room.') || type === 'chat.private') return [];
        // A command's event is raised by the line that types it (client.line above), never sent.
        if (type.startsWith('command.')) return [];
        // Floods and slow consumers: test/hostile/flood.test.ts and test/actors/client-link.test.ts.
        if (type === 'client.throttled' || type === 'client.paced' || type === 'client.slowConsumer') return [];
        return undefined;
    }
  });
}

function line(t: string): EventObject {
  return { type: 'client.line', text: t } as EventObject;
}

export function connectionPaths(): ModelPath[] {
  return generatePaths(machine, {
    input: MODEL_INPUT,
    events: connectionEvents,
    limit: 20_000,
    // A path never ends while a service runs: it goes on with the service's (first) completion.
    settle: (snapshot) =>
      leafIds(snapshot).some((id) => SERVICE_STATES.has(id))
        ? connectionEvents(snapshot).find((e) => e.type.startsWith('xstate.done.actor.') || SERVER_ANSWERS.has(e.type))
        : undefined,
  });
}

// ---- the oracle --------------------------------------------------------------------------------

/** What the server must have said last when it waits for input in a sign-in state. */
export const PROMPTS: Record<string, RegExp> = {
  'connection.authenticating.awaitingLogin': /login.*:$/i,
  'connection.authenticating.awaitingPassword': /^Password:$/,
  'connection.authenticating.registering.choosingPassword': /^Choose a password.*:$/,
  'connection.authenticating.registering.repeatingPassword': /repeat.*password:$/i,
};

/** States in which the server is working (a service runs, a room is asked) and says nothing until it answers. */
export const SERVICE_STATES = new Set([
  'connection.chatting.joiningRoom',
  'connection.chatting.leavingRoom',
  'connection.authenticating.checkingLogin',
  'connection.authenticating.verifyingPassword',
  'connection.authenticating.registering.saving',
  'connection.authenticating.joining',
  'connection.chatting.entering',
  'connection.chatting.recalling',
  'connection.chatting.sendingPrivate',
]);

/** A room's answers the server sends itself, like a service's completion. */
export const SERVER_ANSWERS = new Set(['room.joined', 'room.recalled', 'room.left']);

/**
 * Transitions this model leaves to other tests. Of the chat session, to the rooms' own tests: the pure ones in
 * test/machines/connection.test.ts and, over TCP with an oracle written apart from the machines,
 * test/model/rooms-oracle.test.ts and test/integration/rooms.test.ts. They depend on other
 * users and rooms (a join's member count, a topic set by someone else), which one client's path
 * cannot predict from the machine alone.
 */
/**
 * States this model does not reach, with the tests that do: `/passwd` and `/deleteaccount` change
 * the account a path signed in with, which every later path on the shared server would inherit.
 */
const ACCOUNTS = 'test/machines/connection.test.ts and test/integration/accounts.test.ts';
export const ACCOUNT_STATES: Record<string, string> = Object.fromEntries(
  [
    'changingPassword',
    'changingPassword.awaitingCurrentPassword',
    'changingPassword.choosingNewPassword',
    'changingPassword.repeatingNewPassword',
    'changingPassword.savingPassword',
    'deletingAccount',
    'deletingAccount.awaitingPassword',
    'deletingAccount.verifyingPassword',
    'deletingAccount.confirmingLogin',
    'deletingAccount.deleting',
  ].map((state) => [`connection.chatting.${state}`, ACCOUNTS]),
);

export const LEFT_TO_OTHER_TESTS: Record<string, string> = {
  'authenticating.joining --xstate.error.actor.joinChat[2/2]--> closed':
    'claiming a login fails only as "unavailable" (a cluster node\'s Redis away), which asks for the login again',
  'chatting --server.signOut--> closed': 'a cluster node whose lease lapsed (test/integration/cluster.test.ts)',
  'authenticating.registering.saving --xstate.done.actor.registerUser[2/3]--> authenticating.awaitingLogin':
    'a login that looks like a registered one (test/integration/unicode-logins.test.ts)',
  'chatting --chat.private--> (self)': 'a /msg from another user',
  'chatting --room.closed--> (self)': "the operator's close of a room (test/integration/rooms.test.ts)",
  'chatting --room.restarted--> (self)': 'a room actor that crashed (test/integration/rooms.test.ts)',
  'chatting --room.postFailed--> (self)': 'a history write the disk refused (test/hostile/disk.test.ts)',
  'chatting --room.refused--> (self)': 'a refusal outside a join (a room left meanwhile)',
  'chatting.leavingRoom --room.closed--> chatting.idle': "the operator's close of a room while a /part of it is on its way (test/integration/rooms.test.ts)",
  'chatting --room.topicRefused--> (self)': 'a topic the room refused (rooms tests)',
  'chatting.entering --room.refused--> closed': '#lobby never refuses a member: the pure tests cover the apology',
  'chatting.idle --command.away--> (self)': "marks the user away, which /who of every later path would show (test/integration/away.test.ts)",
  'chatting.idle --command.rooms--> (self)': 'lists every room of the server: other paths make its answer',
  'chatting.idle --command.names--> (self)': "lists a room's members: other paths make its answer",
  'chatting.idle --command.join[2/3]--> (self)': `the ${21}st room: the pure tests and test/integration/rooms.test.ts`,
  'chatting.idle --command.topic[1/2]--> (self)': "a room's topic, which other users set",
  'chatting.idle --command.topic[2/2]--> (self)': "setting a room's topic, which every later path would see",
  'chatting.joiningRoom --room.refused--> chatting.idle': 'a room that refuses a join (it is closing)',
  'chatting.recalling --room.restarted--> chatting.idle': 'a room actor that crashed while answering /history',
  'connection --client.throttled[1/2]--> closed': 'a flood past its allowance (test/hostile/flood.test.ts)',
  'connection --client.throttled[2/2]--> (self)': 'the first wait of a flood (test/hostile/flood.test.ts)',
  'connection --client.paced--> (self)': 'a flooder slowing down (test/hostile/flood.test.ts)',
  'connection --client.slowConsumer--> closed': 'a client that does not read (test/hostile/flood.test.ts)',
  'chatting.sendingPrivate --xstate.error.actor.sendPrivate--> chatting.idle':
    'a /msg left for a user offline that cannot be stored (a disk failure): test/integration/offline-messages.test.ts',
  'chatting.idle --command.passwd--> chatting.changingPassword':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.idle --command.deleteAccount--> chatting.deletingAccount':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.awaitingCurrentPassword --client.lineTooLong--> (self)':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.awaitingCurrentPassword --client.line[1/2]--> closed':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.awaitingCurrentPassword --client.line[2/2]--> chatting.changingPassword.choosingNewPassword':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.choosingNewPassword --client.lineTooLong--> (self)':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.choosingNewPassword --client.line[1/3]--> closed':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.choosingNewPassword --client.line[2/3]--> chatting.changingPassword.repeatingNewPassword':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.choosingNewPassword --client.line[3/3]--> chatting.idle':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.repeatingNewPassword --client.lineTooLong--> (self)':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.repeatingNewPassword --client.line[1/3]--> closed':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.repeatingNewPassword --client.line[2/3]--> chatting.changingPassword.savingPassword':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.repeatingNewPassword --client.line[3/3]--> chatting.idle':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.savingPassword --xstate.done.actor.changePassword[1/2]--> chatting.idle':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.savingPassword --xstate.done.actor.changePassword[2/2]--> chatting.idle':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.changingPassword.savingPassword --xstate.error.actor.changePassword--> chatting.idle':
    '/passwd (it changes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.awaitingPassword --client.lineTooLong--> (self)':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.awaitingPassword --client.line[1/2]--> closed':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.awaitingPassword --client.line[2/2]--> chatting.deletingAccount.verifyingPassword':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.verifyingPassword --xstate.done.actor.verifyPassword[1/2]--> chatting.deletingAccount.confirmingLogin':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.verifyingPassword --xstate.done.actor.verifyPassword[2/2]--> chatting.idle':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.verifyingPassword --xstate.error.actor.verifyPassword--> chatting.idle':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.confirmingLogin --client.lineTooLong--> (self)':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.confirmingLogin --client.line[1/3]--> closed':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.confirmingLogin --client.line[2/3]--> chatting.deletingAccount.deleting':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.confirmingLogin --client.line[3/3]--> chatting.idle':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.deleting --xstate.done.actor.deleteAccount--> closed':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
  'chatting.deletingAccount.deleting --xstate.error.actor.deleteAccount--> chatting.idle':
    '/deleteaccount (it removes the account every later path signs in to): test/machines/connection.test.ts and test/integration/accounts.test.ts',
};

/**
 * Judges one step by what the client was told. `lines`: what the server sent during the step;
 * `closed`: whether the server closed (or was asked to close) the connection.
 * - a step that ends the session closes the connection;
 * - a step after which the server waits for input in a sign-in state and that said anything ends
 *   with that state's prompt, and entering such a state always says something (the prompt);
 * - the step that reaches `chatting` says Welcome;
 * - while a service runs the server says nothing.
 * Returns the problems found (none: the step is consistent with the state it reached).
 */
export function judgeStep(before: AnyMachineSnapshot, after: AnyMachineSnapshot, lines: readonly string[], closed: boolean): string[] {
  const problems: string[] = [];
  const [leaf] = leafIds(after);
  const [previous] = leafIds(before);
  if (after.status === 'done') {
    if (!closed) problems.push('the session ended but the connection was not closed');
    return problems;
  }
  if (closed) problems.push(`the connection was closed in ${leaf}`);
  const prompt = PROMPTS[leaf!];
  if (prompt) {
    if (lines.length > 0 && !prompt.test(lines[lines.length - 1]!)) {
      problems.push(`waiting for input in ${leaf}, but the last line sent was ${JSON.stringify(lines[lines.length - 1])}, not a prompt matching ${prompt}`);
    }
    if (leaf !== previous && lines.length === 0) problems.push(`entered ${leaf} without a prompt`);
  }
  if (SERVICE_STATES.has(leaf!) && lines.length > 0) problems.push(`said ${JSON.stringify(lines)} while ${leaf} was still running`);
  if (after.matches({ chatting: 'idle' }) && before.matches({ chatting: 'entering' }) && !lines.some((l) => /Welcome/.test(l))) {
    problems.push('reached chatting without a Welcome');
  }
  return problems;
}

/** Whether a step's actions close the connection. */
export function closesConnection(actions: readonly EmittedAction[]): boolean {
  return actions.some((a) => a.type === 'closeConnection');
}

/**
 * What the client receives for a step, as the machine describes it: its `send` lines plus what
 * the runtime's actions say to this client (`listOnline`).
 * `online`: the logins online at that moment, for `/who`. A `noHistory` line stands for a history
 * block (the TCP replay accepts any block there: earlier paths may have posted messages).
 */
export function expectedLines(actions: readonly EmittedAction[], online: () => string[]): string[] {
  const lines: string[] = [];
  for (const action of actions) {
    switch (action.type) {
      case 'send':
        lines.push(...linesOf([action]));
        break;
      case 'listOnline': {
        const logins = online();
        lines.push(`Online (${logins.length}): ${logins.join(', ')}`);
        break;
      }
    }
  }
  return lines;
}

export const HISTORY_BLOCK = text.noHistory;
