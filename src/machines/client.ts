/**
 * The chat client's own flow — connect, wait for the server, chat, close, reconnect — as a pure
 * statechart.
 *
 * No I/O here: opening the socket, writing a line, printing, hiding the echo are named actions
 * with inert defaults; `src/actors/client-session.ts` supplies the real ones with `.provide()`.
 *
 *   connecting ─socket.connected─► connected.handshaking ─(prompt | settled)─► connected.chatting
 *     │    ▲                          │ socket.closed: refused ("Server busy…") or not ready
 *     │    └── after retryDelay ── waiting ◄─┘
 *     └─ socket.failed (retryable) ──►┘
 *   chatting ─"/quit" or Ctrl-C─► closing ─socket.closed | quitTimeout─► closed (final)
 *   chatting ─socket.closed [reconnects]─► reconnecting ─after retryDelay─► connecting
 *   chatting ─socket.closed [else]─► closed ("connection closed by server" / "connection lost")
 *   reconnecting ─"/quit", Ctrl-C or end of input─► closed (exit 0, at once)
 *
 * When is a connection a session? TCP accepting is not enough: a full server accepts and then
 * says "Server busy, try again later." and hangs up, and that is a refusal to retry, not a chat
 * that ended. So the session is established when the server prompts (a line ending in ":"), or
 * has spoken and kept the connection open for `settleMs` (a server that greets without
 * prompting, like the echo server). What it said before then is held back and printed at that
 * point — or, if it hangs up instead, quoted once in "waiting for server… (…)".
 *
 * Lines typed before the session is established are queued (typeahead) and sent, in order, right
 * after: piped input (`printf 'alice\n…' | statechat client`) is read long before the server
 * asks anything. `/quit` is an ordinary entry of that queue: with nothing queued ahead of it, it
 * quits at once; behind queued lines it waits for them to go out.
 *
 * Reconnecting (`reconnect: true`, the CLI's default; `--no-reconnect` turns it off): when an
 * established session's connection drops — a server restart ("The server is shutting down.
 * Bye!"), a crash, the network — the client says so once and goes back to connecting with the
 * usual backoff; the next session is a new one (login prompt again). It does not reconnect when
 * the server ended the session on purpose (a kick, or a line ending in "Disconnecting.": login
 * timeout, too many wrong passwords, flooding), nor once piped input has ended (nothing more
 * could be sent). Until the new session is established, a line the user submits is not queued
 * — it would answer the new login prompt — but handed back (`restoreInput`: put back on the
 * terminal's input line). `login` (`--login NAME`) answers the login prompt by itself, once per
 * session; the password is never stored.
 */
import { assign, setup } from 'xstate';
import { text as serverText } from './protocol.js';

// ───────────────────────────── protocol ─────────────────────────────

export type ClientEvent =
  /** The TCP connection is established. */
  | { type: 'socket.connected' }
  /** A connection attempt failed before it was established (`code`: ECONNREFUSED, ETIMEDOUT…). */
  | { type: 'socket.failed'; code: string }
  /** An established connection closed; `code` is set when it closed because of an error. */
  | { type: 'socket.closed'; code?: string }
  /** One line from the server, without its line ending. */
  | { type: 'server.line'; text: string }
  /** One line the user typed, without its line ending. */
  | { type: 'user.line'; text: string }
  /** Ctrl-C (or Ctrl-D at an interactive terminal): leave now, politely. */
  | { type: 'user.interrupt' }
  /** Piped input ended: send nothing more, keep showing what the server says. */
  | { type: 'user.eof' };

export interface BackoffPolicy {
  /** Delay before the first retry. */
  baseMs: number;
  /** Upper bound of the delay. */
  maxMs: number;
}

export interface ClientInput {
  host: string;
  port: number;
  backoff?: BackoffPolicy;
  /** After `/quit` is sent, how long to wait for the server to close before hanging up. */
  quitTimeoutMs?: number;
  /** A server that has spoken and not hung up for this long has accepted us (no prompt needed). */
  settleMs?: number;
  /** Connected but not a word from the server for this long: say "waiting for server…". */
  quietMs?: number;
  /** Reconnect when an established session's connection drops (default false: exit, as before). */
  reconnect?: boolean;
  /** Answer the server's login prompt with this, once per session (`--login NAME`). */
  login?: string;
}

