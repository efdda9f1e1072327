/**
 * What the connection machine is made of: its context, events, and every named action, guard
 * and invoked service, with inert defaults. The states live beside it — signing in in
 * sign-in.ts, chatting in chat-session.ts, assembled in connection.ts — all built from this one
 * `setup()`, so that each file is about one part of the protocol and they still form one machine.
 *
 * Pure: the real effects (socket writes, the user store, the rooms) are supplied by
 * src/actors/connection-actor.ts through `.provide()`.
 */
import { fromCallback, fromPromise, setup } from 'xstate';
import { type CommandEvent, isChatMessageLine, isCommandLine, parseCommand } from './commands.js';
import { isServiceUnavailable, LOBBY, loginKey, loginNameProblem, text } from './protocol.js';
import type { RoomReply } from './room.js';

/** The most rooms one user may be in at once (#lobby included). */
export const MAX_ROOMS_PER_USER = 20;

export interface ConnectionInput {
  connectionId: string;
  remoteAddress: string;
  loginTimeoutMs: number;
  minPasswordLength: number;
  maxPasswordAttempts: number;
  historyReplay: number;
  maxLineBytes: number;
  /** The rate limit's pace (lines a second), for the notices; 0: no limit. */
  ratePerSecond: number;
  /** A client over the rate for longer than this is disconnected (IRC's "Excess Flood"). */
  maxFloodMs: number;
}

