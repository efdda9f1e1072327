import { describe, expect, it } from 'vitest';
import {
  type ConnectionInput,
  type JoinResult,
  type LoginCheck,
  connectionMachine,
} from '../../src/machines/connection.js';
import { echoMachine } from '../../src/machines/echo.js';
import { type ChatMessage, formatHistoryLine, text } from '../../src/machines/protocol.js';
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
};

const PASSWORD = 'Tr0ub4dor&3';
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
const joined = (recent: ChatMessage[] = []): JoinResult => ({ status: 'joined', recent });

/** Signing in as a known user, from a fresh connection to the chat. */
const SIGNED_IN: Event[] = [
  line('alice'),
  doneActor('checkLogin', KNOWN),
  line(PASSWORD),
  doneActor('verifyPassword', true),
  doneActor('joinChat', joined()),
];

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
  chatting: {
    path: SIGNED_IN,
    value: { chatting: 'idle' },
    id: 'connection.chatting.idle',
  },
  loadingHistory: {
    path: [...SIGNED_IN, line('/history 5')],
    value: { chatting: 'loadingHistory' },
    id: 'connection.chatting.loadingHistory',
  },
} satisfies Record<string, { path: Event[]; value: unknown; id: string }>;

type StateName = keyof typeof states;
const stateNames = Object.keys(states) as StateName[];
const chatStates: StateName[] = ['chatting', 'loadingHistory'];
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

    expect(tagged).toEqual(['awaitingLogin', 'awaitingPassword', 'choosingPassword', 'repeatingPassword', 'chatting']);
    expect(stateIdsTagged(connectionMachine, 'input')).toHaveLength(tagged.length);
  });

  it('tags as secret exactly the states whose next line is a password', () => {
    const tagged = stateNames.filter((s) => at(s).hasTag('secret'));

    expect(tagged).toEqual(['awaitingPassword', 'choosingPassword', 'repeatingPassword']);
    expect(stateIdsTagged(connectionMachine, 'secret').sort()).toEqual(
      [states.awaitingPassword.id, states.choosingPassword.id, states.repeatingPassword.id].sort(),
    );
  });
});