export interface ClientContext {
  host: string;
  port: number;
  backoff: BackoffPolicy;
  quitTimeoutMs: number;
  settleMs: number;
  quietMs: number;
  /** Consecutive failed attempts since the last established session. */
  attempt: number;
  /** How long `waiting` lasts before the next attempt (pure function of `attempt`). */
  retryDelay: number;
  /** Why the last attempt failed: an errno-style code, or the server's own words. */
  lastFailure: string | null;
  /** "waiting for server…" is printed once per outage, not once per retry. */
  waitingAnnounced: boolean;
  /** What the server said before the session was established; printed when it is. */
  preamble: string[];
  /** Lines typed before the session was established; sent right after. */
  pending: string[];
  /** The server asked for a password: the next line typed is not echoed. */
  nextInputHidden: boolean;
  /** Piped input has ended. */
  inputEnded: boolean;
  /** Reconnect after an established session drops. */
  reconnect: boolean;
  /** The login to answer the login prompt with, or null. */
  login: string | null;
  /** `login` has been sent in this session (it is sent once per session). */
  loginSent: boolean;
  /** A session was lost and the next one is not established yet: typed lines are handed back. */
  sessionLost: boolean;
  /** The last line the server said in this session: it tells a kick from a restart. */
  lastLine: string | null;
  exitCode: number;
}

export interface ClientOutput {
  exitCode: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 5_000 };
export const DEFAULT_QUIT_TIMEOUT_MS = 2_000;
export const DEFAULT_SETTLE_MS = 500;
export const DEFAULT_QUIET_MS = 3_000;
/** A server that says this much before prompting is talking to us, not refusing us. */
export const MAX_PREAMBLE_LINES = 20;
export const QUIT_LINE = '/quit';

// ───────────────────────────── pure helpers ─────────────────────────────

/** Delay before retry number `attempt` (1-based): base, 2·base, 4·base, … capped at max. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30)); // 2^30 is plenty; avoids Infinity
  return Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
}

/**
 * Spreads a delay by ±`ratio` so many clients restarted together do not reconnect in lockstep.
 * `random` is a number in [0, 1) — the caller passes `Math.random()`, tests pass constants.
 */
export function withJitter(ms: number, random: number, ratio = 0.2): number {
  return Math.max(0, Math.round(ms * (1 + ratio * (2 * random - 1))));
}

/** Failures worth retrying: the server is down, restarting, unreachable for now, or refused. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ECONNCLOSED', // our own code: closed before connecting, without an errno
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN', // DNS temporarily unavailable
]);

export function isRetryableCode(code: string): boolean {
  return RETRYABLE_CODES.has(code);
}

/** A chat line ("[12:34:56] alice: …", "[2024-05-01 12:34:56] …") is never a prompt, whatever it says. */
const CHAT_LINE = /^\[[^\]]*\d{1,2}:\d{2}(?::\d{2})?\]\s/;

/** The server asks for input with a complete line ending in ":" ("Enter your login:"). */
export function isPrompt(text: string): boolean {
  return !CHAT_LINE.test(text) && text.trimEnd().endsWith(':');
}

/**
 * A prompt for a password: it mentions "password" ("Password:", "Choose a password (at least 4
 * characters):", "Repeat the password:").
 */
export function isPasswordPrompt(text: string): boolean {
  return isPrompt(text) && /password/i.test(text);
}

export function isQuitCommand(text: string): boolean {
  return text.trim() === QUIT_LINE;
}

/** The queued lines that are sent: everything up to and including the first `/quit`. */
export function linesToFlush(pending: readonly string[]): string[] {
  const quit = pending.findIndex(isQuitCommand);
  return quit === -1 ? [...pending] : pending.slice(0, quit + 1);
}

/**
 * The server's login prompt, exactly ("Enter your login:"): `--login` answers only this, never
 * another prompt that mentions a login (such as a confirmation).
 */
export function isLoginPrompt(text: string): boolean {
  return text.trim() === serverText.loginPrompt;
}

