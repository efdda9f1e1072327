/**
 * Signing in: the login prompt, the password (or a registration: a new password, repeated), the
 * login timeout — until the login is claimed among those online and the chat session begins
 * (chat-session.ts). States tagged `input` wait for a line from the client; `secret` ones must
 * never show what is typed (the terminal client hides it, the inspector redacts it).
 */
import { assign } from 'xstate';
import { connectionSetup, promptAgain, quitAtPrompt, sayThen, serviceFailed, typedPassword, unavailableAskAgain } from './connection-setup.js';
import { loginNameProblem, normalizeLogin, text } from './protocol.js';

/** `/quit` (or `/exit`) at any prompt of the sign-in: Bye, not a login or a password. */
const quit = quitAtPrompt('login.quit');
/** A service failed before the chat: the apology, and the connection closes — unless the cluster's store was away (ask again). */
const failed = [unavailableAskAgain, serviceFailed('#connection.closed', text.serviceFailed)];

export const signInState = connectionSetup.createStateConfig({
  initial: 'awaitingLogin',
  entry: { type: 'send', params: { lines: [text.greeting] } },
  invoke: { id: 'loginTimer', src: 'loginTimer', input: ({ context }) => ({ ms: context.loginTimeoutMs }) },
  on: {
    'timer.loginExpired': sayThen('closed', text.loginTimeout, 'login.timedOut'),
  },
  states: {
    awaitingLogin: {
      tags: ['input'],
      entry: [
        assign({ login: undefined, wrongPasswords: 0, pendingPassword: undefined, registered: false }),
        { type: 'send', params: { lines: [text.loginPrompt] } },
      ],
      on: {
        'client.lineTooLong': promptAgain(() => text.loginPrompt),
        'client.line': [
          quit,
          {
            guard: 'isValidLoginName',
            target: 'checkingLogin',
            // Kept in NFC, as it is registered and shown: the same name typed in NFD is the same login.
            actions: assign({ login: ({ event }) => normalizeLogin(event.text.trim()) }),
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
        onError: failed,
      },
    },
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
          { guard: { type: 'isPasswordCorrect', params: ({ event }) => ({ verified: event.output }) }, target: 'joining' },
          { guard: 'isLastAttempt', ...sayThen('#connection.closed', text.tooManyWrongPasswords, 'login.locked') },
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
        onError: failed,
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
            'client.lineTooLong': promptAgain((context) => text.newPasswordPrompt(context.minPasswordLength)),
            'client.line': [
              quit,
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
            'client.lineTooLong': promptAgain(() => text.repeatPrompt),
            'client.line': [
              quit,
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
                // It looks like a registered login (UTS #39): the reason, then the prompt again.
                guard: { type: 'isConfusable', params: ({ event }) => ({ outcome: event.output }) },
                target: '#connection.authenticating.awaitingLogin',
                actions: [
                  { type: 'send', params: ({ context }) => ({ lines: [text.loginLooksTaken(context.login!)] }) },
                  { type: 'log', params: { entry: 'registration.confusable' } },
                ],
              },
              {
                // Another registration of the same login won the race.
                target: '#connection.authenticating.awaitingLogin',
                actions: [
                  { type: 'send', params: ({ context }) => ({ lines: [text.loginTaken(context.login!)] }) },
                  { type: 'log', params: { entry: 'registration.raced' } },
                ],
              },
            ],
            onError: [unavailableAskAgain, serviceFailed('#connection.authenticating.awaitingLogin', text.registrationFailed, 'registration.failed')],
          },
        },
      },
    },
    joining: {
      invoke: {
        id: 'joinChat',
        src: 'joinChat',
        input: ({ context }) => ({ login: context.login! }),
        onDone: [
          {
            guard: { type: 'hasJoined', params: ({ event }) => ({ result: event.output }) },
            target: '#connection.chatting',
            actions: { type: 'log', params: { entry: 'login.succeeded' } },
          },
          {
            target: 'awaitingLogin',
            actions: [
              { type: 'send', params: ({ context }) => ({ lines: [text.alreadyOnline(context.login!)] }) },
              { type: 'log', params: { entry: 'login.refusedOnline' } },
            ],
          },
        ],
        onError: failed,
      },
    },
  },
});
