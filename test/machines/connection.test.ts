import { describe, expect, it } from 'vitest';
import {
  type ConnectionInput,
  type JoinResult,
  type LoginCheck,
  connectionMachine,
  MAX_ROOMS_PER_USER,
  type PrivateOutcome,
} from '../../src/machines/connection.js';
import { echoMachine } from '../../src/machines/echo.js';
import { SECRET_KEYS } from '../../src/inspector/redaction.js';
import { HELP_LINES, usageFor } from '../../src/machines/commands.js';
import { actionMessageText, type ChatMessage, formatHistoryLine, LOBBY, MAX_WAITING_MESSAGES, SERVICE_UNAVAILABLE, text } from '../../src/machines/protocol.js';
import {
  type AnyEventOf,
  doneActor,
  drive,
  errorActor,
  leafStateIds,
  linesOf,
  spawned,
  stateIdsTagged,
  step,
  steps,
  stoppedChildren,
  summary,
} from './helpers.js';

type M = typeof connectionMachine;
type Event = AnyEventOf<M>;

const input: ConnectionInput = {
  connectionId: 'c1',
  remoteAddress: '198.51.100.7',
  loginTimeoutMs: 60_000,
  minPasswordLength: 6,
  maxPasswordAttempts: 3,
  historyReplay: 20,
  maxLineBytes: 4096,
  ratePerSecond: 20,
  maxFloodMs: 30_000,
};

const PASSWORD = 'Tr0ub4dor&3';
/** The new password typed at /passwd. */
const NEW_PASSWORD = 'c0rrect-h0rse';
const KNOWN: LoginCheck = { registeredAs: 'alice', online: false };
const UNKNOWN: LoginCheck = { registeredAs: undefined, online: false };
const ONLINE: LoginCheck = { registeredAs: 'alice', online: true };
const TIMEOUT: Event = { type: 'timer.loginExpired' };

interface TimedNode {
  id: string;
  after: readonly unknown[];
  states: Record<string, TimedNode>;
}
const allStateNodes = (node: TimedNode): TimedNode[] => [node, ...Object.values(node.states).flatMap(allStateNodes)];

const line = (t: string): Event => ({ type: 'client.line', text: t });
const JOINED: JoinResult = { status: 'joined' };
/** Leaving the chat leaves every room the user is in (or was being taken into). */
const leaveChat = (rooms: readonly string[] = [LOBBY]) => ({ type: 'leaveChat', params: { rooms } });
/** A room's answer to a join (the supervisor routes the request, the room replies). */
const roomJoined = (recent: ChatMessage[] = [], room = LOBBY, members = 1): Event => ({
  type: 'room.joined',
  room,
  recent,
  topic: undefined,
  members,
});
const lobbyMessage = (at: string, login: string, body: string): ChatMessage => ({ at, room: LOBBY, login, text: body });

/** Signing in as a known user, from a fresh connection to the chat, until the login is claimed. */
const SIGNED_IN_WAITING: Event[] = [
  line('alice'),
  doneActor('checkLogin', KNOWN),
  line(PASSWORD),
  doneActor('verifyPassword', true),
  doneActor('joinChat', JOINED),
];
/** …and #lobby has taken the user in. */
const SIGNED_IN: Event[] = [...SIGNED_IN_WAITING, roomJoined()];

/** How to reach each state from a fresh connection, its state value and its node id. */
const states = {
  awaitingLogin: {
    path: [],
    value: { authenticating: 'awaitingLogin' },
    id: 'connection.authenticating.awaitingLogin',
  },
  checkingLogin: {
    path: [line('alice')],
    value: { authenticating: 'checkingLogin' },
    id: 'connection.authenticating.checkingLogin',
  },
  awaitingPassword: {
    path: [line('alice'), doneActor('checkLogin', KNOWN)],
    value: { authenticating: 'awaitingPassword' },
    id: 'connection.authenticating.awaitingPassword',
  },
  verifyingPassword: {
    path: [line('alice'), doneActor('checkLogin', KNOWN), line(PASSWORD)],
    value: { authenticating: 'verifyingPassword' },
    id: 'connection.authenticating.verifyingPassword',
  },
  choosingPassword: {
    path: [line('newbie'), doneActor('checkLogin', UNKNOWN)],
    value: { authenticating: { registering: 'choosingPassword' } },
    id: 'connection.authenticating.registering.choosingPassword',
  },
  repeatingPassword: {
    path: [line('newbie'), doneActor('checkLogin', UNKNOWN), line(PASSWORD)],
    value: { authenticating: { registering: 'repeatingPassword' } },
    id: 'connection.authenticating.registering.repeatingPassword',
  },
  saving: {
    path: [line('newbie'), doneActor('checkLogin', UNKNOWN), line(PASSWORD), line(PASSWORD)],
    value: { authenticating: { registering: 'saving' } },
    id: 'connection.authenticating.registering.saving',
  },
  joining: {
    path: [line('alice'), doneActor('checkLogin', KNOWN), line(PASSWORD), doneActor('verifyPassword', true)],
    value: { authenticating: 'joining' },
    id: 'connection.authenticating.joining',
  },
  entering: {
    path: SIGNED_IN_WAITING,
    value: { chatting: 'entering' },
    id: 'connection.chatting.entering',
  },
  chatting: {
    path: SIGNED_IN,
    value: { chatting: 'idle' },
    id: 'connection.chatting.idle',
  },
  joiningRoom: {
    path: [...SIGNED_IN, line('/join #dev')],
    value: { chatting: 'joiningRoom' },
    id: 'connection.chatting.joiningRoom',
  },
  leavingRoom: {
    path: [...SIGNED_IN, line('/join #dev'), { type: 'room.joined', room: '#dev', recent: [], topic: undefined, members: 1 }, line('/part')],
    value: { chatting: 'leavingRoom' },
    id: 'connection.chatting.leavingRoom',
  },
  recalling: {
    path: [...SIGNED_IN, line('/history 5')],
    value: { chatting: 'recalling' },
    id: 'connection.chatting.recalling',
  },
  sendingPrivate: {
    path: [...SIGNED_IN, line('/msg bob hi there')],
    value: { chatting: 'sendingPrivate' },
    id: 'connection.chatting.sendingPrivate',
  },
  awaitingCurrentPassword: {
    path: [...SIGNED_IN, line('/passwd')],
    value: { chatting: { changingPassword: 'awaitingCurrentPassword' } },
    id: 'connection.chatting.changingPassword.awaitingCurrentPassword',
  },
  choosingNewPassword: {
    path: [...SIGNED_IN, line('/passwd'), line(PASSWORD)],
    value: { chatting: { changingPassword: 'choosingNewPassword' } },
    id: 'connection.chatting.changingPassword.choosingNewPassword',
  },
  repeatingNewPassword: {
    path: [...SIGNED_IN, line('/passwd'), line(PASSWORD), line(NEW_PASSWORD)],
    value: { chatting: { changingPassword: 'repeatingNewPassword' } },
    id: 'connection.chatting.changingPassword.repeatingNewPassword',
  },
  savingPassword: {
    path: [...SIGNED_IN, line('/passwd'), line(PASSWORD), line(NEW_PASSWORD), line(NEW_PASSWORD)],
    value: { chatting: { changingPassword: 'savingPassword' } },
    id: 'connection.chatting.changingPassword.savingPassword',
  },
  awaitingDeletePassword: {
    path: [...SIGNED_IN, line('/deleteaccount')],
    value: { chatting: { deletingAccount: 'awaitingPassword' } },
    id: 'connection.chatting.deletingAccount.awaitingPassword',
  },
  verifyingDeletePassword: {
    path: [...SIGNED_IN, line('/deleteaccount'), line(PASSWORD)],
    value: { chatting: { deletingAccount: 'verifyingPassword' } },
    id: 'connection.chatting.deletingAccount.verifyingPassword',
  },
  confirmingLogin: {
    path: [...SIGNED_IN, line('/deleteaccount'), line(PASSWORD), doneActor('verifyPassword', true)],
    value: { chatting: { deletingAccount: 'confirmingLogin' } },
    id: 'connection.chatting.deletingAccount.confirmingLogin',
  },
  deletingAccount: {
    path: [...SIGNED_IN, line('/deleteaccount'), line(PASSWORD), doneActor('verifyPassword', true), line('alice')],
    value: { chatting: { deletingAccount: 'deleting' } },
    id: 'connection.chatting.deletingAccount.deleting',
  },
} satisfies Record<string, { path: Event[]; value: unknown; id: string }>;

type StateName = keyof typeof states;
const stateNames = Object.keys(states) as StateName[];
/** The states of /passwd and /deleteaccount: questions asked in the chat. */
const accountStates: StateName[] = [
  'awaitingCurrentPassword',
  'choosingNewPassword',
  'repeatingNewPassword',
  'savingPassword',
  'awaitingDeletePassword',
  'verifyingDeletePassword',
  'confirmingLogin',
  'deletingAccount',
];
const chatStates: StateName[] = ['entering', 'chatting', 'joiningRoom', 'leavingRoom', 'recalling', 'sendingPrivate', ...accountStates];
const authenticatingStates = stateNames.filter((s) => !chatStates.includes(s));
const CHATTING = states.chatting.value;

/** A connection driven to `state`; returns its snapshot and the actions of the last step only. */
function at(state: StateName, overrides: Partial<ConnectionInput> = {}) {
  const [snapshot] = drive(connectionMachine, { ...input, ...overrides }, states[state].path);
  return snapshot;
}

