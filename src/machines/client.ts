/**
 * The chat client's own flow — connect, wait for the server, chat, close — as a pure statechart.
 *
 * No I/O here: opening the socket, writing a line, printing, hiding the echo are named actions
 * with inert defaults; `src/actors/client-session.ts` supplies the real ones with `.provide()`.
 *
 *   connecting ──socket.connected──► connected.handshaking ──first server.line──► connected.chatting
 *      │  ▲                               │ socket.closed (server hung up before saying anything)
 *      │  └──────── after retryDelay ──── waiting ◄─┘
 *      └─ socket.failed (retryable) ─────►┘
 *   chatting ──user "/quit" or Ctrl-C──► closing ──socket.closed | quitTimeout──► closed (final)
 *   chatting ──socket.closed──► closed ("connection closed by server")
 *
 * Lines the user types before the server has spoken are queued (typeahead) and sent, in order,
 * right after the server's first line: piped input (`printf 'alice\n…' | statechat client`)
 * is read long before the connection is up. `/quit` is an ordinary entry of that queue: with
 * nothing queued ahead of it, it quits at once; behind queued lines it waits for them to go out.
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
}

export interface ClientContext {
  host: string;
  port: number;
  backoff: BackoffPolicy;
  quitTimeoutMs: number;
  /** Consecutive failed attempts since the last successful connect. */
  attempt: number;
  /** How long `waiting` lasts before the next attempt (pure function of `attempt`). */
  retryDelay: number;
  /** Why the last attempt failed (an errno-style code), for the status line. */
  lastError: string | null;
  /** "waiting for server…" is printed once per outage, not once per retry. */
  waitingAnnounced: boolean;
  /** Lines typed before the server spoke; sent right after its first line. */
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

/** A chat line ("[12:34:56] alice: …") is never a prompt, whatever it says. */
const CHAT_LINE = /^\[\d{1,2}:\d{2}(?::\d{2})?\]\s/;

/**
 * The server asks for a password with a complete line that mentions "password" and ends with
 * ":" ("Password:", "Choose a password (at least 4 characters):", "Repeat the password:").
 */
export function isPasswordPrompt(text: string): boolean {
  return !CHAT_LINE.test(text) && /password/i.test(text) && text.trimEnd().endsWith(':');
}

export function isQuitCommand(text: string): boolean {
  return text.trim() === '/quit';
}

/** The queued lines that are sent: everything up to and including the first `/quit`. */
export function linesToFlush(pending: readonly string[]): string[] {
  const quit = pending.findIndex(isQuitCommand);
  return quit === -1 ? [...pending] : pending.slice(0, quit + 1);
}

export const QUIT_LINE = '/quit';

export function waitingMessage(context: Pick<ClientContext, 'host' | 'port' | 'lastError'>): string {
  const why = context.lastError ? ` ${context.lastError}` : '';
  return `waiting for server… (${context.host}:${context.port}${why}; retrying, Ctrl-C to give up)`;
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
    markInputEnded: assign({ inputEnded: true }),
    recordFailure: assign(({ context }, params: { code: string }) => {
      const attempt = context.attempt + 1;
      return { attempt, retryDelay: backoffDelay(attempt, context.backoff), lastError: params.code };
    }),
    resetBackoff: assign({ attempt: 0, retryDelay: 0, lastError: null, waitingAnnounced: false }),
    setExitCode: assign((_, params: { code: number }) => ({ exitCode: params.code })),
  },
  guards: {
    isRetryable: (_, params: { code: string }) => isRetryableCode(params.code),
    isQuitCommand: (_, params: { text: string }) => isQuitCommand(params.text),
    /** "/quit" with nothing queued ahead of it: acted on at once (typeahead is FIFO). */
    quitsNow: ({ context }, params: { text: string }) =>
      isQuitCommand(params.text) && context.pending.length === 0,
    hasQueuedQuit: ({ context }) => context.pending.some(isQuitCommand),
    closedByError: (_, params: { code: string | undefined }) => params.code !== undefined,
  },
  delays: {
    retryDelay: ({ context }) => context.retryDelay,
    quitTimeout: ({ context }) => context.quitTimeoutMs,
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

/** Send the queued typeahead (up to and including a queued /quit) and empty the queue. */
const flushPending = clientSetup.enqueueActions(({ context, enqueue }) => {
  for (const text of linesToFlush(context.pending)) enqueue({ type: 'writeLine', params: { text } });
  enqueue.assign({ pending: [] });
});

/** A password prompt from the server hides the next line the user types — exactly one line. */
const notePrompt = clientSetup.enqueueActions(({ context, event, enqueue }) => {
  if (event.type !== 'server.line' || context.nextInputHidden || !isPasswordPrompt(event.text)) return;
  enqueue.assign({ nextInputHidden: true });
  enqueue({ type: 'setEchoHidden', params: { hidden: true } });
});

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
    attempt: 0,
    retryDelay: 0,
    lastError: null,
    waitingAnnounced: false,
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
              { type: 'recordFailure', params: ({ event }) => ({ code: event.code }) },
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
      entry: [
        'resetBackoff',
        {
          type: 'print',
          params: ({ context }) => ({ text: `connected to ${context.host}:${context.port}` }),
        },
      ],
      initial: 'handshaking',
      on: {
        'user.eof': { actions: 'markInputEnded' },
      },
      states: {
        /** Connected, but the server has not said anything yet: typed lines are queued. */
        handshaking: {
          on: {
            'server.line': [
              {
                guard: 'hasQueuedQuit',
                target: '#client.closing',
                actions: [{ type: 'print', params: ({ event }) => ({ text: event.text }) }, flushPending],
              },
              {
                target: 'chatting',
                actions: [
                  { type: 'print', params: ({ event }) => ({ text: event.text }) },
                  flushPending,
                  notePrompt,
                ],
              },
            ],
            'user.line': [
              {
                guard: { type: 'quitsNow', params: ({ event }) => ({ text: event.text }) },
                target: '#client.closed',
              },
              { actions: { type: 'queueLine', params: ({ event }) => ({ text: event.text }) } },
            ],
            // accepted and hung up before a word: the server is refusing or not ready yet
            'socket.closed': {
              target: '#client.waiting',
              actions: [
                { type: 'recordFailure', params: ({ event }) => ({ code: event.code ?? 'ECONNCLOSED' }) },
                announceWaitingOnce,
              ],
            },
            'user.interrupt': { target: '#client.closed' },
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
