/**
 * The chat client's own flow — connect, wait for the server, chat, close — as a pure statechart.
 *
 * No I/O here: opening the socket, writing a line, printing, hiding the echo are named actions
 * with inert defaults; `src/actors/client-session.ts` supplies the real ones with `.provide()`.
 *
 *   connecting ─socket.connected─► connected.handshaking ─(prompt | settled)─► connected.chatting
 *     │    ▲                          │ socket.closed: refused ("Server busy…") or not ready
 *     │    └── after retryDelay ── waiting ◄─┘
 *     └─ socket.failed (retryable) ──►┘
 *   chatting ─"/quit" or Ctrl-C─► closing ─socket.closed | quitTimeout─► closed (final)
 *   chatting ─socket.closed─► closed ("connection closed by server")
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
 */
import { assign, setup } from 'xstate';

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

/**
 * The server has accepted us: say so, show what it said so far (and the line that settled it),
 * send the typeahead (up to and including a queued /quit), start the backoff over.
 */
const establish = clientSetup.enqueueActions(({ context, event, enqueue }) => {
  const said = event.type === 'server.line' ? [...context.preamble, event.text] : context.preamble;
  enqueue({ type: 'print', params: { text: `connected to ${context.host}:${context.port}` } });
  for (const text of said) enqueue({ type: 'print', params: { text } });
  for (const text of linesToFlush(context.pending)) enqueue({ type: 'writeLine', params: { text } });
  enqueue.assign({
    preamble: [],
    pending: [],
    attempt: 0,
    retryDelay: 0,
    lastFailure: null,
    waitingAnnounced: false,
  });
});

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
        'user.line': [
          // "/quit" with nothing queued ahead of it: not connected, nobody to say goodbye to
          { guard: { type: 'quitsNow', params: ({ event }) => ({ text: event.text }) }, target: 'closed' },
          { actions: { type: 'queueLine', params: ({ event }) => ({ text: event.text }) } },
        ],
        'user.eof': { actions: 'markInputEnded' },
        'user.interrupt': { target: 'closed' },
      },
    },

    waiting: {
      after: { retryDelay: { target: 'connecting' } },
      on: {
        'user.line': [
          { guard: { type: 'quitsNow', params: ({ event }) => ({ text: event.text }) }, target: 'closed' },
          { actions: { type: 'queueLine', params: ({ event }) => ({ text: event.text }) } },
        ],
        'user.eof': { actions: 'markInputEnded' },
        'user.interrupt': { target: 'closed' },
      },
    },

    connected: {
      initial: 'handshaking',
      on: {
        'user.eof': { actions: 'markInputEnded' },
      },
      states: {
        /** TCP is up, the server has not accepted us yet: its words are held back, typing is queued. */
        handshaking: {
          initial: 'silent',
          on: {
            'user.line': [
              {
                guard: { type: 'quitsNow', params: ({ event }) => ({ text: event.text }) },
                target: '#client.closed',
              },
              { actions: { type: 'queueLine', params: ({ event }) => ({ text: event.text }) } },
            ],
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
                notePrompt,
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