function send(snapshot: ReturnType<typeof at>, ...events: Event[]) {
  return steps(connectionMachine, snapshot, events);
}

describe('connection machine: the states', () => {
  it('greets, asks for a login and starts the login timer on connect', () => {
    const [snapshot, actions] = drive(connectionMachine, input, []);

    expect(snapshot.value).toEqual({ authenticating: 'awaitingLogin' });
    expect(linesOf(actions)).toEqual([text.greeting, text.loginPrompt]);
    expect(spawned(actions)).toEqual([{ id: 'loginTimer', src: 'loginTimer', input: { ms: 60_000 } }]);
  });

  it('has a path in this file to every state of the definition', () => {
    const covered = [...stateNames.map((s) => states[s].id), 'connection.closed'];

    expect(covered.sort()).toEqual(leafStateIds(connectionMachine).sort());
  });

  it.each(stateNames)('reaches %s and is still active there', (state) => {
    const snapshot = at(state);

    expect(snapshot.value).toEqual(states[state].value);
    expect(snapshot.status).toBe('active');
  });

  it('tags as input exactly the states that wait for a line from the client', () => {
    const tagged = stateNames.filter((s) => at(s).hasTag('input'));

    expect(tagged).toEqual([
      'awaitingLogin',
      'awaitingPassword',
      'choosingPassword',
      'repeatingPassword',
      'chatting',
      'awaitingCurrentPassword',
      'choosingNewPassword',
      'repeatingNewPassword',
      'awaitingDeletePassword',
      'confirmingLogin',
    ]);
    expect(stateIdsTagged(connectionMachine, 'input')).toHaveLength(tagged.length);
  });

  const SECRET: StateName[] = [
    'awaitingPassword',
    'choosingPassword',
    'repeatingPassword',
    'awaitingCurrentPassword',
    'choosingNewPassword',
    'repeatingNewPassword',
    'awaitingDeletePassword',
  ];

  it('tags as secret exactly the states whose next line is a password', () => {
    const tagged = stateNames.filter((s) => at(s).hasTag('secret'));

    expect(tagged).toEqual(SECRET);
    expect(stateIdsTagged(connectionMachine, 'secret').sort()).toEqual(SECRET.map((s) => states[s].id).sort());
  });

  it.each(SECRET)('asks for the password in %s with a prompt the terminal client hides the answer to', (state) => {
    // The terminal client hides the next line typed after a line that says "password" and ends with ":".
    const [, actions] = drive(connectionMachine, input, states[state].path);

    const prompt = linesOf(actions).at(-1)!;
    expect(prompt).toMatch(/password/i);
    expect(prompt).toMatch(/:$/);
  });
});

describe('connection machine: state × event', () => {
  const KICKED = [
    leaveChat(),
    { type: 'send', params: { lines: [text.kicked] } },
    { type: 'log', params: { entry: 'session.kicked' } },
    { type: 'closeConnection' },
  ];
  const LEFT = [leaveChat(), { type: 'log', params: { entry: 'session.left' } }, { type: 'closeConnection' }];
  const TOO_LONG = [{ type: 'send', params: { lines: [text.lineTooLong(4096)] } }];

  /** `next: 'same'` means the event is ignored: same value, same context, no action at all. */
  const table: { state: StateName; event: Event; next: unknown; actions: unknown[] }[] = [
    // Ignored: an operator's kick only means something to a user who is in the chat.
    { state: 'awaitingLogin', event: { type: 'server.kick' }, next: 'same', actions: [] },
    { state: 'checkingLogin', event: { type: 'server.kick' }, next: 'same', actions: [] },
    { state: 'awaitingPassword', event: { type: 'server.kick' }, next: 'same', actions: [] },
    { state: 'choosingPassword', event: { type: 'server.kick' }, next: 'same', actions: [] },
    { state: 'joining', event: { type: 'server.kick' }, next: 'same', actions: [] },
    // Ignored: a line typed while the machine is busy is held by the actor, not handled here.
    { state: 'checkingLogin', event: line('typed-ahead'), next: 'same', actions: [] },
    { state: 'verifyingPassword', event: line('typed-ahead'), next: 'same', actions: [] },
    { state: 'saving', event: line('typed-ahead'), next: 'same', actions: [] },
    { state: 'joining', event: line('typed-ahead'), next: 'same', actions: [] },
    // Ignored: a completion from an actor that is not running in this state.
    { state: 'awaitingLogin', event: doneActor('joinChat', JOINED), next: 'same', actions: [] },
    { state: 'awaitingPassword', event: doneActor('checkLogin', KNOWN), next: 'same', actions: [] },
    // Ignored: the login timer belongs to authenticating; a late one changes nothing in the chat.
    { state: 'chatting', event: TIMEOUT, next: 'same', actions: [] },
    // Handled in place.
    // In a sign-in state the prompt follows the notice: a client waits for input on a prompt line.
    {
      state: 'awaitingLogin',
      event: { type: 'client.lineTooLong', bytes: 9000 },
      next: states.awaitingLogin.value,
      actions: [{ type: 'send', params: { lines: [text.lineTooLong(4096), text.loginPrompt] } }],
    },
    {
      state: 'awaitingPassword',
      event: { type: 'client.lineTooLong', bytes: 9000 },
      next: states.awaitingPassword.value,
      actions: [{ type: 'send', params: { lines: [text.lineTooLong(4096), text.passwordPrompt] } }],
    },
    { state: 'verifyingPassword', event: { type: 'client.lineTooLong', bytes: 9000 }, next: states.verifyingPassword.value, actions: TOO_LONG },
    { state: 'chatting', event: { type: 'client.lineTooLong', bytes: 9000 }, next: CHATTING, actions: TOO_LONG },
    { state: 'chatting', event: line('/who'), next: CHATTING, actions: [{ type: 'listOnline' }] },
    // Ignored while a room's answer is awaited: the line waits in the actor, after the answer.
    { state: 'recalling', event: line('/who'), next: 'same', actions: [] },
    { state: 'joiningRoom', event: line('hello'), next: 'same', actions: [] },
    { state: 'entering', event: line('hello'), next: 'same', actions: [] },
    { state: 'recalling', event: { type: 'server.kick' }, next: 'closed', actions: KICKED },
    { state: 'entering', event: { type: 'server.kick' }, next: 'closed', actions: KICKED },
    // Handled by leaving.
    { state: 'chatting', event: { type: 'server.kick' }, next: 'closed', actions: KICKED },
    { state: 'chatting', event: { type: 'client.closed' }, next: 'closed', actions: LEFT },
    { state: 'awaitingPassword', event: { type: 'client.closed' }, next: 'closed', actions: [{ type: 'closeConnection' }] },
    { state: 'saving', event: { type: 'client.closed' }, next: 'closed', actions: [{ type: 'closeConnection' }] },
    {
      state: 'checkingLogin',
      event: TIMEOUT,
      next: 'closed',
      actions: [
        { type: 'send', params: { lines: [text.loginTimeout] } },
        { type: 'log', params: { entry: 'login.timedOut' } },
        { type: 'closeConnection' },
      ],
    },
  ];

  it.each(table)('$state × $event.type → $next', ({ state, event, next, actions }) => {
    const before = at(state);

    const [after, emitted] = step(connectionMachine, before, event);

    if (next === 'same') {
      expect(after.value).toEqual(before.value);
      expect(after.context).toEqual(before.context);
      expect(emitted).toEqual([]);
    } else {
      expect(after.value).toEqual(next);
      expect(summary(emitted)).toEqual(actions);
    }
  });

  it.each(stateNames)('closes with the shutting-down message on server.shutdown in %s', (state) => {
    const [after, actions] = send(at(state), { type: 'server.shutdown' });

    expect(after.value).toBe('closed');
    expect(after.status).toBe('done');
    expect(summary(actions)).toEqual([
      ...(chatStates.includes(state) ? [leaveChat(state === 'joiningRoom' ? [LOBBY, '#dev'] : [LOBBY])] : []),
      { type: 'send', params: { lines: [text.shuttingDown] } },
      { type: 'closeConnection' },
    ]);
  });

  it.each(authenticatingStates)('closes quietly when the client hangs up in %s', (state) => {
    const [after, actions] = send(at(state), { type: 'client.closed' });

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([{ type: 'closeConnection' }]);
  });

  it.each(authenticatingStates)('stops the invoked work when leaving %s', (state) => {
    const running = ['checkingLogin', 'verifyingPassword', 'saving', 'joining'].includes(state);

    const [, actions] = send(at(state), { type: 'server.shutdown' });

    const stopped = stoppedChildren(actions);
    expect(stopped).toContain('loginTimer');
    expect(stopped.some((id) => id !== 'loginTimer')).toBe(running);
  });
});