/**
 * The server's last words ended the session on purpose, so reconnecting would undo what it meant:
 * the operator's kick, or "… Disconnecting." (login timeout, too many wrong passwords, flooding, an
 * internal error). "The server is shutting down. Bye!" is not among them: that is a restart, typically.
 */
export function endsSessionForGood(line: string | null): boolean {
  if (line === null || CHAT_LINE.test(line)) return false;
  return line === serverText.kicked || line === serverText.accountDeleted || /\bDisconnecting\.\s*$/.test(line);
}

export function reconnectingMessage(code: string | undefined): string {
  const why = code ? ` (${code})` : '';
  return `connection to the server lost${why} — reconnecting… (Ctrl-C to give up)`;
}

/** Shown when a line is submitted between a lost session and the next one. */
export const NOT_SENT_LINE = 'not connected yet — that line was not sent';

export function waitingMessage(context: Pick<ClientContext, 'host' | 'port' | 'lastFailure'>): string {
  const why = context.lastFailure ? `: ${context.lastFailure}` : '';
  return `waiting for server… ${context.host}:${context.port}${why} (Ctrl-C to give up)`;
}

export const NO_ANSWER_YET = 'connected, no answer yet';

/** This line from the server makes the connection a session: a prompt, or a long preamble. */
function establishes(context: Pick<ClientContext, 'preamble'>, text: string): boolean {
  return isPrompt(text) || context.preamble.length + 1 >= MAX_PREAMBLE_LINES;
}

// ───────────────────────────── machine ─────────────────────────────

const clientSetup = setup({
  types: {
    context: {} as ClientContext,
    events: {} as ClientEvent,
    input: {} as ClientInput,
    output: {} as ClientOutput,
  },
  actions: {
    /** Open a TCP connection; report back with socket.connected / socket.failed. */
    connect: (_, _params: { host: string; port: number }) => {},
    /** Drop the connection (idempotent); no event comes back for it. */
    disconnect: () => {},
    /** Send one line to the server (the adapter appends "\n"). */
    writeLine: (_, _params: { text: string }) => {},
    /** Show one line to the user without garbling what they are typing. */
    print: (_, _params: { text: string }) => {},
    /** Hide (or show again) what the user types. */
    setEchoHidden: (_, _params: { hidden: boolean }) => {},
    /** The conversation has started: show the input prompt. */
    showPrompt: () => {},

    queueLine: assign({
      pending: ({ context }, params: { text: string }) => [...context.pending, params.text],
    }),
    holdBack: assign({
      preamble: ({ context }, params: { text: string }) => [...context.preamble, params.text],
    }),
    markInputEnded: assign({ inputEnded: true }),
    recordFailure: assign(({ context }, params: { reason: string }) => {
      const attempt = context.attempt + 1;
      return {
        attempt,
        retryDelay: backoffDelay(attempt, context.backoff),
        lastFailure: params.reason,
        preamble: [],
      };
    }),
    noteNoAnswer: assign({ lastFailure: NO_ANSWER_YET }),
    setExitCode: assign((_, params: { code: number }) => ({ exitCode: params.code })),
    /** The line the user submitted was not sent: give it back to them (the terminal's input line). */
    restoreInput: (_, _params: { text: string }) => {},
    recordLine: assign({ lastLine: (_, params: { text: string }) => params.text }),
  },
  guards: {
    isRetryable: (_, params: { code: string }) => isRetryableCode(params.code),
    isQuitCommand: (_, params: { text: string }) => isQuitCommand(params.text),
    /** "/quit" with nothing queued ahead of it: acted on at once (typeahead is FIFO). */
    quitsNow: ({ context }, params: { text: string }) =>
      isQuitCommand(params.text) && context.pending.length === 0,
    hasQueuedQuit: ({ context }) => context.pending.some(isQuitCommand),
    /** The server asks for input, or has said enough that it is clearly talking to us. */
    establishes: ({ context }, params: { text: string }) => establishes(context, params.text),
    establishesAndQuits: ({ context }, params: { text: string }) =>
      establishes(context, params.text) && context.pending.some(isQuitCommand),
    closedByError: (_, params: { code: string | undefined }) => params.code !== undefined,
    /** Between a lost session and the next one. */
    sessionLost: ({ context }) => context.sessionLost,
    /**
     * The dropped session is worth reconnecting: reconnecting is on, input has not ended, and the
     * server did not end the session on purpose.
     */
    reconnects: ({ context }) => context.reconnect && !context.inputEnded && !endsSessionForGood(context.lastLine),
  },
  delays: {
    retryDelay: ({ context }) => context.retryDelay,
    quitTimeout: ({ context }) => context.quitTimeoutMs,
    settle: ({ context }) => context.settleMs,
    quiet: ({ context }) => context.quietMs,
  },
});