export interface ConnectionContext extends ConnectionInput {
  /** The login being signed in or registered; set once the name is valid. */
  login: string | undefined;
  wrongPasswords: number;
  /**
   * The first password typed while registering, until it is repeated; at `/passwd`, the new
   * password until it is repeated and saved. Never leaves the machine but as a store actor's input.
   */
  pendingPassword: string | undefined;
  /**
   * At `/passwd`: the current password typed, until the change is made or refused (the store
   * checks it and writes the new hash in one step). Named `password` so that the inspector
   * redacts it (src/inspector/redaction.ts, SECRET_KEYS), like `pendingPassword`. Absent
   * (undefined) everywhere else.
   */
  password?: string | undefined;
  /** Set when this connection registered the login (the welcome says so). */
  registered: boolean;
  /** The rooms this user is in, by room key, in the order joined (#lobby first once chatting). */
  rooms: readonly string[];
  /** Where plain lines go. */
  currentRoom: string;
  /** The room asked for and not answered yet: leaving the chat leaves it too (the join may be taken). */
  joining: string | undefined;
  /** The room a /part left, until the room says it has taken effect (`room.left`). */
  leaving: string | undefined;
  /** When this client's lines first had to wait for the rate limit, since it last slowed down. */
  floodingSince: number | undefined;
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
  /** From the line pump: a line had to wait for the rate limit (the socket is not read meanwhile). */
  | { type: 'client.throttled'; at: number }
  /** From the line pump: a line passed with the rate's bucket full again — the client slowed down. */
  | { type: 'client.paced' }
  /** From the client's link: output sent earlier is still unread beyond the bound. */
  | { type: 'client.slowConsumer'; unreadBytes: number }
  /** From the invoked `loginTimer`: the client took longer than `loginTimeoutMs` to sign in. */
  | { type: 'timer.loginExpired' }
  | { type: 'server.kick' }
  /** A cluster node's lease lapsed: another node may hold this login by now (docs/cluster.md). */
  | { type: 'server.signOut' }
  | { type: 'server.shutdown' }
  /** A private message for this user, released by the history writer behind the sender's earlier posts. */
  | { type: 'chat.private'; line: string }
  | CommandEvent
  | RoomReply;

export interface LoginCheck {
  /** The login as registered (its spelling wins over what was typed), if it is registered. */
  registeredAs: string | undefined;
  online: boolean;
}

/** Signing in claims the login among those online; the rooms come after. */
export type JoinResult = { status: 'joined' } | { status: 'alreadyOnline' };

export type RegistrationOutcome = 'registered' | 'taken' | 'confusable';

/** `/passwd`: 'wrong' when the current password typed is not the account's (nothing changed). */
export type PasswordChangeOutcome = 'changed' | 'wrong';

/**
 * `/msg`'s outcome: delivered to the recipient online (with their away message, the first time),
 * left for a registered recipient who is offline, refused because as many messages as may wait
 * for them already do, or neither (to oneself; nobody registered by that name).
 */
export type PrivateOutcome =
  | { status: 'delivered'; to: string; text: string; away: string | undefined }
  | { status: 'left'; to: string }
  | { status: 'full'; to: string }
  | { status: 'toSelf' }
  | { status: 'unknown'; to: string };

/** What the connection reports to the server log. Never carries a password. */
export type ConnectionLogEntry =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.locked'
  | 'login.refusedOnline'
  | 'login.timedOut'
  /** `/quit` at a sign-in prompt. */
  | 'login.quit'
  | 'registration.succeeded'
  | 'registration.raced'
  /** Refused: the login looks like a registered one. */
  | 'registration.confusable'
  | 'registration.failed'
  | 'session.left'
  | 'session.kicked'
  | 'session.signedOut'
  | 'password.changed'
  /** `/passwd` with a wrong current password. */
  | 'password.wrong'
  | 'password.failed'
  | 'account.deleted'
  /** `/deleteaccount` with a wrong password, or another login typed to confirm. */
  | 'account.wrongPassword'
  | 'account.wrongLogin'
  | 'account.failed'
  /** A /msg to a user offline could not be stored. */
  | 'private.failed';

export const connectionSetup = setup({
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
    /** Claims the login among those online (none can sign in twice). */
    joinChat: fromPromise<JoinResult, { login: string }>(async () => ({ status: 'joined' })),
    /**
     * `/passwd`: checks the current password (`password`, throttled like a sign-in) and stores the
     * new one (`pendingPassword`) durably. The input's names are ones the inspector redacts.
     */
    changePassword: fromPromise<PasswordChangeOutcome, { login: string; password: string; pendingPassword: string }>(
      async () => 'changed',
    ),
    /** `/deleteaccount`, the password checked: removes the registration durably (history stays). */
    deleteAccount: fromPromise<void, { login: string }>(async () => {}),
    /**
     * `/msg`: delivers to the recipient if online, or else (a registered login) leaves the message
     * durably for their next sign-in; resolves with what happened.
     */
    sendPrivate: fromPromise<PrivateOutcome, { to: string; text: string }>(async ({ input }) => ({ status: 'unknown', to: input.to })),
  },
  actions: {
    /** Writes lines to the client. */
    send: (_, _params: { lines: readonly string[] }) => {},
    /** Ends the connection once everything sent so far is flushed. */
    closeConnection: () => {},
    /**
     * Asks the supervisor for a room (it spawns the room's actor if there is none); the room
     * answers `room.joined` or `room.refused`. Live lines are held until the answer is shown.
     */
    requestJoin: (_, _params: { room: string }) => {},
    /** Shows the room's lines again (held while a join was answered). */
    releaseDeliveries: () => {},
    /** Chat messages from this user, in order, for the room to store and then deliver. */
    post: (_, _params: { room: string; texts: readonly string[] }) => {},
    leaveRoom: (_, _params: { room: string }) => {},
    setTopic: (_, _params: { room: string; text: string }) => {},
    showTopic: (_, _params: { room: string }) => {},
    recall: (_, _params: { room: string; limit: number }) => {},
    /** Shows the private messages left while the user was offline (after the welcome and the replay). */
    deliverWaitingMessages: () => {},
    listOnline: () => {},
    /** Marks the user away with this text, or (undefined) back; /who, /names and /msg show it. */
    setAway: (_, _params: { text: string | undefined }) => {},
    listRooms: () => {},
    listNames: (_, _params: { room: string }) => {},
    /** Leaves every room and the online list: the others get leave notices. */
    leaveChat: (_, _params: { rooms: readonly string[] }) => {},
    /** An invoked service failed: the actor logs the error (the client only hears "internal error"). */
    reportFailure: () => {},
    /** Logs why a flooder was disconnected. */
    reportFlood: () => {},
    /** Logs a slow consumer's disconnection. */
    reportSlowConsumer: (_, _params: { unreadBytes: number }) => {},
    /** Ends the connection at once, dropping unsent output (a client that does not read gets no more). */
    abortConnection: () => {},
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
    isConfusable: (_, params: { outcome: RegistrationOutcome }) => params.outcome === 'confusable',
    isPasswordChanged: (_, params: { outcome: PasswordChangeOutcome }) => params.outcome === 'changed',
    /** `/deleteaccount`'s confirmation: the user's own login, as logins compare (case-insensitively). */
    isOwnLogin: ({ context, event }) =>
      event.type === 'client.line' && context.login !== undefined && loginKey(event.text.trim()) === loginKey(context.login),
    hasJoined: (_, params: { result: JoinResult }) => params.result.status === 'joined',
    /** A failed step's error says the cluster's store did not answer (nothing was decided). */
    isServiceUnavailable: (_, params: { error: unknown }) => isServiceUnavailable(params.error),
    isChatMessage: ({ event }) => event.type === 'client.line' && isChatMessageLine(event.text),
    // The line pump only batches chat messages; checked again here, since a command must never be broadcast.
    areChatMessages: ({ event }) => event.type === 'client.chatLines' && event.texts.every(isChatMessageLine),
    isCommand: ({ event }) => event.type === 'client.line' && isCommandLine(event.text),
    /** At a sign-in prompt, the chat's `/quit` (or an alias of it) still means leave. */
    isQuit: ({ event }) => event.type === 'client.line' && isCommandLine(event.text) && parseCommand(event.text).type === 'command.quit',
    isInRoom: ({ context }, params: { room: string }) => context.rooms.includes(params.room),
    isLeaving: ({ context }, params: { room: string }) => context.leaving === params.room,
    isInTooManyRooms: ({ context }) => context.rooms.length >= MAX_ROOMS_PER_USER,
    isLobby: (_, params: { room: string }) => params.room === LOBBY,
    /** The first wait of a flood (the client is told once per flood). */
    isFloodStart: ({ context }) => context.floodingSince === undefined,
    isFloodingTooLong: ({ context }, params: { at: number }) =>
      context.floodingSince !== undefined && params.at - context.floodingSince > context.maxFloodMs,
    /** `/topic` with no text asks; with text it sets. */
    isTopicQuestion: (_, params: { text: string | undefined }) => params.text === undefined,
  },
});