describe('connection machine: login names', () => {
  it.each([
    ['a'],
    ['A'.repeat(32)],
    ['bob_smith'],
    ['x-y.z'],
    ['0042'],
    ['MixedCase9'],
  ])('accepts %j and checks it', (name) => {
    const [after, actions] = send(at('awaitingLogin'), line(name));

    expect(after.value).toEqual(states.checkingLogin.value);
    expect(after.context.login).toBe(name);
    expect(spawned(actions)).toEqual([{ id: 'checkLogin', src: 'checkLogin', input: { login: name } }]);
  });

  it('trims the spaces around a login before checking it', () => {
    const [after, actions] = send(at('awaitingLogin'), line('  alice \t'));

    expect(after.context.login).toBe('alice');
    expect(spawned(actions)[0]?.input).toEqual({ login: 'alice' });
  });

  it.each([
    ['', 'A login cannot be empty.'],
    ['   ', 'A login cannot be empty.'],
    ['A'.repeat(33), 'A login is at most 32 characters.'],
    ['bob smith', 'A login may contain only letters, digits, "_", "-" and "." (no spaces, symbols, emoji or invisible characters).'],
    ['bob!', 'A login may contain only letters, digits, "_", "-" and "." (no spaces, symbols, emoji or invisible characters).'],
    ['\u001b[2J', 'A login may contain only letters, digits, "_", "-" and "." (no spaces, symbols, emoji or invisible characters).'],
    ['p\u0430ypal', 'A login may not mix scripts (Latin and Cyrillic).'],
  ])('refuses %j with the reason and asks again', (name, reason) => {
    const [after, actions] = send(at('awaitingLogin'), line(name));

    expect(after.value).toEqual(states.awaitingLogin.value);
    expect(after.context.login).toBeUndefined();
    expect(linesOf(actions)).toEqual([reason, text.loginPrompt]);
    expect(spawned(actions)).toEqual([]);
  });

  it('keeps the login timer running when a refused name is asked again', () => {
    const [, actions] = send(at('awaitingLogin'), line('no spaces please'));

    expect(spawned(actions)).toEqual([]);
    expect(stoppedChildren(actions)).toEqual([]);
  });
});

describe('connection machine: signing in', () => {
  it('asks a registered login for its password', () => {
    const [after, actions] = send(at('checkingLogin'), doneActor('checkLogin', KNOWN));

    expect(after.value).toEqual(states.awaitingPassword.value);
    expect(linesOf(actions)).toEqual([text.passwordPrompt]);
  });

  it('checks the typed password for that login', () => {
    const [after, actions] = send(at('awaitingPassword'), line(PASSWORD));

    expect(after.value).toEqual(states.verifyingPassword.value);
    expect(spawned(actions)).toEqual([
      { id: 'verifyPassword', src: 'verifyPassword', input: { login: 'alice', password: PASSWORD } },
    ]);
  });

  it('claims the login among those online once the password is right', () => {
    const [after, actions] = send(at('verifyingPassword'), doneActor('verifyPassword', true));

    expect(after.value).toEqual(states.joining.value);
    expect(spawned(actions)).toEqual([{ id: 'joinChat', src: 'joinChat', input: { login: 'alice' } }]);
  });

  it('asks #lobby to take the user in once the login is claimed, and says nothing before its answer', () => {
    const [after, actions] = send(at('joining'), doneActor('joinChat', JOINED));

    expect(after.value).toEqual(states.entering.value);
    expect(after.context.rooms).toEqual([]);
    expect(summary(actions)).toEqual([
      { type: 'log', params: { entry: 'login.succeeded' } },
      { type: 'requestJoin', params: { room: LOBBY } },
    ]);
  });

  it('welcomes a returning user with the recent history between a header and a footer', () => {
    const recent: ChatMessage[] = [
      lobbyMessage('2024-05-01T10:00:00.000Z', 'bob', 'hi'),
      lobbyMessage('2024-05-01T10:00:05.000Z', 'carol', 'hello bob'),
    ];

    const [after, actions] = send(at('entering'), roomJoined(recent));

    expect(after.value).toEqual(CHATTING);
    expect(after.context.rooms).toEqual([LOBBY]);
    expect(after.context.currentRoom).toBe(LOBBY);
    expect(linesOf(actions)).toEqual([
      text.welcomeBack('alice'),
      text.historyHeader(2),
      '[2024-05-01 10:00:00] bob: hi',
      formatHistoryLine(recent[1]!),
      text.historyFooter,
    ]);
    // The room's live lines, held while the answer was on its way, come after the welcome; then
    // the private messages left while the user was away.
    expect(summary(actions).map((a) => a.type)).toEqual(['send', 'releaseDeliveries', 'deliverWaitingMessages']);
  });

  it('says there is no history yet when the room has none', () => {
    const [, actions] = send(at('entering'), roomJoined([]));

    expect(linesOf(actions)).toEqual([text.welcomeBack('alice'), text.noHistory]);
  });

  it('apologises and closes when #lobby refuses to take the user in', () => {
    const [after, actions] = send(at('entering'), { type: 'room.refused', room: LOBBY, reason: 'no' });

    expect(after.value).toBe('closed');
    expect(linesOf(actions)).toEqual([text.serviceFailed]);
    expect(summary(actions).map((a) => a.type)).toEqual(['leaveChat', 'send', 'releaseDeliveries', 'closeConnection']);
  });

  it('asks for the password again after a wrong one, and closes after the third', () => {
    const wrong = [line('nope-1'), doneActor('verifyPassword', false)];

    const [first, firstActions] = send(at('awaitingPassword'), ...wrong);
    const [second, secondActions] = send(first, ...wrong);
    const [third, thirdActions] = send(second, ...wrong);

    expect(first.value).toEqual(states.awaitingPassword.value);
    expect(linesOf(firstActions)).toEqual([text.wrongPassword(2), text.passwordPrompt]);
    expect(second.value).toEqual(states.awaitingPassword.value);
    expect(linesOf(secondActions)).toEqual([text.wrongPassword(1), text.passwordPrompt]);
    expect(third.value).toBe('closed');
    expect(summary(thirdActions)).toEqual([
      { type: 'send', params: { lines: [text.tooManyWrongPasswords] } },
      { type: 'log', params: { entry: 'login.locked' } },
      { type: 'closeConnection' },
    ]);
  });

  it('logs each wrong password as a failed login', () => {
    const [, actions] = send(at('awaitingPassword'), line('nope'), doneActor('verifyPassword', false));

    expect(summary(actions).filter((a) => a.type === 'log')).toEqual([{ type: 'log', params: { entry: 'login.failed' } }]);
  });

  it('closes on the first wrong password when only one attempt is allowed', () => {
    const snapshot = at('awaitingPassword', { maxPasswordAttempts: 1 });

    const [after, actions] = send(snapshot, line('nope'), doneActor('verifyPassword', false));

    expect(after.value).toBe('closed');
    expect(linesOf(actions)).toEqual([text.tooManyWrongPasswords]);
  });

  it('refuses a login that is already online when checking it', () => {
    const [after, actions] = send(at('checkingLogin'), doneActor('checkLogin', ONLINE));

    expect(after.value).toEqual(states.awaitingLogin.value);
    expect(after.context.login).toBeUndefined();
    expect(linesOf(actions)).toEqual([text.alreadyOnline('alice'), text.loginPrompt]);
    expect(summary(actions).filter((a) => a.type === 'log')).toEqual([
      { type: 'log', params: { entry: 'login.refusedOnline' } },
    ]);
  });

  it('refuses a login that came online while the password was checked', () => {
    const [after, actions] = send(at('joining'), doneActor('joinChat', { status: 'alreadyOnline' } satisfies JoinResult));

    expect(after.value).toEqual(states.awaitingLogin.value);
    expect(linesOf(actions)).toEqual([text.alreadyOnline('alice'), text.loginPrompt]);
    expect(summary(actions).filter((a) => a.type === 'log')).toEqual([
      { type: 'log', params: { entry: 'login.refusedOnline' } },
    ]);
  });

  it('starts the password count afresh for the next login after a refusal', () => {
    const [refused] = send(
      at('awaitingPassword'),
      line('nope'),
      doneActor('verifyPassword', false),
      line(PASSWORD),
      doneActor('verifyPassword', true),
      doneActor('joinChat', { status: 'alreadyOnline' }),
    );

    expect(refused.context.wrongPasswords).toBe(0);
  });

  it.each([
    ['checkingLogin', 'checkLogin'],
    ['verifyingPassword', 'verifyPassword'],
    ['joining', 'joinChat'],
  ] as const)('closes with an apology and reports the failure when %s fails', (state, invokeId) => {
    const [after, actions] = send(at(state), errorActor(invokeId, new Error('disk on fire')));

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: [text.serviceFailed] } },
      { type: 'reportFailure' },
      { type: 'closeConnection' },
    ]);
  });

  // A cluster node whose Redis does not answer (src/actors/cluster-node.ts): nothing was decided.
  it.each([
    ['checkingLogin', 'checkLogin'],
    ['verifyingPassword', 'verifyPassword'],
    ['joining', 'joinChat'],
  ] as const)('says the service is unavailable and asks for the login again when %s finds the store away', (state, invokeId) => {
    const unavailable = Object.assign(new Error('the cluster\'s store is unavailable'), { code: SERVICE_UNAVAILABLE });
    const [after, actions] = send(at(state), errorActor(invokeId, unavailable));

    expect(after.value).toEqual({ authenticating: 'awaitingLogin' });
    expect(linesOf(actions)).toEqual([text.serviceUnavailable, text.loginPrompt]);
    expect(summary(actions).map((a) => a.type)).not.toContain('reportFailure');
  });
});