// Composite actions: built with the setup-bound helper so that what they enqueue is type-checked
// against the named actions above (a plain `enqueueActions` inside `setup({ actions })` cannot be).
// `transition()` flattens them, so tests see the `print` / `writeLine` / `setEchoHidden` they enqueue.

/** Print "waiting for server…" once per outage, not once per retry. */
const announceWaitingOnce = clientSetup.enqueueActions(({ context, enqueue }) => {
  if (context.waitingAnnounced) return;
  enqueue({ type: 'print', params: { text: waitingMessage(context) } });
  enqueue.assign({ waitingAnnounced: true });
});

/** A password prompt from the server hides the next line the user types — exactly one line. */
const notePrompt = clientSetup.enqueueActions(({ context, event, enqueue }) => {
  if (event.type !== 'server.line' || context.nextInputHidden || !isPasswordPrompt(event.text)) return;
  enqueue.assign({ nextInputHidden: true });
  enqueue({ type: 'setEchoHidden', params: { hidden: true } });
});

/** `--login NAME`: this server line is the login prompt, and NAME has not been sent in this session. */
function answersLogin(context: Pick<ClientContext, 'login' | 'loginSent'>, text: string): boolean {
  return context.login !== null && !context.loginSent && isLoginPrompt(text);
}

/** What `--login` sends, shown to the user: the line the server asked for, said by the client. */
export function loginAnsweredMessage(login: string): string {
  return `${login} (--login)`;
}

/**
 * The server has accepted us: say so, show what it said so far (and the line that settled it),
 * answer its login prompt with `login`, send the typeahead (up to and including a queued /quit),
 * start the backoff over.
 */
const establish = clientSetup.enqueueActions(({ context, event, enqueue }) => {
  const said = event.type === 'server.line' ? [...context.preamble, event.text] : context.preamble;
  enqueue({ type: 'print', params: { text: `connected to ${context.host}:${context.port}` } });
  for (const text of said) enqueue({ type: 'print', params: { text } });
  const last = said.at(-1) ?? null;
  const answer = last !== null && answersLogin(context, last);
  if (answer) {
    enqueue({ type: 'print', params: { text: loginAnsweredMessage(context.login!) } });
    enqueue({ type: 'writeLine', params: { text: context.login! } });
  }
  for (const text of linesToFlush(context.pending)) enqueue({ type: 'writeLine', params: { text } });
  enqueue.assign({
    preamble: [],
    pending: [],
    attempt: 0,
    retryDelay: 0,
    lastFailure: null,
    waitingAnnounced: false,
    sessionLost: false,
    lastLine: last,
    loginSent: answer,
  });
});

/** In a session: a login prompt is answered with `login` once (a second one is the user's to answer). */
const answerLoginPrompt = clientSetup.enqueueActions(({ context, event, enqueue }) => {
  if (event.type !== 'server.line' || !answersLogin(context, event.text)) return;
  enqueue({ type: 'print', params: { text: loginAnsweredMessage(context.login!) } });
  enqueue({ type: 'writeLine', params: { text: context.login! } });
  enqueue.assign({ loginSent: true });
});

/**
 * The established session's connection dropped and we reconnect: say so once (this line stands for
 * "waiting for server…" during this outage), forget the session, and retry after the first backoff step.
 */
const loseSession = clientSetup.enqueueActions(({ context, event, enqueue }) => {
  const code = event.type === 'socket.closed' ? event.code : undefined;
  enqueue({ type: 'print', params: { text: reconnectingMessage(code) } });
  enqueue.assign({
    sessionLost: true,
    loginSent: false,
    lastLine: null,
    preamble: [],
    pending: [],
    attempt: 1,
    retryDelay: backoffDelay(1, context.backoff),
    lastFailure: code ?? 'ECONNCLOSED',
    waitingAnnounced: true,
  });
});

