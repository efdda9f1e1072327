/**
 * The chat protocol's vocabulary: what a valid login is, what the server says, how a chat line
 * is shown. Pure functions and constants — shared by the connection machine (which decides what
 * to say) and the actors (which deliver broadcasts without a machine transition per recipient).
 * docs/PROTOCOL.md documents the same rules for people.
 */

/** One chat message as stored in history and replayed on login. */
export interface ChatMessage {
  /** ISO 8601 timestamp, set by the server when the message was accepted. */
  readonly at: string;
  readonly login: string;
  readonly text: string;
}

/** The room everyone signs in to; a user who never types a room command sees only this one. */
export const LOBBY = '#lobby';

export const ROOM_PATTERN = /^#[A-Za-z0-9_-]{1,32}$/;

/** Why a room name is refused, or undefined when it is valid. */
export function roomNameProblem(name: string): string | undefined {
  return ROOM_PATTERN.test(name)
    ? undefined
    : 'A room name is "#" then 1 to 32 letters, digits, "-" or "_" (for example #dev).';
}

/** Room names are case-insensitive: this is how every registry, store and line spells them. */
export function roomKey(name: string): string {
  return name.toLowerCase();
}

export const LOGIN_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;

/** Why a login name is refused, or undefined when it is valid. */
export function loginNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'A login cannot be empty.';
  if (name.length > 32) return 'A login is at most 32 characters.';
  if (!LOGIN_PATTERN.test(name)) return 'A login may contain only letters, digits, "_", "-" and ".".';
  return undefined;
}

/** Logins are unique case-insensitively: this is the key every registry and store uses. */
export function loginKey(login: string): string {
  return login.toLowerCase();
}

/**
 * What must never reach a terminal from another user: C0 controls but TAB (ESC above all, also
 * CR, which would overwrite the start of the line, and BEL), DEL, C1 controls (U+009B is a
 * one-character CSI to some terminals), the line and paragraph separators, and the bidi
 * embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder what follows
 * them so that a line reads differently from what was sent. The bidi marks (U+200E, U+200F,
 * U+061C) reorder nothing beyond themselves and stay, for right-to-left text.
 */
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000A-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g;

/**
 * Strips (never escapes) those characters: the printable rest of an escape sequence ("[2J") stays
 * as inert text. The one function for every user's text shown to others (and for the terminal
 * client's display of whatever a server sends): chat text, /msg text, history on replay — and
 * room topics when they come.
 */
export function stripTerminalControls(text: string): string {
  return text.replace(TERMINAL_CONTROLS, '');
}

/** Chat text as stored and delivered: without terminal controls, and trimmed. Tab is kept. */
export function sanitizeChatText(text: string): string {
  return stripTerminalControls(text).trim();
}

/** "12:34:56" (UTC) from an ISO timestamp: short enough for a chat line, exact in history. */
export function clockTime(iso: string): string {
  return iso.slice(11, 19);
}

/** How a chat message appears to the people who receive it. */
export function formatChatLine(message: ChatMessage): string {
  return `[${clockTime(message.at)}] ${message.login}: ${message.text}`;
}

/** How a replayed history message appears: the full date, since it may be days old. */
export function formatHistoryLine(message: ChatMessage): string {
  // history.csv may hold rows written before a control was stripped, or by hand: cleaned here too.
  const login = stripTerminalControls(message.login);
  return `[${message.at.slice(0, 10)} ${clockTime(message.at)}] ${login}: ${sanitizeChatText(message.text)}`;
}

export function formatPrivateLine(at: string, from: string, text: string): string {
  return `[${clockTime(at)}] (private) ${from}: ${text}`;
}