// ---- transitions the sign-in's and the chat's prompts share ------------------------------------

/** The rooms a user leaving the chat is in, or may be about to be in. */
export function roomsToLeave(context: Pick<ConnectionContext, 'rooms' | 'joining'>): readonly string[] {
  return context.joining === undefined || context.rooms.includes(context.joining) ? context.rooms : [...context.rooms, context.joining];
}

/** `/quit` (or `/exit`) at a prompt: Bye, not an answer to the prompt. */
export function quitAtPrompt(entry: ConnectionLogEntry) {
  return {
    guard: 'isQuit',
    target: '#connection.closed',
    actions: [
      { type: 'send', params: { lines: [text.bye] } },
      { type: 'log', params: { entry } },
    ],
  } as const;
}

/** A line too long at a prompt: the notice, then the prompt again (a client waits on a prompt line). */
export function promptAgain(prompt: (context: ConnectionContext) => string) {
  return {
    actions: {
      type: 'send',
      params: ({ context }: { context: ConnectionContext }) => ({ lines: [text.lineTooLong(context.maxLineBytes), prompt(context)] }),
    },
  } as const;
}

/** Says one line, logs `entry`, and goes to `target` (a refusal, an outcome). */
export function sayThen(target: string, line: string, entry: ConnectionLogEntry) {
  return {
    target,
    actions: [
      { type: 'send', params: { lines: [line] } },
      { type: 'log', params: { entry } },
    ],
  } as const;
}

/** A sign-in step the cluster's store did not answer: the user is told, and asked for the login again. */
export const unavailableAskAgain = {
  guard: { type: 'isServiceUnavailable', params: ({ event }: { event: { error?: unknown } }) => ({ error: event.error }) },
  target: '#connection.authenticating.awaitingLogin',
  actions: [{ type: 'send', params: { lines: [text.serviceUnavailable] } }],
} as const;

/** An invoked service failed: the user hears `line` (never the cause), the actor logs the error. */
export function serviceFailed(target: string, line: string, entry?: ConnectionLogEntry) {
  return {
    target,
    actions: [
      { type: 'send', params: { lines: [line] } },
      ...(entry ? [{ type: 'log', params: { entry } } as const] : []),
      'reportFailure',
    ],
  } as const;
}

/** The input of `verifyPassword`: the login signing in and the line that answered the password prompt. */
export function typedPassword({ context, event }: { context: ConnectionContext; event: ConnectionEvent }) {
  return { login: context.login!, password: event.type === 'client.line' ? event.text : '' };
}