/** A line submitted between sessions: not sent (it would answer the next login prompt), handed back. */
const handBack = clientSetup.enqueueActions(({ event, enqueue }) => {
  if (event.type !== 'user.line') return;
  enqueue({ type: 'print', params: { text: NOT_SENT_LINE } });
  enqueue({ type: 'restoreInput', params: { text: event.text } });
});

/**
 * A line typed while there is no session: `/quit` with nothing queued ahead of it quits at once;
 * after a lost session it is handed back; before the first one it is queued (typeahead).
 */
const typeaheadLine = [
  {
    guard: { type: 'quitsNow', params: ({ event }: { event: { text: string } }) => ({ text: event.text }) },
    target: '#client.closed',
  },
  { guard: 'sessionLost', actions: handBack },
  { actions: { type: 'queueLine', params: ({ event }: { event: { text: string } }) => ({ text: event.text }) } },
] as const;

/** Input ended: after a lost session there is nothing left to reconnect for; otherwise keep listening. */
const inputEnds = [{ guard: 'sessionLost', target: '#client.closed' }, { actions: 'markInputEnded' }] as const;

/** A server line that settles the handshake: a prompt (and maybe a queued /quit to act on). */
const establishingLines = [
  {
    guard: { type: 'establishesAndQuits', params: ({ event }: { event: { text: string } }) => ({ text: event.text }) },
    target: '#client.closing',
    actions: establish,
  },
  {
    guard: { type: 'establishes', params: ({ event }: { event: { text: string } }) => ({ text: event.text }) },
    target: '#client.connected.chatting',
    actions: [establish, notePrompt],
  },
] as const;

/** The hidden line has been typed (or we are leaving): echo again. */
const revealInput = clientSetup.enqueueActions(({ context, enqueue }) => {
  if (!context.nextInputHidden) return;
  enqueue.assign({ nextInputHidden: false });
  enqueue({ type: 'setEchoHidden', params: { hidden: false } });
});