describe('connection machine: registering', () => {
  it('offers to register a login nobody has', () => {
    const [after, actions] = send(at('checkingLogin'), doneActor('checkLogin', UNKNOWN));

    expect(after.value).toEqual(states.choosingPassword.value);
    expect(linesOf(actions)).toEqual([text.newPasswordPrompt(6)]);
  });

  it('asks again for a password that is too short', () => {
    const [after, actions] = send(at('choosingPassword'), line('12345'));

    expect(after.value).toEqual(states.choosingPassword.value);
    expect(after.context.pendingPassword).toBeUndefined();
    expect(linesOf(actions)).toEqual([text.passwordTooShort(6), text.newPasswordPrompt(6)]);
  });

  it('accepts a password of exactly the minimum length', () => {
    const [after] = send(at('choosingPassword'), line('123456'));

    expect(after.value).toEqual(states.repeatingPassword.value);
  });

  it('counts password length in characters, not UTF-16 units', () => {
    const [fiveEmoji] = send(at('choosingPassword'), line('🔑'.repeat(5)));
    const [sixEmoji] = send(at('choosingPassword'), line('🔑'.repeat(6)));

    expect(fiveEmoji.value).toEqual(states.choosingPassword.value);
    expect(sixEmoji.value).toEqual(states.repeatingPassword.value);
  });

  it('asks to repeat a long-enough password', () => {
    const [after, actions] = send(at('choosingPassword'), line(PASSWORD));

    expect(after.value).toEqual(states.repeatingPassword.value);
    expect(linesOf(actions)).toEqual([text.repeatPrompt]);
  });

  it('starts over, forgetting the first password, when the repeat differs', () => {
    const [after, actions] = send(at('repeatingPassword'), line('something-else'));

    expect(after.value).toEqual(states.choosingPassword.value);
    expect(after.context.pendingPassword).toBeUndefined();
    expect(linesOf(actions)).toEqual([text.passwordsDiffer, text.newPasswordPrompt(6)]);
  });

  it.each([
    ['in case only', PASSWORD.toUpperCase()],
    ['in case only, the other way', PASSWORD.toLowerCase()],
    ['by a trailing space', `${PASSWORD} `],
  ])('starts over when the repeat differs %s: passwords are compared exactly', (_, repeat) => {
    const [after, actions] = send(at('repeatingPassword'), line(repeat));

    expect(after.value).toEqual(states.choosingPassword.value);
    expect(spawned(actions)).toEqual([]);
    expect(linesOf(actions)).toEqual([text.passwordsDiffer, text.newPasswordPrompt(6)]);
  });

  it('saves the login with the password once it is repeated', () => {
    const [after, actions] = send(at('repeatingPassword'), line(PASSWORD));

    expect(after.value).toEqual(states.saving.value);
    expect(spawned(actions)).toEqual([
      {
        id: 'registerUser',
        src: 'registerUser',
        input: { login: 'newbie', password: PASSWORD, remoteAddress: '198.51.100.7' },
      },
    ]);
  });

  it('joins the chat once saved, and forgets the password', () => {
    const [after, actions] = send(at('saving'), doneActor('registerUser', 'registered'));

    expect(after.value).toEqual(states.joining.value);
    expect(after.context.registered).toBe(true);
    expect(after.context.pendingPassword).toBeUndefined();
    expect(summary(actions)).toEqual([{ type: 'log', params: { entry: 'registration.succeeded' } }]);
    expect(spawned(actions)).toEqual([{ id: 'joinChat', src: 'joinChat', input: { login: 'newbie' } }]);
  });

  it('welcomes a newly registered user as new', () => {
    const [after, actions] = send(
      at('saving'),
      doneActor('registerUser', 'registered'),
      doneActor('joinChat', JOINED),
      roomJoined(),
    );

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.welcomeNew('newbie'), text.noHistory]);
    expect(linesOf(actions)[0]).toMatch(/^Welcome, newbie!/);
  });

  it('sends the user back to choose a login when someone registered it meanwhile', () => {
    const [after, actions] = send(at('saving'), doneActor('registerUser', 'taken'));

    expect(after.value).toEqual(states.awaitingLogin.value);
    expect(after.context.login).toBeUndefined();
    expect(after.context.pendingPassword).toBeUndefined();
    expect(linesOf(actions)).toEqual([text.loginTaken('newbie'), text.loginPrompt]);
    expect(summary(actions).filter((a) => a.type === 'log')).toEqual([
      { type: 'log', params: { entry: 'registration.raced' } },
    ]);
  });

  it('says so and asks for a login again when the registration cannot be saved', () => {
    const [after, actions] = send(at('saving'), errorActor('registerUser', new Error('EACCES')));

    expect(after.value).toEqual(states.awaitingLogin.value);
    expect(after.status).toBe('active');
    expect(after.context.pendingPassword).toBeUndefined();
    expect(linesOf(actions)).toEqual([text.registrationFailed, text.loginPrompt]);
    expect(summary(actions).filter((a) => a.type === 'log')).toEqual([
      { type: 'log', params: { entry: 'registration.failed' } },
    ]);
  });

  it('welcomes a returning user as returning after a registration that was refused at the door', () => {
    const [refused] = send(
      at('saving'),
      doneActor('registerUser', 'registered'),
      doneActor('joinChat', { status: 'alreadyOnline' }),
    );

    const [after, actions] = send(
      refused,
      line('alice'),
      doneActor('checkLogin', KNOWN),
      line(PASSWORD),
      doneActor('verifyPassword', true),
      doneActor('joinChat', JOINED),
      roomJoined(),
    );

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toContain(text.welcomeBack('alice'));
  });
});

describe('connection machine: the login timeout', () => {
  it('is an invoked timer, not an `after` delay: no state of the connection or echo machine has one', () => {
    // All connection actors share one actor system, whose delayed events xstate scans on every
    // stop of any of its actors (src/actors/connection-system.ts): one `after` per waiting
    // connection would make each stop cost as many steps as there are connections waiting.
    const delayed = [connectionMachine, echoMachine].flatMap((machine) =>
      allStateNodes(machine.root as unknown as TimedNode).filter((node) => node.after.length > 0).map((node) => node.id),
    );

    expect(delayed).toEqual([]);
  });

  it.each(authenticatingStates)('closes with a message when the login times out in %s', (state) => {
    const [after, actions] = send(at(state), TIMEOUT);

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: [text.loginTimeout] } },
      { type: 'log', params: { entry: 'login.timedOut' } },
      { type: 'closeConnection' },
    ]);
  });

  it('forgets a half-chosen password when the login times out', () => {
    const [after] = send(at('repeatingPassword'), TIMEOUT);

    expect(after.context.pendingPassword).toBeUndefined();
  });

  it('cancels the login timer on reaching the chat', () => {
    const [, actions] = send(at('joining'), doneActor('joinChat', JOINED));

    expect(stoppedChildren(actions)).toContain('loginTimer');
  });

  it('changes nothing when a late timeout arrives in the chat', () => {
    const chatting = at('chatting');

    const [after, actions] = send(chatting, TIMEOUT);

    expect(after.value).toEqual(CHATTING);
    expect(after.status).toBe('active');
    expect(actions).toEqual([]);
  });
});

describe('connection machine: history replay switched off', () => {
  it('welcomes without a history section when the replay size is 0', () => {
    const [snapshot] = drive(connectionMachine, { ...input, historyReplay: 0 }, [
      line('alice'),
      doneActor('checkLogin', KNOWN),
      line(PASSWORD),
      doneActor('verifyPassword', true),
    ]);
    const [after, actions] = send(snapshot, doneActor('joinChat', JOINED), roomJoined([lobbyMessage('2024-05-01T10:00:00.000Z', 'bob', 'hi')]));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.welcomeBack('alice')]);
  });

  it('still answers /history with the last 20 when the replay size is 0', () => {
    const [snapshot] = drive(connectionMachine, { ...input, historyReplay: 0 }, states.chatting.path);
    const [after, actions] = send(snapshot, line('/history'));

    expect(after.value).toEqual(states.recalling.value);
    expect(summary(actions)).toEqual([{ type: 'recall', params: { room: LOBBY, limit: 20 } }]);
  });
});

