/**
 * The echo machine: the first step of the lab — each connection gets its own actor that sends
 * every line straight back. Same listener, same console; no login, no storage.
 */
import { setup } from 'xstate';

export type EchoEvent =
  | { type: 'client.line'; text: string }
  | { type: 'client.lineTooLong'; bytes: number }
  | { type: 'client.closed' }
  | { type: 'server.shutdown' };

export const echoText = {
  greeting: 'statechat echo — every line you send comes back. Type /quit to leave.',
  lineTooLong: (bytes: number) => `Line too long (${bytes} bytes); it was ignored.`,
  bye: 'Bye!',
  shuttingDown: 'The server is shutting down. Bye!',
} as const;

export const echoMachine = setup({
  types: {
    events: {} as EchoEvent,
  },
  actions: {
    send: (_, _params: { lines: readonly string[] }) => {},
    closeConnection: () => {},
  },
  guards: {
    isQuit: ({ event }) => event.type === 'client.line' && event.text.trim().toLowerCase() === '/quit',
  },
}).createMachine({
  id: 'echo',
  initial: 'echoing',
  states: {
    echoing: {
      tags: ['input'],
      entry: { type: 'send', params: { lines: [echoText.greeting] } },
      on: {
        'client.line': [
          { guard: 'isQuit', target: 'closed', actions: { type: 'send', params: { lines: [echoText.bye] } } },
          { actions: { type: 'send', params: ({ event }) => ({ lines: [event.text] }) } },
        ],
        'client.lineTooLong': {
          actions: { type: 'send', params: ({ event }) => ({ lines: [echoText.lineTooLong(event.bytes)] }) },
        },
        'client.closed': 'closed',
        'server.shutdown': {
          target: 'closed',
          actions: { type: 'send', params: { lines: [echoText.shuttingDown] } },
        },
      },
    },
    closed: {
      type: 'final',
      entry: 'closeConnection',
    },
  },
});