export const clientMachine = clientSetup.createMachine({
  id: 'client',
  context: ({ input }) => ({
    host: input.host,
    port: input.port,
    backoff: input.backoff ?? DEFAULT_BACKOFF,
    quitTimeoutMs: input.quitTimeoutMs ?? DEFAULT_QUIT_TIMEOUT_MS,
    settleMs: input.settleMs ?? DEFAULT_SETTLE_MS,
    quietMs: input.quietMs ?? DEFAULT_QUIET_MS,
    attempt: 0,
    retryDelay: 0,
    lastFailure: null,
    waitingAnnounced: false,
    preamble: [],
    pending: [],
    nextInputHidden: false,
    inputEnded: false,
    reconnect: input.reconnect ?? false,
    login: input.login ?? null,
    loginSent: false,
    sessionLost: false,
    lastLine: null,
    exitCode: 0,
  }),
  initial: 'connecting',
  output: ({ context }) => ({ exitCode: context.exitCode }),
  states: {
    connecting: {
      entry: { type: 'connect', params: ({ context }) => ({ host: context.host, port: context.port }) },
      on: {
        'socket.connected': { target: 'connected' },
        'socket.failed': [
          {
            guard: { type: 'isRetryable', params: ({ event }) => ({ code: event.code }) },
            target: 'waiting',
            actions: [
              { type: 'recordFailure', params: ({ event }) => ({ reason: event.code }) },
              announceWaitingOnce,
            ],
          },
          {
            target: 'closed',
            actions: [
              {
                type: 'print',
                params: ({ context, event }) => ({
                  text: `cannot connect to ${context.host}:${context.port}: ${event.code}`,
                }),
              },
              { type: 'setExitCode', params: { code: 1 } },
            ],
          },
        ],
        // "/quit" with nothing queued ahead of it: not connected, nobody to say goodbye to
        'user.line': typeaheadLine,
        'user.eof': inputEnds,
        'user.interrupt': { target: 'closed' },
      },
    },

    waiting: {
      after: { retryDelay: { target: 'connecting' } },
      on: {
        'user.line': typeaheadLine,
        'user.eof': inputEnds,
        'user.interrupt': { target: 'closed' },
      },
    },

    /** An established session's connection dropped: the first retry is one backoff step away. */
    reconnecting: {
      after: { retryDelay: { target: 'connecting' } },
      on: {
        'user.line': [
          { guard: { type: 'isQuitCommand', params: ({ event }) => ({ text: event.text }) }, target: 'closed' },
          { actions: handBack },
        ],
        'user.eof': { target: 'closed' },
        'user.interrupt': { target: 'closed' },
      },
    },

    connected: {
      initial: 'handshaking',
      on: {
        'user.eof': inputEnds,
      },
      states: {
        /** TCP is up, the server has not accepted us yet: its words are held back, typing is queued. */
        handshaking: {
          initial: 'silent',
          on: {
            'user.line': typeaheadLine,
            // hung up before accepting us: refused ("Server busy…", shutting down) or not ready
            'socket.closed': {
              target: '#client.waiting',
              actions: [
                {
                  type: 'recordFailure',
                  params: ({ context, event }) => ({
                    reason: context.preamble.at(-1) ?? event.code ?? 'ECONNCLOSED',
                  }),
                },
                announceWaitingOnce,
              ],
            },
            'user.interrupt': { target: '#client.closed' },
          },
          states: {
            silent: {
              after: { quiet: { actions: ['noteNoAnswer', announceWaitingOnce] } },
              on: {
                'server.line': [
                  ...establishingLines,
                  { target: 'heard', actions: { type: 'holdBack', params: ({ event }) => ({ text: event.text }) } },
                ],
              },
            },
            /** The server has spoken (a greeting); if it keeps the line open, it has accepted us. */
            heard: {
              after: {
                settle: [
                  { guard: 'hasQueuedQuit', target: '#client.closing', actions: establish },
                  { target: '#client.connected.chatting', actions: establish },
                ],
              },
              on: {
                'server.line': [
                  ...establishingLines,
                  { actions: { type: 'holdBack', params: ({ event }) => ({ text: event.text }) } },
                ],
              },
            },
          },
        },

        chatting: {
          entry: 'showPrompt',
          on: {
            'server.line': {
              actions: [
                { type: 'print', params: ({ event }) => ({ text: event.text }) },
                { type: 'recordLine', params: ({ event }) => ({ text: event.text }) },
                notePrompt,
                answerLoginPrompt,
              ],
            },
            'user.line': [
              {
                guard: { type: 'isQuitCommand', params: ({ event }) => ({ text: event.text }) },
                target: '#client.closing',
                actions: [{ type: 'writeLine', params: { text: QUIT_LINE } }, revealInput],
              },
              {
                actions: [{ type: 'writeLine', params: ({ event }) => ({ text: event.text }) }, revealInput],
              },
            ],
            'user.interrupt': {
              target: '#client.closing',
              actions: [{ type: 'writeLine', params: { text: QUIT_LINE } }, revealInput],
            },
            'socket.closed': [
              // a restart, a crash, the network: not the server ending the session on purpose
              { guard: 'reconnects', target: '#client.reconnecting', actions: [revealInput, loseSession] },
              {
                guard: { type: 'closedByError', params: ({ event }) => ({ code: event.code }) },
                target: '#client.closed',
                actions: [
                  { type: 'print', params: ({ event }) => ({ text: `connection lost (${event.code})` }) },
                  { type: 'setExitCode', params: { code: 1 } },
                ],
              },
              {
                target: '#client.closed',
                actions: { type: 'print', params: { text: 'connection closed by server' } },
              },
            ],
          },
        },
      },
    },

    /** "/quit" was sent: show what the server still says ("Bye") until it hangs up. */
    closing: {
      entry: revealInput,
      after: { quitTimeout: { target: 'closed' } },
      on: {
        'server.line': { actions: { type: 'print', params: ({ event }) => ({ text: event.text }) } },
        'socket.closed': { target: 'closed' },
        'user.interrupt': { target: 'closed' },
        'user.eof': { actions: 'markInputEnded' },
      },
    },

    closed: {
      type: 'final',
      entry: 'disconnect',
    },
  },
});

export type ClientMachine = typeof clientMachine;
