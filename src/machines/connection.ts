/**
 * The connection machine: one per accepted socket. It owns the login / registration / chat
 * protocol — what a line means in each state, when to ask again, when to hang up. Its parts:
 * connection-setup.ts (context, events, every named effect), sign-in.ts (signing in or
 * registering), chat-session.ts (chatting, the commands, the rooms' answers).
 *
 * Pure: every effect is a named action or invoked actor with an inert default; the real ones
 * are supplied by src/actors/connection-actor.ts through `.provide()`. States tagged `input` are
 * the ones waiting for a line from the client: the actor holds lines that arrive while the
 * machine is busy (checking a password, waiting for a room) and feeds them one by one, so typing
 * ahead never loses a line. A state also tagged `chatLines` takes a run of chat messages that
 * arrived together as one event.
 */
import { assign } from 'xstate';
import { chatSessionState } from './chat-session.js';
import { connectionSetup } from './connection-setup.js';
import { LOBBY, text } from './protocol.js';
import { signInState } from './sign-in.js';

export * from './connection-setup.js';
export { historyLines, joinedRoomLines, welcomeLines } from './chat-session.js';

export const connectionMachine = connectionSetup.createMachine({
  id: 'connection',
  context: ({ input }) => ({
    ...input,
    login: undefined,
    wrongPasswords: 0,
    pendingPassword: undefined,
    registered: false,
    rooms: [],
    currentRoom: LOBBY,
    joining: undefined,
    leaving: undefined,
    floodingSince: undefined,
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
    // The rate limit paces lines (the line pump holds them); the machine decides what the client
    // is told and when a flood ends the session.
    'client.throttled': [
      {
        guard: { type: 'isFloodingTooLong', params: ({ event }) => ({ at: event.at }) },
        target: '.closed',
        actions: [
          { type: 'send', params: ({ context }) => ({ lines: [text.flooding(context.ratePerSecond, context.maxFloodMs / 1000)] }) },
          'reportFlood',
        ],
      },
      {
        guard: 'isFloodStart',
        actions: [
          assign({ floodingSince: ({ event }) => event.at }),
          { type: 'send', params: ({ context }) => ({ lines: [text.tooFast(context.ratePerSecond)] }) },
        ],
      },
      // Still within the flood's allowance: the line just waits.
    ],
    'client.paced': { actions: assign({ floodingSince: undefined }) },
    'client.slowConsumer': {
      target: '.closed',
      actions: [{ type: 'reportSlowConsumer', params: ({ event }) => ({ unreadBytes: event.unreadBytes }) }, 'abortConnection'],
    },
  },
  states: {
    authenticating: signInState,
    chatting: chatSessionState,
    closed: {
      type: 'final',
      entry: 'closeConnection',
    },
  },
});