describe('connection machine: state × event', () => {
  const KICKED = [
    { type: 'leaveChat' },
    { type: 'send', params: { lines: [text.kicked] } },
    { type: 'log', params: { entry: 'session.kicked' } },
    { type: 'closeConnection' },
  ];
  const LEFT = [{ type: 'leaveChat' }, { type: 'log', params: { entry: 'session.left' } }, { type: 'closeConnection' }];
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
    { state: 'awaitingLogin', event: doneActor('joinChat', joined()), next: 'same', actions: [] },
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
    { state: 'loadingHistory', event: line('/who'), next: 'same', actions: [] },
    { state: 'loadingHistory', event: { type: 'server.kick' }, next: 'closed', actions: KICKED },
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
      ...(chatStates.includes(state) ? [{ type: 'leaveChat' }] : []),
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
    ['bob smith', 'A login may contain only letters, digits, "_", "-" and ".".'],
    ['josé', 'A login may contain only letters, digits, "_", "-" and ".".'],
    ['名前', 'A login may contain only letters, digits, "_", "-" and ".".'],
    ['bob!', 'A login may contain only letters, digits, "_", "-" and ".".'],
    ['\u001b[2J', 'A login may contain only letters, digits, "_", "-" and ".".'],
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

  it('joins the chat once the password is right', () => {
    const [after, actions] = send(at('verifyingPassword'), doneActor('verifyPassword', true));

    expect(after.value).toEqual(states.joining.value);
    expect(spawned(actions)).toEqual([
      { id: 'joinChat', src: 'joinChat', input: { login: 'alice', historyReplay: 20 } },
    ]);
  });

  it('welcomes a returning user with the recent history between a header and a footer', () => {
    const recent: ChatMessage[] = [
      { at: '2024-05-01T10:00:00.000Z', login: 'bob', text: 'hi' },
      { at: '2024-05-01T10:00:05.000Z', login: 'carol', text: 'hello bob' },
    ];

    const [after, actions] = send(at('joining'), doneActor('joinChat', joined(recent)));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([
      text.welcomeBack('alice'),
      text.historyHeader(2),
      '[2024-05-01 10:00:00] bob: hi',
      formatHistoryLine(recent[1]!),
      text.historyFooter,
    ]);
    expect(summary(actions).filter((a) => a.type === 'log')).toEqual([
      { type: 'log', params: { entry: 'login.succeeded' } },
    ]);
  });

  it('says there is no history yet when the room has none', () => {
    const [, actions] = send(at('joining'), doneActor('joinChat', joined([])));

    expect(linesOf(actions)).toEqual([text.welcomeBack('alice'), text.noHistory]);
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
    expect(spawned(actions)).toEqual([
      { id: 'joinChat', src: 'joinChat', input: { login: 'newbie', historyReplay: 20 } },
    ]);
  });

  it('welcomes a newly registered user as new', () => {
    const [after, actions] = send(
      at('saving'),
      doneActor('registerUser', 'registered'),
      doneActor('joinChat', joined()),
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
      doneActor('joinChat', joined()),
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
    const [, actions] = send(at('joining'), doneActor('joinChat', joined()));

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
    const [after, actions] = send(snapshot, doneActor('joinChat', joined()));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.welcomeBack('alice')]);
  });

  it('still answers /history with the last 20 when the replay size is 0', () => {
    const [snapshot] = drive(connectionMachine, { ...input, historyReplay: 0 }, states.chatting.path);
    const [after, actions] = send(snapshot, line('/history'));

    expect(after.value).toEqual({ chatting: 'loadingHistory' });
    expect(spawned(actions)).toEqual([{ id: 'loadHistory', src: 'loadHistory', input: { limit: 20 } }]);
  });
});

