/**
 * The supervisor machine: the server's control plane. It takes the operator's console
 * commands and runs the shutdown.
 *
 * The registry of online users, the sockets and the chat router live in the supervisor actor
 * (src/actors/server.ts) as plain objects updated in place — an xstate context copied on every
 * join would make 10,000 logins quadratic. Chat messages go from connection actors to the router
 * without a step here: they are data, not decisions. What this machine owns is the *decisions*:
 * which command does what, in which state, and that a shutdown happens once.
 */
import { fromPromise, setup } from 'xstate';
import type { ConsoleEvent } from './console-command.js';

export type SupervisorEvent =
  | ConsoleEvent
  /** SIGINT / SIGTERM: same as the console's shutdown. */
  | { type: 'process.signal'; signal: string };

export interface SupervisorInput {
  /** Echo mode has no users, history or identification file. */
  mode: 'chat' | 'echo';
}

const CHAT_ONLY_REPLY = {
  type: 'reply',
  params: { lines: ['That command belongs to the chat server; this is the echo server.'] },
} as const;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorInput,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    clearLogFile: fromPromise<void>(async () => {}),
    clearClientsFile: fromPromise<void>(async () => {}),
    /** Stops the listener, tells every client, flushes history, closes every connection. */
    shutDown: fromPromise<void>(async () => {}),
  },
  actions: {
    /** A line of console output, shown whatever the log display says. */
    reply: (_, _params: { lines: readonly string[] }) => {},
    showHelp: () => {},
    showStatus: () => {},
    showWho: () => {},
    kick: (_, _params: { login: string }) => {},
    say: (_, _params: { text: string }) => {},
    pauseListener: () => {},
    resumeListener: () => {},
    setLogDisplay: (_, _params: { shown: boolean }) => {},
    clearScreen: () => {},
    reportFailure: (_, _params: { what: string }) => {},
  },
  guards: {
    isChatMode: ({ context }) => context.mode === 'chat',
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => input,
  initial: 'running',
  states: {
    running: {
      type: 'parallel',
      on: {
        'console.shutdown': 'shuttingDown',
        'process.signal': 'shuttingDown',
        'console.stopListen': { actions: 'pauseListener' },
        'console.startListen': { actions: 'resumeListener' },
        'console.help': { actions: 'showHelp' },
        'console.status': { actions: 'showStatus' },
        'console.who': [
          { guard: 'isChatMode', actions: 'showWho' },
          { actions: CHAT_ONLY_REPLY },
        ],
        'console.kick': [
          { guard: 'isChatMode', actions: { type: 'kick', params: ({ event }) => ({ login: event.login }) } },
          { actions: CHAT_ONLY_REPLY },
        ],
        'console.say': [
          { guard: 'isChatMode', actions: { type: 'say', params: ({ event }) => ({ text: event.text }) } },
          { actions: CHAT_ONLY_REPLY },
        ],
        'console.unknown': {
          actions: {
            type: 'reply',
            params: ({ event }) => ({ lines: [`Unknown command "${event.input}". Type "help" for the list.`] }),
          },
        },
      },
      states: {
        logDisplay: {
          initial: 'shown',
          states: {
            shown: {
              on: {
                'console.stopLog': {
                  target: 'hidden',
                  actions: [
                    { type: 'setLogDisplay', params: { shown: false } },
                    { type: 'reply', params: { lines: ['Log display stopped (the log file is still written). "start log" resumes it.'] } },
                  ],
                },
                'console.startLog': { actions: { type: 'reply', params: { lines: ['The log is already shown.'] } } },
              },
            },
            hidden: {
              on: {
                'console.startLog': {
                  target: 'shown',
                  actions: [
                    { type: 'setLogDisplay', params: { shown: true } },
                    { type: 'reply', params: { lines: ['Log display resumed.'] } },
                  ],
                },
                'console.stopLog': { actions: { type: 'reply', params: { lines: ['The log display is already stopped.'] } } },
              },
            },
          },
        },
        maintenance: {
          initial: 'idle',
          states: {
            idle: {
              on: {
                'console.clearLog': 'clearingLog',
                'console.clearFile': [
                  { guard: 'isChatMode', target: 'clearingFile' },
                  { actions: CHAT_ONLY_REPLY },
                ],
              },
            },
            clearingLog: {
              invoke: {
                id: 'clearLogFile',
                src: 'clearLogFile',
                onDone: {
                  target: 'idle',
                  actions: ['clearScreen', { type: 'reply', params: { lines: ['Log cleared.'] } }],
                },
                onError: {
                  target: 'idle',
                  actions: { type: 'reportFailure', params: { what: 'clear log' } },
                },
              },
            },
            clearingFile: {
              invoke: {
                id: 'clearClientsFile',
                src: 'clearClientsFile',
                onDone: {
                  target: 'idle',
                  actions: {
                    type: 'reply',
                    params: {
                      lines: ['clients.csv emptied: every registration is gone; users online stay online.'],
                    },
                  },
                },
                onError: {
                  target: 'idle',
                  actions: { type: 'reportFailure', params: { what: 'clear file' } },
                },
              },
            },
          },
          on: {
            // Only reached while a clear is running (idle handles these itself).
            'console.clearLog': { actions: { type: 'reply', params: { lines: ['Busy clearing; try again in a moment.'] } } },
            'console.clearFile': { actions: { type: 'reply', params: { lines: ['Busy clearing; try again in a moment.'] } } },
          },
        },
      },
    },
    shuttingDown: {
      entry: { type: 'reply', params: { lines: ['Shutting down…'] } },
      invoke: {
        id: 'shutDown',
        src: 'shutDown',
        onDone: 'stopped',
        onError: {
          target: 'stopped',
          actions: { type: 'reportFailure', params: { what: 'shutdown' } },
        },
      },
    },
    stopped: {
      type: 'final',
    },
  },
});