describe('connection machine: chatting', () => {
  const post = (...texts: string[]) => ({ type: 'post', params: { room: LOBBY, texts } });

  it.each([
    ['hello everyone', [post('hello everyone')]],
    ['  \u001b[31mred\u001b[0m alert\u0007  ', [post('[31mred[0m alert')]],
    ['tab\tand ünïcödé 👋', [post('tab\tand ünïcödé 👋')]],
    ['/who', [{ type: 'listOnline' }]],
    ['/WHO', [{ type: 'listOnline' }]],
    ['/away at lunch', [{ type: 'setAway', params: { text: 'at lunch' } }, { type: 'send', params: { lines: [text.awaySet('at lunch')] } }]],
    ['/away', [{ type: 'setAway', params: { text: undefined } }, { type: 'send', params: { lines: [text.awayCleared] } }]],
    ['/rooms', [{ type: 'listRooms' }]],
    ['/names', [{ type: 'listNames', params: { room: LOBBY } }]],
    ['/names #Dev', [{ type: 'listNames', params: { room: '#dev' } }]],
    ['/names dev', [{ type: 'send', params: { lines: [usageFor('/names')] } }]],
    ['/me waves', [{ type: 'post', params: { room: LOBBY, texts: [actionMessageText('waves')] } }]],
    ['/me', [{ type: 'send', params: { lines: [usageFor('/me')] } }]],
    ['/topic', [{ type: 'showTopic', params: { room: LOBBY } }]],
    ['/topic  all about   cats ', [{ type: 'setTopic', params: { room: LOBBY, text: 'all about   cats' } }]],
    ['/join dev', [{ type: 'send', params: { lines: [usageFor('/join')] } }]],
    ['/join #' + 'x'.repeat(33), [{ type: 'send', params: { lines: [usageFor('/join')] } }]],
    ['/join #a b', [{ type: 'send', params: { lines: [usageFor('/join')] } }]],
    ['/part', [{ type: 'send', params: { lines: [text.cannotLeaveLobby] } }]],
    ['/part #lobby', [{ type: 'send', params: { lines: [text.cannotLeaveLobby] } }]],
    ['/part #dev', [{ type: 'send', params: { lines: [text.notInRoom('#dev')] } }]],
    ['/history 0', [{ type: 'send', params: { lines: [usageFor('/history')] } }]],
    ['/history 101', [{ type: 'send', params: { lines: [usageFor('/history')] } }]],
    ['/history abc', [{ type: 'send', params: { lines: [usageFor('/history')] } }]],
    ['/history 1e1', [{ type: 'send', params: { lines: [usageFor('/history')] } }]],
    ['/msg bob', [{ type: 'send', params: { lines: [usageFor('/msg')] } }]],
    ['/msg', [{ type: 'send', params: { lines: [usageFor('/msg')] } }]],
    ['/help', [{ type: 'send', params: { lines: HELP_LINES } }]],
    ['/?', [{ type: 'send', params: { lines: HELP_LINES } }]],
    ['/nope', [{ type: 'send', params: { lines: [text.unknownCommand('/nope')] } }]],
    ['', []],
    ['   ', []],
  ])('handles %j by %j and stays in the chat', (typed, expected) => {
    const [after, actions] = send(at('chatting'), line(typed));

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions).filter((a) => !a.type.startsWith('xstate.'))).toEqual(expected);
  });

  it('posts chat messages that arrived together in one step, cleaned, in order', () => {
    const chatting = at('chatting');
    expect(chatting.hasTag('chatLines')).toBe(true);

    const [after, actions] = send(chatting, { type: 'client.chatLines', texts: ['one', ' two\u0007 ', 'three'] });

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual([post('one', 'two', 'three')]);
  });

  it.each([['/msg bob psst'], ['  /quit'], ['   ']])('broadcasts nothing of a batch that holds %j, which is no chat message', (odd) => {
    const [after, actions] = send(at('chatting'), { type: 'client.chatLines', texts: ['one', odd] });

    expect(after.value).toEqual(CHATTING);
    expect(actions).toEqual([]);
  });

  it.each(['entering', 'joiningRoom', 'recalling', 'sendingPrivate'] as const)('takes no line and no batch in %s (they wait, in order, for the answer)', (state) => {
    const snapshot = at(state);

    expect(snapshot.hasTag('chatLines')).toBe(false);
    expect(snapshot.hasTag('input')).toBe(false);
  });

  it.each([
    ['/history 5', 5],
    ['/HISTORY   100 ', 100],
    ['/history', 20],
  ])('asks the current room for the history asked for by %j (limit %d), holding further lines meanwhile', (typed, limit) => {
    const [after, actions] = send(at('chatting'), line(typed));

    expect(after.value).toEqual(states.recalling.value);
    expect(after.hasTag('input')).toBe(false);
    expect(summary(actions).filter((a) => !a.type.startsWith('xstate.'))).toEqual([{ type: 'recall', params: { room: LOBBY, limit } }]);
  });

  it('shows the recalled history between a header and a footer, then takes lines again', () => {
    const messages = [lobbyMessage('2024-05-01T10:00:00.000Z', 'bob', 'hi')];

    const [after, actions] = send(at('recalling'), { type: 'room.recalled', room: LOBBY, messages });

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.historyHeader(1), '[2024-05-01 10:00:00] bob: hi', text.historyFooter]);
  });

  it('says there is no history when the room has none', () => {
    const [, actions] = send(at('recalling'), { type: 'room.recalled', room: LOBBY, messages: [] });

    expect(linesOf(actions)).toEqual([text.noHistory]);
  });

  it('says history is unavailable, and stays in the chat, when the room restarted before answering', () => {
    const [after, actions] = send(at('recalling'), { type: 'room.restarted', room: LOBBY });

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.roomRestarted(LOBBY), text.historyUnavailable]);
  });

  it('says the unknown command back without the control characters typed in it', () => {
    const [, actions] = send(at('chatting'), line('/\u001b[2Jx'));

    expect(linesOf(actions)).toEqual([text.unknownCommand('/[2Jx')]);
  });

  it.each(['/quit', '/QUIT', ' /quit ', '/exit'])('says Bye, leaves the chat and closes on %j', (typed) => {
    const [after, actions] = send(at('chatting'), line(typed));

    expect(after.value).toBe('closed');
    expect(after.status).toBe('done');
    expect(summary(actions).filter((a) => !a.type.startsWith('xstate.'))).toEqual([
      leaveChat(),
      { type: 'send', params: { lines: [text.bye] } },
      { type: 'log', params: { entry: 'session.left' } },
      { type: 'closeConnection' },
    ]);
  });

  it('leaves the chat when the client hangs up', () => {
    const [after, actions] = send(at('chatting'), { type: 'client.closed' });

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([
      leaveChat(),
      { type: 'log', params: { entry: 'session.left' } },
      { type: 'closeConnection' },
    ]);
  });

  it('tells a kicked user why the connection ends', () => {
    const [after, actions] = send(at('chatting'), { type: 'server.kick' });

    expect(after.value).toBe('closed');
    expect(linesOf(actions)).toEqual([text.kicked]);
    expect(summary(actions).map((a) => a.type)).toEqual(['leaveChat', 'send', 'log', 'closeConnection']);
  });

  it('shows a private message handed over by the history writer', () => {
    const [after, actions] = send(at('chatting'), { type: 'chat.private', line: '[12:00:00] *bob* psst' });

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual(['[12:00:00] *bob* psst']);
  });

  it('says "not saved" once for each message the room could not store', () => {
    const [, actions] = send(at('chatting'), { type: 'room.postFailed', room: LOBBY, count: 2 });

    expect(linesOf(actions)).toEqual([text.messageNotSaved, text.messageNotSaved]);
  });
});