describe('connection machine: chatting', () => {
  it.each([
    ['hello everyone', [{ type: 'postMessage', params: { text: 'hello everyone' } }]],
    ['  \u001b[31mred\u001b[0m alert\u0007  ', [{ type: 'postMessage', params: { text: '[31mred[0m alert' } }]],
    ['tab\tand ünïcödé 👋', [{ type: 'postMessage', params: { text: 'tab\tand ünïcödé 👋' } }]],
    ['/who', [{ type: 'listOnline' }]],
    ['/WHO', [{ type: 'listOnline' }]],
    ['/history 0', [{ type: 'send', params: { lines: [text.historyUsage] } }]],
    ['/history 101', [{ type: 'send', params: { lines: [text.historyUsage] } }]],
    ['/history abc', [{ type: 'send', params: { lines: [text.historyUsage] } }]],
    ['/msg bob hi there', [{ type: 'sendPrivate', params: { to: 'bob', text: 'hi there' } }]],
    ['  /msg bob psst', [{ type: 'sendPrivate', params: { to: 'bob', text: 'psst' } }]],
    ['/msg bob a  b   c', [{ type: 'sendPrivate', params: { to: 'bob', text: 'a  b   c' } }]],
    ['/history 1e1', [{ type: 'send', params: { lines: [text.historyUsage] } }]],
    ['/msg bob', [{ type: 'send', params: { lines: [text.msgUsage] } }]],
    ['/msg', [{ type: 'send', params: { lines: [text.msgUsage] } }]],
    ['/help', [{ type: 'send', params: { lines: text.help } }]],
    ['/nope', [{ type: 'send', params: { lines: [text.unknownCommand('/nope')] } }]],
    ['', []],
    ['   ', []],
  ])('handles %j by %j and stays in the chat', (typed, expected) => {
    const [after, actions] = send(at('chatting'), line(typed));

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual(expected);
  });

  it('posts chat messages that arrived together in one step, cleaned, in order', () => {
    const chatting = at('chatting');
    expect(chatting.hasTag('chatLines')).toBe(true);

    const [after, actions] = send(chatting, { type: 'client.chatLines', texts: ['one', ' two\u0007 ', 'three'] });

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual([{ type: 'postMessages', params: { texts: ['one', 'two', 'three'] } }]);
  });

  it.each([['/msg bob psst'], ['  /quit'], ['   ']])('broadcasts nothing of a batch that holds %j, which is no chat message', (odd) => {
    const [after, actions] = send(at('chatting'), { type: 'client.chatLines', texts: ['one', odd] });

    expect(after.value).toEqual(CHATTING);
    expect(actions).toEqual([]);
  });

  it('takes no batch while loading history (lines wait, one by one, in order)', () => {
    const [loading] = send(at('chatting'), line('/history'));
    expect(loading.hasTag('chatLines')).toBe(false);
  });

  it.each([
    ['/history 5', 5],
    ['/HISTORY   100 ', 100],
    ['/history', 20],
  ])('loads the history asked for by %j (limit %d), holding further lines meanwhile', (typed, limit) => {
    const [after, actions] = send(at('chatting'), line(typed));

    expect(after.value).toEqual(states.loadingHistory.value);
    expect(after.hasTag('input')).toBe(false);
    expect(summary(actions)).toEqual([]);
    expect(spawned(actions)).toEqual([{ id: 'loadHistory', src: 'loadHistory', input: { limit } }]);
  });

  it('shows the loaded history between a header and a footer, then takes lines again', () => {
    const messages: ChatMessage[] = [{ at: '2024-05-01T10:00:00.000Z', login: 'bob', text: 'hi' }];

    const [after, actions] = send(at('loadingHistory'), doneActor('loadHistory', messages));

    expect(after.value).toEqual(CHATTING);
    expect(linesOf(actions)).toEqual([text.historyHeader(1), '[2024-05-01 10:00:00] bob: hi', text.historyFooter]);
  });

  it('says there is no history when none was loaded', () => {
    const [, actions] = send(at('loadingHistory'), doneActor('loadHistory', []));

    expect(linesOf(actions)).toEqual([text.noHistory]);
  });

  it('says history is unavailable, and stays in the chat, when loading it fails', () => {
    const [after, actions] = send(at('loadingHistory'), errorActor('loadHistory', new Error('EIO')));

    expect(after.value).toEqual(CHATTING);
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: [text.historyUnavailable] } },
      { type: 'reportFailure' },
    ]);
  });

  it('says the unknown command back without the control characters typed in it', () => {
    const [, actions] = send(at('chatting'), line('/\u001b[2Jx'));

    expect(linesOf(actions)).toEqual([text.unknownCommand('/[2Jx')]);
  });

  it.each(['/quit', '/QUIT', ' /quit ', '/exit'])('says Bye, leaves the chat and closes on %j', (typed) => {
    const [after, actions] = send(at('chatting'), line(typed));

    expect(after.value).toBe('closed');
    expect(after.status).toBe('done');
    expect(summary(actions)).toEqual([
      { type: 'leaveChat' },
      { type: 'send', params: { lines: [text.bye] } },
      { type: 'log', params: { entry: 'session.left' } },
      { type: 'closeConnection' },
    ]);
  });

  it('leaves the chat when the client hangs up', () => {
    const [after, actions] = send(at('chatting'), { type: 'client.closed' });

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([
      { type: 'leaveChat' },
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
      doneActor('joinChat', joined()),
      line('/quit'),
    ]);
    const [, signIn] = drive(connectionMachine, input, [
      line('alice'),
      doneActor('checkLogin', KNOWN),
      line(WRONG),
      doneActor('verifyPassword', false),
      line(PASSWORD),
      doneActor('verifyPassword', true),
      doneActor('joinChat', joined()),
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
