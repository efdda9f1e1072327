/**
 * The connection machine: one per accepted socket. It owns the login / registration / chat
 * protocol — what a line means in each state, when to ask again, when to hang up.
 *
 * Pure: every effect is a named action or invoked actor with an inert default; the real ones
 * (socket writes, the user store, the chat room) are supplied by src/actors/connection-actor.ts
 * through `.provide()`. States tagged `input` are the ones waiting for a line from the client:
 * the actor holds lines that arrive while the machine is busy (checking a password, saving a
 * registration) and feeds them one by one, so typing ahead never loses a line. A state also
 * tagged `chatLines` takes a run of chat messages that arrived together as one event.
 */
import { assign, enqueueActions, fromCallback, fromPromise, setup } from 'xstate';
import {
  type ChatMessage,
  DEFAULT_HISTORY_REQUEST,
  formatHistoryLine,
  isChatMessageLine,
  isCommandLine,
  loginNameProblem,
  parseChatInput,
  sanitizeChatText,
  text,
} from './protocol.js';

export interface ConnectionInput {
  connectionId: string;
  remoteAddress: string;
  loginTimeoutMs: number;
  minPasswordLength: number;
  maxPasswordAttempts: number;
  historyReplay: number;
  maxLineBytes: number;
}

export interface ConnectionContext extends ConnectionInput {
  /** The login being signed in or registered; set once the name is valid. */
  login: string | undefined;
  wrongPasswords: number;
  /** The first password typed while registering, until it is repeated. Never leaves the machine. */
  pendingPassword: string | undefined;
  /** Set when this connection registered the login (the welcome says so). */
  registered: boolean;
}

export type ConnectionEvent =
  | { type: 'client.line'; text: string }
  /**
   * Several chat messages that arrived together (one TCP read), fed as one event where the state
   * is tagged `chatLines`: a step per line was the biggest per-message cost of a busy room
   * (bench/, scenario 1, ~88 lines per read). Only lines `isChatMessageLine` accepts, in order.
   */
  | { type: 'client.chatLines'; texts: string[] }
  | { type: 'client.lineTooLong'; bytes: number }
  | { type: 'client.closed' }
  /** From the invoked `loginTimer`: the client took longer than `loginTimeoutMs` to sign in. */
  | { type: 'timer.loginExpired' }
  | { type: 'server.kick' }
  | { type: 'server.shutdown' };

export interface LoginCheck {
  /** The login as registered (its spelling wins over what was typed), if it is registered. */
  registeredAs: string | undefined;
  online: boolean;
}

export type JoinResult = { status: 'joined'; recent: ChatMessage[] } | { status: 'alreadyOnline' };

export type RegistrationOutcome = 'registered' | 'taken';