export const text = {
  greeting: 'statechat — type your login to sign in, or a new one to register.',
  loginPrompt: 'Enter your login:',
  passwordPrompt: 'Password:',
  newPasswordPrompt: (min: number) => `Choose a password (at least ${min} characters):`,
  repeatPrompt: 'Repeat the password:',
  wrongPassword: (left: number) =>
    `Wrong password. ${left} ${left === 1 ? 'attempt' : 'attempts'} left.`,
  tooManyWrongPasswords: 'Too many wrong passwords. Disconnecting.',
  passwordTooShort: (min: number) => `That password is too short: at least ${min} characters.`,
  passwordsDiffer: 'The passwords do not match. Start again.',
  alreadyOnline: (login: string) =>
    `${login} is already logged in from another connection. Choose another login.`,
  loginTaken: (login: string) => `${login} was registered by someone else just now. Choose another login.`,
  registrationFailed: 'Registration failed: the server could not save it. Try again later.',
  serviceFailed: 'Sorry, the server hit an internal error. Disconnecting.',
  messageNotSaved: 'Your message could not be saved, so it was not delivered. Try again later.',
  welcomeBack: (login: string) => `Welcome back, ${login}! Type /help for commands.`,
  welcomeNew: (login: string) => `Welcome, ${login}! You are registered. Type /help for commands.`,
  historyHeader: (n: number) => `--- last ${n} ${n === 1 ? 'message' : 'messages'} ---`,
  historyFooter: '--- end of history ---',
  noHistory: '--- no messages yet ---',
  historyUnavailable: 'History is unavailable right now.',
  joined: (login: string) => `* ${login} joined the chat`,
  left: (login: string) => `* ${login} left the chat`,
  loginTimeout: 'Login timed out. Disconnecting.',
  lineTooLong: (max: number) => `Line too long (the limit is ${max} bytes); it was ignored.`,
  tooFast: (perSecond: number) =>
    `Slow down: at most ${perSecond} ${perSecond === 1 ? 'line' : 'lines'} a second. Your lines wait their turn.`,
  flooding: (perSecond: number, seconds: number) =>
    `Flooding: you kept sending faster than ${perSecond} ${perSecond === 1 ? 'line' : 'lines'} a second for ${seconds} s. Disconnecting.`,
  unknownCommand: (cmd: string) => `Unknown command ${cmd}. Type /help for the list.`,
  msgUsage: 'Usage: /msg <login> <text>',
  historyUsage: 'Usage: /history [n] (n from 1 to 100)',
  bye: 'Bye!',
  kicked: 'You were disconnected by the server operator.',
  shuttingDown: 'The server is shutting down. Bye!',
  serverBusy: 'Server busy, try again later.',
  help: [
    'Commands:',
    '  /who              who is online',
    '  /history [n]      the last n messages (default 20, at most 100)',
    '  /msg <login> <text>  a private message (not stored in history)',
    '  /quit             leave',
    '  /help             this list',
    'Any other line is a message to everyone online.',
  ],
} as const;

/** A line typed while chatting, classified. */
export type ChatInput =
  | { kind: 'message'; text: string }
  | { kind: 'empty' }
  | { kind: 'who' }
  | { kind: 'history'; limit: number }
  | { kind: 'msg'; to: string; text: string }
  | { kind: 'quit' }
  | { kind: 'help' }
  | { kind: 'usage'; text: string }
  | { kind: 'unknown'; command: string };

export const MAX_HISTORY_REQUEST = 100;
export const DEFAULT_HISTORY_REQUEST = 20;

/** A command typed after a space is still a command: " /msg bob …" must never be broadcast. */
export function isCommandLine(line: string): boolean {
  return line.trimStart().startsWith('/');
}

/** A line that is a chat message to everyone: no command, and something left once cleaned. */
export function isChatMessageLine(line: string): boolean {
  return !isCommandLine(line) && sanitizeChatText(line) !== '';
}

export function parseChatInput(line: string, defaultHistory: number): ChatInput {
  if (!isCommandLine(line)) {
    const clean = sanitizeChatText(line);
    return clean ? { kind: 'message', text: clean } : { kind: 'empty' };
  }
  const [command = '', ...rest] = line.trim().split(/\s+/);
  const args = rest.join(' ');
  switch (command.toLowerCase()) {
    case '/who':
      return { kind: 'who' };
    case '/quit':
    case '/exit':
      return { kind: 'quit' };
    case '/help':
    case '/?':
      return { kind: 'help' };
    case '/history': {
      if (args === '') return { kind: 'history', limit: defaultHistory };
      const n = /^\d{1,3}$/.test(args) ? Number(args) : NaN;
      return n >= 1 && n <= MAX_HISTORY_REQUEST
        ? { kind: 'history', limit: n }
        : { kind: 'usage', text: text.historyUsage };
    }
    case '/msg': {
      // The name is echoed back in "No user named … is online.": cleaned like the text.
      const to = stripTerminalControls(rest[0] ?? '');
      // The text keeps its own spacing: everything after "/msg <login> ".
      const body = sanitizeChatText(line.trimStart().replace(/^\S+\s+\S+\s?/, ''));
      return to && body ? { kind: 'msg', to, text: body } : { kind: 'usage', text: text.msgUsage };
    }
    default:
      return { kind: 'unknown', command: sanitizeChatText(command).slice(0, 40) };
  }
}