describe('connection machine: rooms', () => {
  const IN_DEV = [...SIGNED_IN, line('/join #dev'), roomJoined([], '#dev', 2)];

  it('asks for a room it is not in, by its key, and waits for the answer', () => {
    const [after, actions] = send(at('chatting'), line('/join #Dev'));

    expect(after.value).toEqual(states.joiningRoom.value);
    expect(summary(actions).filter((a) => !a.type.startsWith('xstate.'))).toEqual([{ type: 'requestJoin', params: { room: '#dev' } }]);
  });

  it('talks in the room it joined, after saying where it is, the topic and the room\'s history', () => {
    const topic = { text: 'ship it', by: 'bob', at: '2024-05-01T09:00:00.000Z' };
    const recent = [{ at: '2024-05-01T10:00:00.000Z', room: '#dev', login: 'bob', text: 'hi' }];

    const [after, actions] = send(at('joiningRoom'), { type: 'room.joined', room: '#dev', recent, topic, members: 3 });

    expect(after.value).toEqual(CHATTING);
    expect(after.context.rooms).toEqual([LOBBY, '#dev']);
    expect(after.context.currentRoom).toBe('#dev');
    expect(linesOf(actions)).toEqual([
      text.joinedRoom('#dev', 3),
      text.topicIs('#dev', 'ship it', 'bob'),
      text.historyHeader(1),
      formatHistoryLine(recent[0]!),
      text.historyFooter,
    ]);
    expect(summary(actions).at(-1)).toEqual({ type: 'releaseDeliveries' });
  });

  it('posts plain lines to the current room', () => {
    const [chatting] = drive(connectionMachine, input, IN_DEV);

    const [, actions] = send(chatting, line('hello'));

    expect(summary(actions)).toEqual([{ type: 'post', params: { room: '#dev', texts: ['hello'] } }]);
  });

  it('says the reason and stays where it was when the room refuses', () => {
    const [after, actions] = send(at('joiningRoom'), { type: 'room.refused', room: '#dev', reason: 'No.' });

    expect(after.value).toEqual(CHATTING);
    expect(after.context.currentRoom).toBe(LOBBY);
    expect(after.context.rooms).toEqual([LOBBY]);
    expect(linesOf(actions)).toEqual(['No.']);
  });

  it('switches to a room it is already in without asking anyone', () => {
    const [inDev] = drive(connectionMachine, input, [...IN_DEV, line('/join #lobby')]);
    expect(inDev.context.currentRoom).toBe(LOBBY);

    const [after, actions] = send(inDev, line('/join #DEV'));

    expect(after.value).toEqual(CHATTING);
    expect(after.context.currentRoom).toBe('#dev');
    expect(summary(actions).filter((a) => !a.type.startsWith('xstate.'))).toEqual([
      { type: 'send', params: { lines: [text.nowTalkingIn('#dev')] } },
    ]);
  });

  it(`refuses a join beyond ${MAX_ROOMS_PER_USER} rooms with the reason`, () => {
    const joins = Array.from({ length: MAX_ROOMS_PER_USER - 1 }, (_, i) => [line(`/join #r${i}`), roomJoined([], `#r${i}`)]).flat();
    const [full] = drive(connectionMachine, input, [...SIGNED_IN, ...joins]);
    expect(full.context.rooms).toHaveLength(MAX_ROOMS_PER_USER);

    const [after, actions] = send(full, line('/join #one-more'));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.tooManyRooms(MAX_ROOMS_PER_USER)]);
    expect(summary(actions).some((a) => a.type === 'requestJoin')).toBe(false);
  });

  it('leaves the current room on /part, says so once the room has let it go, and talks in #lobby again', () => {
    const [chatting] = drive(connectionMachine, input, IN_DEV);

    const [leaving, actions] = send(chatting, line('/part'));
    expect(leaving.value).toEqual({ chatting: 'leavingRoom' });
    expect(leaving.context.rooms).toEqual([LOBBY]);
    expect(leaving.context.currentRoom).toBe(LOBBY);
    // "You left" waits for the room: the lines it had for us before the leave come first.
    expect(summary(actions).filter((a) => !a.type.startsWith('xstate.'))).toEqual([{ type: 'leaveRoom', params: { room: '#dev' } }]);
    expect(leaving.hasTag('input')).toBe(false);

    const [after, told] = send(leaving, { type: 'room.left', room: '#dev' });
    expect(after.value).toEqual({ chatting: 'idle' });
    expect(after.context.leaving).toBeUndefined();
    expect(linesOf(told)).toEqual([text.leftRoom('#dev', LOBBY)]);
  });

  it('takes a close of the room it is leaving as the leave (its room.left will not come)', () => {
    const [leaving] = send(drive(connectionMachine, input, IN_DEV)[0], line('/part'));
    const [after, actions] = send(leaving, { type: 'room.closed', room: '#dev' });
    expect(after.value).toEqual({ chatting: 'idle' });
    expect(linesOf(actions)).toEqual([text.leftRoom('#dev', LOBBY)]);
    // Another room's answer is not this leave's.
    const [still] = send(leaving, { type: 'room.left', room: '#ops' });
    expect(still.value).toEqual({ chatting: 'leavingRoom' });
  });

  it('leaves another room by name and keeps talking where it was', () => {
    const [chatting] = drive(connectionMachine, input, [...IN_DEV, line('/join #ops'), roomJoined([], '#ops')]);

    const [after, actions] = send(chatting, line('/part #dev'), { type: 'room.left', room: '#dev' });

    expect(after.context.rooms).toEqual([LOBBY, '#ops']);
    expect(after.context.currentRoom).toBe('#ops');
    expect(linesOf(actions)).toEqual([text.leftRoom('#dev', '#ops')]);
  });

  it('is moved to #lobby when the operator closes its current room', () => {
    const [chatting] = drive(connectionMachine, input, IN_DEV);

    const [after, actions] = send(chatting, { type: 'room.closed', room: '#dev' });

    expect(after.context.rooms).toEqual([LOBBY]);
    expect(after.context.currentRoom).toBe(LOBBY);
    expect(linesOf(actions)).toEqual([text.roomClosed('#dev'), text.nowTalkingIn(LOBBY)]);
  });

  it('is told when the operator closes a room it is in but not talking in, and keeps talking where it was', () => {
    const [chatting] = drive(connectionMachine, input, [...IN_DEV, line('/join #lobby')]);

    const [after, actions] = send(chatting, { type: 'room.closed', room: '#dev' });

    expect(after.context.rooms).toEqual([LOBBY]);
    expect(after.context.currentRoom).toBe(LOBBY);
    expect(linesOf(actions)).toEqual([text.roomClosed('#dev')]);
  });

  // A refusal can arrive while chatting (a topic too long, a room that refused late): its reason is
  // the answer, and nothing else changes.
  it.each(['room.refused', 'room.topicRefused'] as const)('says the reason of a %s that arrives while chatting', (type) => {
    const [chatting] = drive(connectionMachine, input, IN_DEV);

    const [after, actions] = send(chatting, { type, room: '#dev', reason: 'Not now.' });

    expect(after.value).toEqual(CHATTING);
    expect(after.context.rooms).toEqual([LOBBY, '#dev']);
    expect(linesOf(actions)).toEqual(['Not now.']);
  });

  it('with history replay off, a join says where it is and the topic but replays nothing', () => {
    const topic = { text: 'ship it', by: 'bob', at: '2024-05-01T09:00:00.000Z' };
    const recent = [{ at: '2024-05-01T10:00:00.000Z', room: '#dev', login: 'bob', text: 'hi' }];

    const [, actions] = send(at('joiningRoom', { historyReplay: 0 }), { type: 'room.joined', room: '#dev', recent, topic, members: 3 });

    expect(linesOf(actions)).toEqual([text.joinedRoom('#dev', 3), text.topicIs('#dev', 'ship it', 'bob')]);
  });

  it('ignores the close of a room it is not in', () => {
    const chatting = at('chatting');

    const [after, actions] = send(chatting, { type: 'room.closed', room: '#dev' });

    expect(after.context).toEqual(chatting.context);
    expect(actions).toEqual([]);
  });

  it('is told when a room it is in was restarted, and stays in it', () => {
    const [chatting] = drive(connectionMachine, input, IN_DEV);

    const [after, actions] = send(chatting, { type: 'room.restarted', room: '#dev' });

    expect(after.context.rooms).toEqual([LOBBY, '#dev']);
    expect(linesOf(actions)).toEqual([text.roomRestarted('#dev')]);
  });
});

describe('connection machine: passwords stay secret', () => {
  const TOO_SHORT = 'Zq9x';
  const MISMATCH = 'Mismatch#77';
  const WRONG = 'Wr0ng!pass';
  const secrets = [PASSWORD, TOO_SHORT, MISMATCH, WRONG];

  it('never puts a password in a line sent or logged, only in the inputs of the actors that check or store it', () => {
    const [, registration] = drive(connectionMachine, input, [
      line('newbie'),
      doneActor('checkLogin', UNKNOWN),
      line(TOO_SHORT),
      line(PASSWORD),
      line(MISMATCH),
      line(PASSWORD),
      line(PASSWORD),
      doneActor('registerUser', 'registered'),
      doneActor('joinChat', JOINED),
      roomJoined(),
      line('/quit'),
    ]);
    const [, signIn] = drive(connectionMachine, input, [
      line('alice'),
      doneActor('checkLogin', KNOWN),
      line(WRONG),
      doneActor('verifyPassword', false),
      line(PASSWORD),
      doneActor('verifyPassword', true),
      doneActor('joinChat', JOINED),
      roomJoined(),
      line('/quit'),
    ]);
    const all = [...registration, ...signIn];

    // Only type + params: the action objects also carry `info` (context, event), which the
    // executor receives but must not log.
    const dump = JSON.stringify(summary(all));
    const inputs = JSON.stringify(spawned(all).map((s) => s.input));

    expect(dump).toContain('"send"');
    expect(dump).toContain('"log"');
    for (const secret of secrets) expect(dump).not.toContain(secret);
    for (const secret of [PASSWORD, WRONG]) expect(inputs).toContain(secret);
    expect(spawned(all).filter((s) => JSON.stringify(s.input).includes(PASSWORD)).map((s) => s.id).sort()).toEqual([
      'registerUser',
      'verifyPassword',
    ]);
  });

  it('keeps no password in the context once registration is over', () => {
    const [snapshot] = drive(connectionMachine, input, [...states.saving.path, doneActor('registerUser', 'registered')]);

    expect(JSON.stringify(snapshot.context)).not.toContain(PASSWORD);
  });
});

describe('connection machine: floods and slow consumers', () => {
  const throttled = (at: number): Event => ({ type: 'client.throttled', at });

  it.each(['awaitingLogin', 'verifyingPassword', 'chatting'] as const)('tells a client once per flood that it is too fast, in %s', (state) => {
    const [first, told] = send(at(state), throttled(1_000));
    const [, again] = send(first, throttled(2_000));

    expect(linesOf(told)).toEqual([text.tooFast(20)]);
    expect(first.context.floodingSince).toBe(1_000);
    expect(again).toEqual([]);
  });

  it('disconnects a client still over the rate after the flood allowance, saying why', () => {
    const [flooding] = send(at('chatting'), throttled(1_000), throttled(31_000));
    expect(flooding.value).toEqual(CHATTING);

    const [after, actions] = send(flooding, throttled(31_001));

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([
      leaveChat(),
      { type: 'send', params: { lines: [text.flooding(20, 30)] } },
      { type: 'reportFlood' },
      { type: 'closeConnection' },
    ]);
  });

  it('starts a new flood, told again, once the client slowed down', () => {
    const [slowed] = send(at('chatting'), throttled(1_000), { type: 'client.paced' });
    expect(slowed.context.floodingSince).toBeUndefined();

    const [after, actions] = send(slowed, throttled(40_000));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.tooFast(20)]);
  });

  it('drops a slow consumer at once, without a goodbye it would not read', () => {
    const [after, actions] = send(at('chatting'), { type: 'client.slowConsumer', unreadBytes: 2_000_000 });

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([
      leaveChat(),
      { type: 'reportSlowConsumer', params: { unreadBytes: 2_000_000 } },
      { type: 'abortConnection' },
      { type: 'closeConnection' },
    ]);
  });
});

