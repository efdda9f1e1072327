/**
 * The chat session: from the welcome to the goodbye. A plain line goes to the current room; a
 * command line becomes the `command.*` event its row in the command table (commands.ts) makes,
 * and each is a transition here — no second parse, no switch. The rooms answer as events
 * (`room.joined`, `room.refused`, … from room.ts): a refusal is a message, shown as one line.
 *
 * States that wait for a room's answer (`entering`, `joiningRoom`, `recalling`) are not tagged
 * `input`: lines typed meanwhile wait in the line pump, so answers keep the order of the lines.
 *
 * `/passwd` and `/deleteaccount` ask questions (`changingPassword`, `deletingAccount`): a line
 * typed at one of their prompts is its answer, never a chat message; the prompts for a password
 * are tagged `secret` like sign-in's. Deliveries from the rooms go on meanwhile.
 */
import { assertEvent, assign, raise } from 'xstate';
import { DEFAULT_HISTORY_REQUEST, HELP_LINES, parseCommand } from './commands.js';
import {
  type ConnectionContext,
  connectionSetup,
  type PrivateOutcome,
  MAX_ROOMS_PER_USER,
  promptAgain,
  quitAtPrompt,
  roomsToLeave,
  sayThen,
  serviceFailed,
  typedPassword,
} from './connection-setup.js';
import { actionMessageText, type ChatMessage, formatHistoryLine, LOBBY, MAX_WAITING_MESSAGES, sanitizeChatText, text, type Topic } from './protocol.js';

/** `/quit` (or `/exit`) in the chat, and at a prompt of `/passwd` or `/deleteaccount`: Bye. */
const quit = quitAtPrompt('session.left');

const IDLE = '#connection.chatting.idle';