/** What the connection reports to the server log. Never carries a password. */
export type ConnectionLogEntry =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.locked'
  | 'login.refusedOnline'
  | 'login.timedOut'
  | 'registration.succeeded'
  | 'registration.raced'
  | 'registration.failed'
  | 'session.left'
  | 'session.kicked';

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
  },
  actors: {
    /**
     * Sends `timer.loginExpired` after `ms` (the real timer comes from the actor layer). Not an
     * `after` delay: xstate keeps delayed events in a table shared by every actor of a system
     * and scans all of it whenever any actor stops; all of a server's connections share one
     * system (src/actors/connection-system.ts): with 10,000 actors waiting on an `after`, ending
     * one more — each sign-in ends four — took 1.2 ms instead of 0.07 ms (0.03 ms with this timer).
     */
    loginTimer: fromCallback<{ type: 'timer.loginExpired' }, { ms: number }>(() => {}),
    checkLogin: fromPromise<LoginCheck, { login: string }>(async () => ({
      registeredAs: undefined,
      online: false,
    })),
    verifyPassword: fromPromise<boolean, { login: string; password: string }>(async () => false),
    registerUser: fromPromise<
      RegistrationOutcome,
      { login: string; password: string; remoteAddress: string }
    >(async () => 'registered'),
    loadHistory: fromPromise<ChatMessage[], { limit: number }>(async () => []),
    joinChat: fromPromise<JoinResult, { login: string; historyReplay: number }>(async () => ({
      status: 'joined',
      recent: [],
    })),
  },
  actions: {
    /** Writes lines to the client. */
    send: (_, _params: { lines: readonly string[] }) => {},
    /** Ends the connection once everything sent so far is flushed. */
    closeConnection: () => {},
    /** A chat message from this user, for the router to store and then deliver to everyone else. */
    postMessage: (_, _params: { text: string }) => {},
    /** Several, in order. */
    postMessages: (_, _params: { texts: readonly string[] }) => {},
    sendPrivate: (_, _params: { to: string; text: string }) => {},
    listOnline: () => {},
    /** Leaves the chat room: others get a leave notice. */
    leaveChat: () => {},
    /** An invoked service failed: the actor logs the error (the client only hears "internal error"). */
    reportFailure: () => {},
    log: (_, _params: { entry: ConnectionLogEntry }) => {},
  },
  guards: {
    isValidLoginName: ({ event }) =>
      event.type === 'client.line' && loginNameProblem(event.text.trim()) === undefined,
    isPasswordLongEnough: ({ context, event }) =>
      event.type === 'client.line' && [...event.text].length >= context.minPasswordLength,
    isRepeatedPassword: ({ context, event }) =>
      event.type === 'client.line' && event.text === context.pendingPassword,
    isLastAttempt: ({ context }) => context.wrongPasswords + 1 >= context.maxPasswordAttempts,
    // Guards on invoked services' answers take the answer as a parameter (typed at the call site);
    // named rather than inline so that the generated diagrams (docs/machines.md) can say which is which.
    isOnline: (_, params: { check: LoginCheck }) => params.check.online,
    isRegistered: (_, params: { check: LoginCheck }) => params.check.registeredAs !== undefined,
    isPasswordCorrect: (_, params: { verified: boolean }) => params.verified,
    isRegistrationSaved: (_, params: { outcome: RegistrationOutcome }) => params.outcome === 'registered',
    hasJoined: (_, params: { result: JoinResult }) => params.result.status === 'joined',
    isChatMessage: ({ event }) => event.type === 'client.line' && isChatMessageLine(event.text),
    // The line pump only batches chat messages; checked again here, since a command must never be broadcast.
    areChatMessages: ({ event }) => event.type === 'client.chatLines' && event.texts.every(isChatMessageLine),
    // A plain chat line is no command: checked first, so a command's guards cost a message nothing.
    isQuitCommand: ({ context, event }) =>
      event.type === 'client.line' &&
      isCommandLine(event.text) &&
      parseChatInput(event.text, historyRequestDefault(context)).kind === 'quit',
    isHistoryCommand: ({ context, event }) =>
      event.type === 'client.line' &&
      isCommandLine(event.text) &&
      parseChatInput(event.text, historyRequestDefault(context)).kind === 'history',
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    ...input,
    login: undefined,
    wrongPasswords: 0,
    pendingPassword: undefined,
    registered: false,
  }),
  initial: 'authenticating',
  on: {
    'client.closed': '.closed',
    'server.shutdown': {
      target: '.closed',
      actions: { type: 'send', params: { lines: [text.shuttingDown] } },
    },
    'client.lineTooLong': {
      actions: {
        type: 'send',
        params: ({ context }) => ({ lines: [text.lineTooLong(context.maxLineBytes)] }),
      },
    },
  },
  states: {
    authenticating: {
      initial: 'awaitingLogin',
      entry: { type: 'send', params: { lines: [text.greeting] } },
      invoke: { id: 'loginTimer', src: 'loginTimer', input: ({ context }) => ({ ms: context.loginTimeoutMs }) },
      on: {
        'timer.loginExpired': {
          target: 'closed',
          actions: [
            { type: 'send', params: { lines: [text.loginTimeout] } },
            { type: 'log', params: { entry: 'login.timedOut' } },
          ],
        },
      },
      states: {
        awaitingLogin: {
          tags: ['input'],
          entry: [
            assign({ login: undefined, wrongPasswords: 0, pendingPassword: undefined, registered: false }),
            { type: 'send', params: { lines: [text.loginPrompt] } },
          ],
          on: {
            // The notice, then the prompt again: a client waits on a prompt line (and the terminal
            // client hides the next line only after a password prompt).
            'client.lineTooLong': {
              actions: { type: 'send', params: ({ context }) => ({ lines: [text.lineTooLong(context.maxLineBytes), text.loginPrompt] }) },
            },
            'client.line': [
              {
                guard: 'isValidLoginName',
                target: 'checkingLogin',
                actions: assign({ login: ({ event }) => event.text.trim() }),
              },
              {
                target: 'awaitingLogin',
                reenter: true,
                actions: {
                  type: 'send',
                  params: ({ event }) => ({ lines: [loginNameProblem(event.text.trim()) ?? ''] }),
                },
              },
            ],
          },
        },
        checkingLogin: {
          invoke: {
            id: 'checkLogin',
            src: 'checkLogin',
            input: ({ context }) => ({ login: context.login! }),
            onDone: [
              {
                guard: { type: 'isOnline', params: ({ event }) => ({ check: event.output }) },
                target: 'awaitingLogin',
                actions: [
                  {
                    type: 'send',
                    params: ({ context, event }) => ({
                      lines: [text.alreadyOnline(event.output.registeredAs ?? context.login!)],
                    }),
                  },
                  { type: 'log', params: { entry: 'login.refusedOnline' } },
                ],
              },
              {
                guard: { type: 'isRegistered', params: ({ event }) => ({ check: event.output }) },
                target: 'awaitingPassword',
                actions: assign({ login: ({ event }) => event.output.registeredAs }),
              },
              { target: 'registering' },
            ],
            onError: { target: '#connection.closed', actions: [{ type: 'send', params: { lines: [text.serviceFailed] } }, 'reportFailure'] },
          },
        },
        awaitingPassword: {
          tags: ['input', 'secret'],
          entry: { type: 'send', params: { lines: [text.passwordPrompt] } },
          on: {
            'client.lineTooLong': {
              actions: { type: 'send', params: ({ context }) => ({ lines: [text.lineTooLong(context.maxLineBytes), text.passwordPrompt] }) },
            },
            'client.line': 'verifyingPassword',
          },
        },
        verifyingPassword: {
          invoke: {
            id: 'verifyPassword',
            src: 'verifyPassword',
            input: ({ context, event }) => ({
              login: context.login!,
              password: event.type === 'client.line' ? event.text : '',
            }),
            onDone: [
              { guard: { type: 'isPasswordCorrect', params: ({ event }) => ({ verified: event.output }) }, target: 'joining' },
              {
                guard: 'isLastAttempt',
                target: '#connection.closed',
                actions: [
                  { type: 'send', params: { lines: [text.tooManyWrongPasswords] } },
                  { type: 'log', params: { entry: 'login.locked' } },
                ],
              },
              {
                target: 'awaitingPassword',
                actions: [
                  assign({ wrongPasswords: ({ context }) => context.wrongPasswords + 1 }),
                  {
                    type: 'send',
                    params: ({ context }) => ({
                      lines: [text.wrongPassword(context.maxPasswordAttempts - context.wrongPasswords)],
                    }),
                  },
                  { type: 'log', params: { entry: 'login.failed' } },
                ],
              },
            ],
            onError: { target: '#connection.closed', actions: [{ type: 'send', params: { lines: [text.serviceFailed] } }, 'reportFailure'] },
          },
        },
        registering: {
          initial: 'choosingPassword',
          exit: assign({ pendingPassword: undefined }),
          states: {
            choosingPassword: {
              tags: ['input', 'secret'],
              entry: {
                type: 'send',
                params: ({ context }) => ({ lines: [text.newPasswordPrompt(context.minPasswordLength)] }),
              },
              on: {
                'client.lineTooLong': {
                  actions: {
                    type: 'send',
                    params: ({ context }) => ({
                      lines: [text.lineTooLong(context.maxLineBytes), text.newPasswordPrompt(context.minPasswordLength)],
                    }),
                  },
                },
                'client.line': [
                  {
                    guard: 'isPasswordLongEnough',
                    target: 'repeatingPassword',
                    actions: assign({ pendingPassword: ({ event }) => event.text }),
                  },
                  {
                    target: 'choosingPassword',
                    reenter: true,
                    actions: {
                      type: 'send',
                      params: ({ context }) => ({ lines: [text.passwordTooShort(context.minPasswordLength)] }),
                    },
                  },
                ],
              },
            },
            repeatingPassword: {
              tags: ['input', 'secret'],
              entry: { type: 'send', params: { lines: [text.repeatPrompt] } },
              on: {
                'client.lineTooLong': {
                  actions: { type: 'send', params: ({ context }) => ({ lines: [text.lineTooLong(context.maxLineBytes), text.repeatPrompt] }) },
                },
                'client.line': [
                  { guard: 'isRepeatedPassword', target: 'saving' },
                  {
                    target: 'choosingPassword',
                    actions: [
                      assign({ pendingPassword: undefined }),
                      { type: 'send', params: { lines: [text.passwordsDiffer] } },
                    ],
                  },
                ],
              },
            },
            saving: {
              invoke: {
                id: 'registerUser',
                src: 'registerUser',
                input: ({ context }) => ({
                  login: context.login!,
                  password: context.pendingPassword!,
                  remoteAddress: context.remoteAddress,
                }),
                onDone: [
                  {
                    guard: { type: 'isRegistrationSaved', params: ({ event }) => ({ outcome: event.output }) },
                    target: '#connection.authenticating.joining',
                    actions: [
                      assign({ registered: true }),
                      { type: 'log', params: { entry: 'registration.succeeded' } },
                    ],
                  },
                  {
                    target: '#connection.authenticating.awaitingLogin',
                    actions: [
                      { type: 'send', params: ({ context }) => ({ lines: [text.loginTaken(context.login!)] }) },
                      { type: 'log', params: { entry: 'registration.raced' } },
                    ],
                  },
                ],
                onError: {
                  target: '#connection.authenticating.awaitingLogin',
                  actions: [
                    { type: 'send', params: { lines: [text.registrationFailed] } },
                    { type: 'log', params: { entry: 'registration.failed' } },
                    'reportFailure',
                  ],
                },
              },
            },
          },
        },
        joining: {
          invoke: {
            id: 'joinChat',
            src: 'joinChat',
            input: ({ context }) => ({ login: context.login!, historyReplay: context.historyReplay }),
            onDone: [
              {
                guard: { type: 'hasJoined', params: ({ event }) => ({ result: event.output }) },
                target: '#connection.chatting',
                actions: [
                  {
                    type: 'send',
                    params: ({ context, event }) => ({
                      lines: welcomeLines(
                        context.login!,
                        context.registered,
                        // Replay switched off (--history 0): no history section at all.
                        context.historyReplay > 0 && event.output.status === 'joined' ? event.output.recent : undefined,
                      ),
                    }),
                  },
                  { type: 'log', params: { entry: 'login.succeeded' } },
                ],
              },
              {
                target: 'awaitingLogin',
                actions: [
                  { type: 'send', params: ({ context }) => ({ lines: [text.alreadyOnline(context.login!)] }) },
                  { type: 'log', params: { entry: 'login.refusedOnline' } },
                ],
              },
            ],
            onError: { target: '#connection.closed', actions: [{ type: 'send', params: { lines: [text.serviceFailed] } }, 'reportFailure'] },
          },
        },
      },
    },
    chatting: {
      exit: 'leaveChat',
      initial: 'idle',
      on: {
        'client.closed': {
          target: 'closed',
          actions: { type: 'log', params: { entry: 'session.left' } },
        },
        'server.kick': {
          target: 'closed',
          actions: [
            { type: 'send', params: { lines: [text.kicked] } },
            { type: 'log', params: { entry: 'session.kicked' } },
          ],
        },
      },
      states: {
        idle: {
          tags: ['input', 'chatLines'],
          on: {
            'client.chatLines': {
              guard: 'areChatMessages',
              actions: { type: 'postMessages', params: ({ event }) => ({ texts: event.texts.map(sanitizeChatText) }) },
            },
            'client.line': [
              {
                // The common case first, and with a static action: one chat message per step of
                // every sender is the hottest transition of the server (bench/, scenario 1).
                guard: 'isChatMessage',
                actions: { type: 'postMessage', params: ({ event }) => ({ text: sanitizeChatText(event.text) }) },
              },
              {
                guard: 'isQuitCommand',
                target: '#connection.closed',
                actions: [
                  { type: 'send', params: { lines: [text.bye] } },
                  { type: 'log', params: { entry: 'session.left' } },
                ],
              },
              {
                guard: 'isHistoryCommand',
                target: 'loadingHistory',
              },
              {
                actions: enqueueActions(({ context, event, enqueue }) => {
                  const input = parseChatInput(event.text, historyRequestDefault(context));
                  switch (input.kind) {
                    case 'msg':
                      return enqueue({ type: 'sendPrivate', params: { to: input.to, text: input.text } });
                    case 'who':
                      return enqueue('listOnline');
                    case 'help':
                      return enqueue({ type: 'send', params: { lines: text.help } });
                    case 'usage':
                      return enqueue({ type: 'send', params: { lines: [input.text] } });
                    case 'unknown':
                      return enqueue({ type: 'send', params: { lines: [text.unknownCommand(input.command)] } });
                    case 'empty':
                    case 'message': // handled by the transitions above
                    case 'quit':
                    case 'history':
                      return;
                  }
                }),
              },
            ],
          },
        },
        /** `/history [n]`: a state, so lines typed meanwhile wait and replies stay in order. */
        loadingHistory: {
          invoke: {
            id: 'loadHistory',
            src: 'loadHistory',
            input: ({ context, event }) => {
              const parsed = event.type === 'client.line' ? parseChatInput(event.text, historyRequestDefault(context)) : undefined;
              return { limit: parsed?.kind === 'history' ? parsed.limit : historyRequestDefault(context) };
            },
            onDone: {
              target: 'idle',
              actions: { type: 'send', params: ({ event }) => ({ lines: historyLines(event.output) }) },
            },
            onError: {
              target: 'idle',
              actions: [{ type: 'send', params: { lines: [text.historyUnavailable] } }, 'reportFailure'],
            },
          },
        },
      },
    },
    closed: {
      type: 'final',
      entry: 'closeConnection',
    },
  },
});

/** The welcome, then the replayed history (none when replay is off). */
export function welcomeLines(login: string, registered: boolean, recent: readonly ChatMessage[] | undefined): string[] {
  const welcome = registered ? text.welcomeNew(login) : text.welcomeBack(login);
  return recent ? [welcome, ...historyLines(recent)] : [welcome];
}

/** `/history` without a number shows as many messages as the login replay — or 20 if that is off. */
function historyRequestDefault(context: ConnectionContext): number {
  return context.historyReplay > 0 ? context.historyReplay : DEFAULT_HISTORY_REQUEST;
}

/** History messages between a header and a footer, or a line saying there are none. */
export function historyLines(messages: readonly ChatMessage[]): string[] {
  if (messages.length === 0) return [text.noHistory];
  return [text.historyHeader(messages.length), ...messages.map(formatHistoryLine), text.historyFooter];
}