describe('connection machine: /quit at a sign-in prompt', () => {
  it.each(['awaitingLogin', 'awaitingPassword', 'choosingPassword', 'repeatingPassword'] as const)(
    'says Bye and closes on "/quit" in %s, without taking it for a login or a password',
    (state) => {
      const [after, actions] = send(at(state), line(' /QUIT '));

      expect(after.value).toBe('closed');
      expect(linesOf(actions)).toEqual([text.bye]);
      expect(summary(actions).filter((a) => a.type === 'log')).toEqual([{ type: 'log', params: { entry: 'login.quit' } }]);
      expect(spawned(actions)).toEqual([]);
    },
  );

  it('takes "/exit" as "/quit", and "/quitter" as a login name it refuses', () => {
    const [quit] = send(at('awaitingLogin'), line('/exit'));
    const [refused, actions] = send(at('awaitingLogin'), line('/quitter'));

    expect(quit.value).toBe('closed');
    expect(refused.value).toEqual(states.awaitingLogin.value);
    expect(linesOf(actions)).toEqual(['A login may contain only letters, digits, "_", "-" and "." (no spaces, symbols, emoji or invisible characters).', text.loginPrompt]);
  });
});

describe('connection machine: /msg, and messages left for a user offline', () => {
  it.each([
    ['/msg bob hi there', 'bob', 'hi there'],
    ['  /msg bob psst', 'bob', 'psst'],
    ['/msg bob a  b   c', 'bob', 'a  b   c'],
  ])('asks sendPrivate to deliver %j, and waits for its answer', (typed, to, body) => {
    const [after, actions] = send(at('chatting'), line(typed));

    expect(after.value).toEqual(states.sendingPrivate.value);
    expect(spawned(actions)).toEqual([{ id: 'sendPrivate', src: 'sendPrivate', input: { to, text: body } }]);
    expect(linesOf(actions)).toEqual([]);
  });

  it.each<[string, PrivateOutcome, string[]]>([
    ['delivered', { status: 'delivered', to: 'Bob', text: 'hi there', away: undefined }, ['(private to Bob) hi there']],
    ['delivered to someone away', { status: 'delivered', to: 'Bob', text: 'hi', away: 'at lunch' }, ['(private to Bob) hi', 'Bob is away: at lunch']],
    ['left for later', { status: 'left', to: 'Bob' }, ['Bob is offline: your message will be delivered when they sign in.']],
    ['refused: too many waiting', { status: 'full', to: 'Bob' }, [`Bob is offline and has ${MAX_WAITING_MESSAGES} messages waiting already: yours was not stored.`]],
    ['to oneself', { status: 'toSelf' }, ['That is you.']],
    ['to nobody registered', { status: 'unknown', to: 'zed' }, ['No user named zed is registered.']],
  ])('tells the sender what happened when it was %s, and is chatting again', (_, outcome, expected) => {
    const [after, actions] = send(at('sendingPrivate'), doneActor('sendPrivate', outcome));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual(expected);
  });

  it('says the message was not sent when it could not be stored, logs the failure, and is chatting again', () => {
    const [after, actions] = send(at('sendingPrivate'), errorActor('sendPrivate', new Error('disk full')));

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: ['Your message could not be stored, so it was not sent.'] } },
      { type: 'log', params: { entry: 'private.failed' } },
      { type: 'reportFailure' },
    ]);
  });

  it('still shows a private message that arrives while its own is on its way', () => {
    const [after, actions] = send(at('sendingPrivate'), { type: 'chat.private', line: '[2024-05-01 12:00:00] (private) carol: hi' });

    expect(after.value).toEqual(states.sendingPrivate.value);
    expect(linesOf(actions)).toEqual(['[2024-05-01 12:00:00] (private) carol: hi']);
  });
});

describe('connection machine: /passwd', () => {
  const CHANGE = { login: 'alice', password: PASSWORD, pendingPassword: NEW_PASSWORD };

  it('asks the current password, then a new one, then the new one again, each at a secret prompt', () => {
    const [current, asked] = send(at('chatting'), line('/passwd'));
    const [chosen, askedNew] = send(current, line(PASSWORD));
    const [repeated, askedRepeat] = send(chosen, line(NEW_PASSWORD));

    expect(linesOf(asked)).toEqual([text.currentPasswordPrompt]);
    expect(linesOf(askedNew)).toEqual([text.nextPasswordPrompt(6)]);
    expect(linesOf(askedRepeat)).toEqual([text.repeatNextPasswordPrompt]);
    expect([text.currentPasswordPrompt, text.nextPasswordPrompt(6), text.repeatNextPasswordPrompt]).toEqual([
      'Current password:',
      'New password (at least 6 characters):',
      'Repeat the new password:',
    ]);
    for (const snapshot of [current, chosen, repeated]) expect(snapshot.hasTag('input') && snapshot.hasTag('secret')).toBe(true);
    expect(spawned([...asked, ...askedNew, ...askedRepeat])).toEqual([]);
  });

  it('hands the current and the new password to changePassword once the new one is repeated', () => {
    const [after, actions] = send(at('repeatingNewPassword'), line(NEW_PASSWORD));

    expect(after.value).toEqual(states.savingPassword.value);
    expect(spawned(actions)).toEqual([{ id: 'changePassword', src: 'changePassword', input: CHANGE }]);
    expect(linesOf(actions)).toEqual([]);
  });

  it('says "Password changed." once the store has saved it, and is chatting again in the same rooms', () => {
    const [after, actions] = send(at('savingPassword'), doneActor('changePassword', 'changed'));

    expect(after.value).toEqual(CHATTING);
    expect(after.context.rooms).toEqual([LOBBY]);
    // Back in `idle`, not into the chat again: no second join of #lobby, no welcome.
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: [text.passwordChanged] } },
      { type: 'log', params: { entry: 'password.changed' } },
    ]);
    expect(text.passwordChanged).toBe('Password changed.');
  });

  it('says the current password was wrong and that nothing changed', () => {
    const [after, actions] = send(at('savingPassword'), doneActor('changePassword', 'wrong'));

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: ['Wrong password; your password is unchanged.'] } },
      { type: 'log', params: { entry: 'password.wrong' } },
    ]);
  });

  it('refuses a new password that is too short at once, and is chatting again', () => {
    const [after, actions] = send(at('choosingNewPassword'), line('Zq9x'));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.newPasswordTooShort(6)]);
    expect(spawned(actions)).toEqual([]);
    expect(after.context.password).toBeUndefined();
  });

  it('refuses a repeat that differs, and is chatting again with the password unchanged', () => {
    const [after, actions] = send(at('repeatingNewPassword'), line('Mismatch#77'));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.newPasswordsDiffer]);
    expect(spawned(actions)).toEqual([]);
    expect(after.context.pendingPassword).toBeUndefined();
  });

  it('says the change failed when the store fails, and reports the failure', () => {
    const [after, actions] = send(at('savingPassword'), errorActor('changePassword', new Error('disk full')));

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: [text.passwordChangeFailed] } },
      { type: 'log', params: { entry: 'password.failed' } },
      { type: 'reportFailure' },
    ]);
  });

  it('answers /passwd with arguments with its usage line and asks nothing', () => {
    const [after, actions] = send(at('chatting'), line(`/passwd ${PASSWORD}`));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([usageFor('/passwd')]);
  });

  it.each(['awaitingCurrentPassword', 'choosingNewPassword', 'repeatingNewPassword'] as const)(
    'takes a line typed in %s as the answer, never as a chat message',
    (state) => {
      const [, actions] = send(at(state), line('hello everyone'));

      expect(summary(actions).filter((a) => a.type === 'post')).toEqual([]);
    },
  );

  it('ignores a run of chat lines at a prompt (the line pump sends those only where chat lines are taken)', () => {
    const before = at('awaitingCurrentPassword');

    const [after, actions] = send(before, { type: 'client.chatLines', texts: ['a', 'b'] });

    expect(after.value).toEqual(before.value);
    expect(actions).toEqual([]);
  });

  it('still shows what others send while it asks', () => {
    const [after, actions] = send(at('choosingNewPassword'), { type: 'chat.private', line: '[12:00:00] (private) bob: hi' });

    expect(after.value).toEqual(states.choosingNewPassword.value);
    expect(linesOf(actions)).toEqual(['[12:00:00] (private) bob: hi']);
  });

  it('says a line was too long and asks again', () => {
    const [after, actions] = send(at('awaitingCurrentPassword'), { type: 'client.lineTooLong', bytes: 9000 });

    expect(after.value).toEqual(states.awaitingCurrentPassword.value);
    expect(linesOf(actions)).toEqual([text.lineTooLong(4096), text.currentPasswordPrompt]);
  });

  it('says Bye and leaves on /quit at a prompt', () => {
    const [after, actions] = send(at('choosingNewPassword'), line('/quit'));

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([
      leaveChat(),
      { type: 'send', params: { lines: [text.bye] } },
      { type: 'log', params: { entry: 'session.left' } },
      { type: 'closeConnection' },
    ]);
  });

  it.each([
    ['changed', [doneActor('changePassword', 'changed')]],
    ['wrong', [doneActor('changePassword', 'wrong')]],
    ['failed', [errorActor('changePassword', new Error('x'))]],
    ['hung up', [{ type: 'client.closed' } as Event]],
  ])('keeps no password in the context once the change is over (%s)', (_, events) => {
    const [snapshot] = send(at('savingPassword'), ...events);

    expect(snapshot.context.password).toBeUndefined();
    expect(snapshot.context.pendingPassword).toBeUndefined();
    expect(JSON.stringify(snapshot.context)).not.toContain(PASSWORD.slice(0, 6));
    expect(JSON.stringify(snapshot.context)).not.toContain(NEW_PASSWORD.slice(0, 6));
  });
});