export const chatSessionState = connectionSetup.createStateConfig({
  entry: [
    assign({ rooms: [], currentRoom: LOBBY, joining: LOBBY }),
    { type: 'requestJoin', params: { room: LOBBY } },
  ],
  exit: { type: 'leaveChat', params: ({ context }) => ({ rooms: roomsToLeave(context) }) },
  initial: 'entering',
  on: {
    'client.closed': {
      target: 'closed',
      actions: { type: 'log', params: { entry: 'session.left' } },
    },
    'server.kick': sayThen('closed', text.kicked, 'session.kicked'),
    'server.signOut': sayThen('closed', text.signedOutByCluster, 'session.signedOut'),
    'chat.private': { actions: { type: 'send', params: ({ event }) => ({ lines: [event.line] }) } },
    'room.closed': {
      guard: { type: 'isInRoom', params: ({ event }) => ({ room: event.room }) },
      actions: [
        {
          type: 'send',
          params: ({ context, event }) => ({
            lines: [text.roomClosed(event.room), ...(context.currentRoom === event.room ? [text.nowTalkingIn(LOBBY)] : [])],
          }),
        },
        assign(({ context, event }) => withoutRoom(context, event.room)),
      ],
    },
    'room.restarted': { actions: { type: 'send', params: ({ event }) => ({ lines: [text.roomRestarted(event.room)] }) } },
    // One line per message refused, as each was typed.
    'room.postFailed': { actions: { type: 'send', params: ({ event }) => ({ lines: Array<string>(event.count).fill(text.messageNotSaved) }) } },
    'room.refused': { actions: { type: 'send', params: ({ event }) => ({ lines: [event.reason] }) } },
    'room.topicRefused': { actions: { type: 'send', params: ({ event }) => ({ lines: [event.reason] }) } },
  },
  states: {
    /** Waiting for #lobby to take us in: its answer carries the history replayed with the welcome. */
    entering: {
      on: {
        'room.joined': {
          target: 'idle',
          actions: [
            assign({ rooms: ({ event }) => [event.room], joining: undefined }),
            {
              type: 'send',
              params: ({ context, event }) => ({
                // Replay switched off (--history 0): no history section at all.
                lines: welcomeLines(context.login!, context.registered, context.historyReplay > 0 ? event.recent : undefined),
              }),
            },
            'releaseDeliveries',
            'deliverWaitingMessages',
          ],
        },
        'room.refused': {
          target: '#connection.closed',
          actions: [assign({ joining: undefined }), { type: 'send', params: { lines: [text.serviceFailed] } }, 'releaseDeliveries'],
        },
      },
    },
    idle: {
      tags: ['input', 'chatLines'],
      on: {
        'client.chatLines': {
          guard: 'areChatMessages',
          actions: { type: 'post', params: ({ context, event }) => ({ room: context.currentRoom, texts: event.texts.map(sanitizeChatText) }) },
        },
        'client.line': [
          {
            // The common case first: one chat message per step of every sender is the hottest
            // transition of the server (bench/, scenario 1).
            guard: 'isChatMessage',
            actions: { type: 'post', params: ({ context, event }) => ({ room: context.currentRoom, texts: [sanitizeChatText(event.text)] }) },
          },
          // The command's event, handled below in the same step.
          { guard: 'isCommand', actions: raise(({ event }) => parseCommand(event.text)) },
          // An empty line (or one of only controls and spaces) says nothing.
        ],
        'command.quit': sayThen('#connection.closed', text.bye, 'session.left'),
        'command.help': { actions: { type: 'send', params: { lines: HELP_LINES } } },
        'command.passwd': { target: 'changingPassword' },
        'command.deleteAccount': { target: 'deletingAccount' },
        'command.usage': { actions: { type: 'send', params: ({ event }) => ({ lines: [event.usage] }) } },
        'command.unknown': { actions: { type: 'send', params: ({ event }) => ({ lines: [text.unknownCommand(event.command)] }) } },
        'command.who': { actions: 'listOnline' },
        'command.away': {
          actions: [
            { type: 'setAway', params: ({ event }) => ({ text: event.text }) },
            { type: 'send', params: ({ event }) => ({ lines: [event.text === undefined ? text.awayCleared : text.awaySet(event.text)] }) },
          ],
        },
        'command.rooms': { actions: 'listRooms' },
        'command.names': { actions: { type: 'listNames', params: ({ context, event }) => ({ room: event.room ?? context.currentRoom }) } },
        'command.msg': { target: 'sendingPrivate' },
        'command.me': {
          actions: { type: 'post', params: ({ context, event }) => ({ room: context.currentRoom, texts: [actionMessageText(event.text)] }) },
        },
        'command.join': [
          {
            guard: { type: 'isInRoom', params: ({ event }) => ({ room: event.room }) },
            actions: [
              assign({ currentRoom: ({ event }) => event.room }),
              { type: 'send', params: ({ event }) => ({ lines: [text.nowTalkingIn(event.room)] }) },
            ],
          },
          {
            guard: 'isInTooManyRooms',
            actions: { type: 'send', params: { lines: [text.tooManyRooms(MAX_ROOMS_PER_USER)] } },
          },
          {
            target: 'joiningRoom',
            actions: [assign({ joining: ({ event }) => event.room }), { type: 'requestJoin', params: ({ event }) => ({ room: event.room }) }],
          },
        ],
        'command.part': [
          {
            guard: { type: 'isLobby', params: ({ context, event }) => ({ room: event.room ?? context.currentRoom }) },
            actions: { type: 'send', params: { lines: [text.cannotLeaveLobby] } },
          },
          {
            guard: { type: 'isInRoom', params: ({ context, event }) => ({ room: event.room ?? context.currentRoom }) },
            target: 'leavingRoom',
            actions: [
              { type: 'leaveRoom', params: ({ context, event }) => ({ room: event.room ?? context.currentRoom }) },
              assign(({ context, event }) => ({ ...withoutRoom(context, event.room ?? context.currentRoom), leaving: event.room ?? context.currentRoom })),
            ],
          },
          {
            actions: { type: 'send', params: ({ context, event }) => ({ lines: [text.notInRoom(event.room ?? context.currentRoom)] }) },
          },
        ],
        'command.topic': [
          {
            guard: { type: 'isTopicQuestion', params: ({ event }) => ({ text: event.text }) },
            actions: { type: 'showTopic', params: ({ context }) => ({ room: context.currentRoom }) },
          },
          {
            actions: { type: 'setTopic', params: ({ context, event }) => ({ room: context.currentRoom, text: event.text ?? '' }) },
          },
        ],
        'command.history': {
          target: 'recalling',
          actions: {
            type: 'recall',
            params: ({ context, event }) => ({ room: context.currentRoom, limit: event.limit ?? historyRequestDefault(context) }),
          },
        },
      },
    },
    /**
     * `/part`: "You left" once the room says the leave has taken effect — on a cluster, when its
     * notice is back from the room's stream — so the lines before it come first and none after.
     */
    leavingRoom: {
      on: {
        'room.left': {
          guard: { type: 'isLeaving', params: ({ event }) => ({ room: event.room }) },
          target: 'idle',
          actions: [{ type: 'send', params: ({ context, event }) => ({ lines: [text.leftRoom(event.room, context.currentRoom)] }) }, assign({ leaving: undefined })],
        },
        // Closed by the operator meanwhile: left all the same.
        'room.closed': {
          guard: { type: 'isLeaving', params: ({ event }) => ({ room: event.room }) },
          target: 'idle',
          actions: [{ type: 'send', params: ({ context, event }) => ({ lines: [text.leftRoom(event.room, context.currentRoom)] }) }, assign({ leaving: undefined })],
        },
      },
    },
    /** `/join` of a room we are not in: its answer (the replay, the topic) comes before anything typed next. */
    joiningRoom: {
      on: {
        'room.joined': {
          target: 'idle',
          actions: [
            assign({ rooms: ({ context, event }) => [...context.rooms, event.room], currentRoom: ({ event }) => event.room, joining: undefined }),
            {
              type: 'send',
              params: ({ context, event }) => ({
                lines: joinedRoomLines(event.room, event.members, event.topic, context.historyReplay > 0 ? event.recent : undefined),
              }),
            },
            'releaseDeliveries',
          ],
        },
        'room.refused': {
          target: 'idle',
          actions: [assign({ joining: undefined }), { type: 'send', params: ({ event }) => ({ lines: [event.reason] }) }, 'releaseDeliveries'],
        },
      },
    },
    /**
     * `/passwd`: the current password, then the new one twice; then the store checks the current
     * one and writes the new hash in one step (so the current password waits in the context until
     * then). A new password too short or not repeated the same ends it at once: the reason, and
     * back to chatting, the password unchanged.
     */
    changingPassword: {
      initial: 'awaitingCurrentPassword',
      // However it ends (answered, refused, the client gone), no password stays in the context.
      exit: assign({ password: undefined, pendingPassword: undefined }),
      states: {
        awaitingCurrentPassword: {
          tags: ['input', 'secret'],
          entry: { type: 'send', params: { lines: [text.currentPasswordPrompt] } },
          on: {
            'client.lineTooLong': promptAgain(() => text.currentPasswordPrompt),
            'client.line': [
              quit,
              { target: 'choosingNewPassword', actions: assign({ password: ({ event }) => event.text }) },
            ],
          },
        },
        choosingNewPassword: {
          tags: ['input', 'secret'],
          entry: { type: 'send', params: ({ context }) => ({ lines: [text.nextPasswordPrompt(context.minPasswordLength)] }) },
          on: {
            'client.lineTooLong': promptAgain((context) => text.nextPasswordPrompt(context.minPasswordLength)),
            'client.line': [
              quit,
              {
                guard: 'isPasswordLongEnough',
                target: 'repeatingNewPassword',
                actions: assign({ pendingPassword: ({ event }) => event.text }),
              },
              {
                target: IDLE,
                actions: { type: 'send', params: ({ context }) => ({ lines: [text.newPasswordTooShort(context.minPasswordLength)] }) },
              },
            ],
          },
        },
        repeatingNewPassword: {
          tags: ['input', 'secret'],
          entry: { type: 'send', params: { lines: [text.repeatNextPasswordPrompt] } },
          on: {
            'client.lineTooLong': promptAgain(() => text.repeatNextPasswordPrompt),
            'client.line': [
              quit,
              { guard: 'isRepeatedPassword', target: 'savingPassword' },
              { target: IDLE, actions: { type: 'send', params: { lines: [text.newPasswordsDiffer] } } },
            ],
          },
        },
        /** The store answers once the new hash is on disk (fsync'ed), or that the current password was wrong. */
        savingPassword: {
          invoke: {
            id: 'changePassword',
            src: 'changePassword',
            input: ({ context }) => ({ login: context.login!, password: context.password!, pendingPassword: context.pendingPassword! }),
            onDone: [
              { guard: { type: 'isPasswordChanged', params: ({ event }) => ({ outcome: event.output }) }, ...sayThen(IDLE, text.passwordChanged, 'password.changed') },
              sayThen(IDLE, text.wrongPasswordUnchanged, 'password.wrong'),
            ],
            onError: serviceFailed(IDLE, text.passwordChangeFailed, 'password.failed'),
          },
        },
      },
    },
    /**
     * `/deleteaccount`: the password (checked at once, throttled like a sign-in, so it is not kept),
     * then the login typed again; then the registration is removed and the session ends — the
     * usual leave notices follow. The history keeps what the user said.
     */
    deletingAccount: {
      initial: 'awaitingPassword',
      states: {
        awaitingPassword: {
          tags: ['input', 'secret'],
          entry: { type: 'send', params: { lines: [text.passwordPrompt] } },
          on: {
            'client.lineTooLong': promptAgain(() => text.passwordPrompt),
            'client.line': [quit, { target: 'verifyingPassword' }],
          },
        },
        verifyingPassword: {
          invoke: {
            id: 'verifyPassword',
            src: 'verifyPassword',
            input: typedPassword,
            onDone: [
              { guard: { type: 'isPasswordCorrect', params: ({ event }) => ({ verified: event.output }) }, target: 'confirmingLogin' },
              sayThen(IDLE, text.wrongPasswordAccountKept, 'account.wrongPassword'),
            ],
            onError: serviceFailed(IDLE, text.accountDeleteFailed, 'account.failed'),
          },
        },
        confirmingLogin: {
          tags: ['input'],
          entry: { type: 'send', params: { lines: [text.confirmLoginPrompt] } },
          on: {
            'client.lineTooLong': promptAgain(() => text.confirmLoginPrompt),
            'client.line': [
              quit,
              { guard: 'isOwnLogin', target: 'deleting' },
              sayThen(IDLE, text.notYourLogin, 'account.wrongLogin'),
            ],
          },
        },
        /** The store answers once clients.csv no longer holds the row (replaced crash-safely). */
        deleting: {
          invoke: {
            id: 'deleteAccount',
            src: 'deleteAccount',
            input: ({ context }) => ({ login: context.login! }),
            onDone: sayThen('#connection.closed', text.accountDeleted, 'account.deleted'),
            onError: serviceFailed(IDLE, text.accountDeleteFailed, 'account.failed'),
          },
        },
      },
    },
    /**
     * `/msg`: delivered at once to a user online; for a registered user offline, stored (on disk)
     * before the sender is told so. Lines typed meanwhile wait, so answers keep their order.
     */
    sendingPrivate: {
      invoke: {
        id: 'sendPrivate',
        src: 'sendPrivate',
        input: ({ event }) => {
          assertEvent(event, 'command.msg');
          return { to: event.to, text: event.text };
        },
        onDone: { target: 'idle', actions: { type: 'send', params: ({ event }) => ({ lines: privateAnswerLines(event.output) }) } },
        onError: serviceFailed(IDLE, text.privateNotLeft, 'private.failed'),
      },
    },
    /** `/history [n]`: the room answers once this user's own messages to it are delivered. */
    recalling: {
      on: {
        'room.recalled': {
          target: 'idle',
          actions: { type: 'send', params: ({ event }) => ({ lines: historyLines(event.messages) }) },
        },
        // The room crashed before answering; it is back (and says so), the question is lost.
        'room.restarted': {
          target: 'idle',
          actions: { type: 'send', params: ({ event }) => ({ lines: [text.roomRestarted(event.room), text.historyUnavailable] }) },
        },
      },
    },
  },
});

/** After leaving `room` (a /part, a close): talking in #lobby if that was the current room. */
function withoutRoom(context: ConnectionContext, room: string): Partial<ConnectionContext> {
  return {
    rooms: context.rooms.filter((r) => r !== room),
    currentRoom: context.currentRoom === room ? LOBBY : context.currentRoom,
  };
}

/** What the sender of a /msg is told. */
export function privateAnswerLines(outcome: PrivateOutcome): string[] {
  switch (outcome.status) {
    case 'delivered':
      return [text.privateSent(outcome.to, outcome.text), ...(outcome.away === undefined ? [] : [text.awayReply(outcome.to, outcome.away)])];
    case 'left':
      return [text.privateLeft(outcome.to)];
    case 'full':
      return [text.privateMailboxFull(outcome.to, MAX_WAITING_MESSAGES)];
    case 'toSelf':
      return [text.privateToSelf];
    case 'unknown':
      return [text.noSuchUser(outcome.to)];
  }
}

/** The welcome, then the replayed history (none when replay is off). */
export function welcomeLines(login: string, registered: boolean, recent: readonly ChatMessage[] | undefined): string[] {
  const welcome = registered ? text.welcomeNew(login) : text.welcomeBack(login);
  return recent ? [welcome, ...historyLines(recent)] : [welcome];
}

/** The answer to a /join: where you are, the topic if there is one, the room's history. */
export function joinedRoomLines(room: string, members: number, topic: Topic | undefined, recent: readonly ChatMessage[] | undefined): string[] {
  return [
    text.joinedRoom(room, members),
    ...(topic ? [text.topicIs(room, topic.text, topic.by)] : []),
    ...(recent ? historyLines(recent) : []),
  ];
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