describe('connection machine: /deleteaccount', () => {
  it('asks the password at a secret prompt, and checks it at once with verifyPassword (the slowdown applies)', () => {
    const [asking, asked] = send(at('chatting'), line('/deleteaccount'));
    const [checking, checked] = send(asking, line(PASSWORD));

    expect(linesOf(asked)).toEqual(['Password:']);
    expect(asking.hasTag('secret')).toBe(true);
    expect(checking.value).toEqual(states.verifyingDeletePassword.value);
    expect(spawned(checked)).toEqual([{ id: 'verifyPassword', src: 'verifyPassword', input: { login: 'alice', password: PASSWORD } }]);
    // Checked, not kept: nothing of it stays in the context.
    expect(JSON.stringify(checking.context)).not.toContain(PASSWORD);
  });

  it('asks for the login again once the password is right, at a prompt that is not secret', () => {
    const [after, actions] = send(at('verifyingDeletePassword'), doneActor('verifyPassword', true));

    expect(after.value).toEqual(states.confirmingLogin.value);
    expect(linesOf(actions)).toEqual(['Type your login again to confirm:']);
    expect(after.hasTag('input')).toBe(true);
    expect(after.hasTag('secret')).toBe(false);
  });

  it('deletes the account once the login is typed again (in any case), then says so and leaves', () => {
    const [deleting, asked] = send(at('confirmingLogin'), line(' ALICE '));
    const [after, actions] = send(deleting, doneActor('deleteAccount'));

    expect(spawned(asked)).toEqual([{ id: 'deleteAccount', src: 'deleteAccount', input: { login: 'alice' } }]);
    expect(after.value).toBe('closed');
    expect(after.status).toBe('done');
    // leaveChat: the usual leave notices follow.
    expect(summary(actions)).toEqual([
      leaveChat(),
      { type: 'send', params: { lines: ['Your account was deleted. Bye!'] } },
      { type: 'log', params: { entry: 'account.deleted' } },
      { type: 'closeConnection' },
    ]);
  });

  it('keeps the account on a wrong password, and is chatting again', () => {
    const [after, actions] = send(at('verifyingDeletePassword'), doneActor('verifyPassword', false));

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: ['Wrong password; your account is kept.'] } },
      { type: 'log', params: { entry: 'account.wrongPassword' } },
    ]);
  });

  it('keeps the account when another login is typed to confirm', () => {
    const [after, actions] = send(at('confirmingLogin'), line('bob'));

    expect(after.value).toEqual(CHATTING);
    expect(spawned(actions)).toEqual([]);
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: ['That is not your login; your account is kept.'] } },
      { type: 'log', params: { entry: 'account.wrongLogin' } },
    ]);
  });

  it.each([
    ['the password check', 'verifyingDeletePassword', errorActor('verifyPassword', new Error('x'))],
    ['the deletion', 'deletingAccount', errorActor('deleteAccount', new Error('disk full'))],
  ] as const)('keeps the session and says the account is kept when %s fails', (_, state, event) => {
    const [after, actions] = send(at(state), event);

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: [text.accountDeleteFailed] } },
      { type: 'log', params: { entry: 'account.failed' } },
      { type: 'reportFailure' },
    ]);
  });

  it('answers /deleteaccount with arguments with its usage line and asks nothing', () => {
    const [after, actions] = send(at('chatting'), line('/deleteaccount now'));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([usageFor('/deleteaccount')]);
  });

  it.each(['awaitingDeletePassword', 'confirmingLogin'] as const)('takes a line typed in %s as the answer, never as a chat message', (state) => {
    const [, actions] = send(at(state), line('hello everyone'));

    expect(summary(actions).filter((a) => a.type === 'post')).toEqual([]);
  });

  it('says a line was too long and asks again', () => {
    const [, actions] = send(at('confirmingLogin'), { type: 'client.lineTooLong', bytes: 9000 });

    expect(linesOf(actions)).toEqual([text.lineTooLong(4096), text.confirmLoginPrompt]);
  });

  it('says Bye and leaves on /quit at a prompt, deleting nothing', () => {
    const [after, actions] = send(at('confirmingLogin'), line('/quit'));

    expect(after.value).toBe('closed');
    expect(linesOf(actions)).toEqual([text.bye]);
    expect(spawned(actions)).toEqual([]);
  });
});

describe('connection machine: passwords typed at /passwd and /deleteaccount stay secret', () => {
  const WRONG = 'Wr0ng!pass';
  const TOO_SHORT = 'Zq9x';
  const MISMATCH = 'Mismatch#77';

  it('never puts one in a line sent or logged, only in the inputs of the actors that check or store it', () => {
    const [, all] = drive(connectionMachine, input, [
      ...SIGNED_IN,
      line('/passwd'),
      line(WRONG),
      line(TOO_SHORT),
      line('/passwd'),
      line(WRONG),
      line(NEW_PASSWORD),
      line(MISMATCH),
      line('/passwd'),
      line(WRONG),
      line(NEW_PASSWORD),
      line(NEW_PASSWORD),
      doneActor('changePassword', 'wrong'),
      line('/passwd'),
      line(PASSWORD),
      line(NEW_PASSWORD),
      line(NEW_PASSWORD),
      doneActor('changePassword', 'changed'),
      line('/deleteaccount'),
      line(WRONG),
      doneActor('verifyPassword', false),
      line('/deleteaccount'),
      line(NEW_PASSWORD),
      doneActor('verifyPassword', true),
      line('alice'),
      doneActor('deleteAccount'),
    ]);

    const dump = JSON.stringify(summary(all));
    expect(dump).toContain('"account.deleted"');
    for (const secret of [PASSWORD, NEW_PASSWORD, WRONG, TOO_SHORT, MISMATCH]) expect(dump).not.toContain(secret);
    const withSecret = spawned(all).filter((s) => [PASSWORD, NEW_PASSWORD, WRONG].some((p) => JSON.stringify(s.input).includes(p)));
    expect([...new Set(withSecret.map((s) => s.id))].sort()).toEqual(['changePassword', 'verifyPassword']);
  });

  it('passes them to changePassword under names the inspector redacts, and keeps them in the context under such names only', () => {
    const [saving, actions] = drive(connectionMachine, input, states.savingPassword.path);
    const change = spawned(actions).find((s) => s.id === 'changePassword')!;

    const carrying = (o: object) => Object.entries(o).filter(([, v]) => v === PASSWORD || v === NEW_PASSWORD).map(([k]) => k);
    for (const key of [...carrying(change.input as object), ...carrying(saving.context)]) expect(SECRET_KEYS.has(key), key).toBe(true);
    expect(carrying(saving.context).sort()).toEqual(['password', 'pendingPassword']);
  });
});

describe('sign-in with Unicode logins (issue 15)', () => {
  const NFD = 'E\u0301lodie';
  const NFC = 'Élodie';

  it.each([['élodie'], ['日本語'], ['Ελένη'], ['Олег']])('takes %j as a login and checks it', (name) => {
    const [after, actions] = send(at('awaitingLogin'), line(name));

    expect(after.value).toEqual(states.checkingLogin.value);
    expect(spawned(actions)).toEqual([{ id: 'checkLogin', src: 'checkLogin', input: { login: name } }]);
  });

  it('keeps a login typed in NFD as NFC, the form it is checked, registered and shown in', () => {
    const [after, actions] = send(at('awaitingLogin'), line(NFD));

    expect(after.context.login).toBe(NFC);
    expect(spawned(actions)[0]?.input).toEqual({ login: NFC });
  });

  it.each([
    ['a login mixing Latin and Cyrillic', 'p\u0430ypal', 'A login may not mix scripts (Latin and Cyrillic).'],
    ['a right-to-left mark', 'bob\u200f', 'A login may contain only letters, digits, "_", "-" and "." (no spaces, symbols, emoji or invisible characters).'],
    ['an emoji', 'bob\u{1F600}', 'A login may contain only letters, digits, "_", "-" and "." (no spaces, symbols, emoji or invisible characters).'],
  ])('refuses %s with the reason and asks again', (_, name, reason) => {
    const [after, actions] = send(at('awaitingLogin'), line(name));

    expect(after.value).toEqual(states.awaitingLogin.value);
    expect(linesOf(actions)).toEqual([reason, text.loginPrompt]);
    expect(spawned(actions)).toEqual([]);
  });

  it('says the login looks like an existing one and asks for another when the store refuses it as confusable', () => {
    const [after, actions] = send(at('saving'), doneActor('registerUser', 'confusable'));

    expect(after.value).toEqual(states.awaitingLogin.value);
    expect(after.context.login).toBeUndefined();
    expect(after.context.pendingPassword).toBeUndefined();
    expect(linesOf(actions)).toEqual([text.loginLooksTaken('newbie'), text.loginPrompt]);
    expect(summary(actions).filter((a) => a.type === 'log')).toEqual([{ type: 'log', params: { entry: 'registration.confusable' } }]);
    expect(spawned(actions)).toEqual([]);
  });
});
