/**
 * The chat commands, as one table: name, arguments, help text, and the event a typed command
 * becomes. Parsing, `/help` and dispatch all come from it — the chat-session machine
 * (chat-session.ts) handles the `command.*` events as transitions, so there is no second switch
 * and no guard parses a line again. A new command is a row here and a transition there.
 */
import { LOBBY, roomKey, ROOM_PATTERN, sanitizeChatText, stripTerminalControls } from './protocol.js';

export const MAX_HISTORY_REQUEST = 100;
export const DEFAULT_HISTORY_REQUEST = 20;
/** An away message longer than this is cut: it is repeated in every /who. */
export const MAX_AWAY_CHARS = 100;

/** What a typed command becomes: an event of the chat-session machine. */
export type CommandEvent =
  | { type: 'command.who' }
  /** `text` undefined: back (no longer away). */
  | { type: 'command.away'; text: string | undefined }
  | { type: 'command.msg'; to: string; text: string }
  | { type: 'command.me'; text: string }
  | { type: 'command.join'; room: string }
  | { type: 'command.part'; room: string | undefined }
  | { type: 'command.rooms' }
  | { type: 'command.names'; room: string | undefined }
  | { type: 'command.topic'; text: string | undefined }
  | { type: 'command.history'; limit: number | undefined }
  | { type: 'command.help' }
  /** `/passwd`: asks the current password, then a new one twice. */
  | { type: 'command.passwd' }
  /** `/deleteaccount`: asks the password and the login again, then deletes the account and leaves. */
  | { type: 'command.deleteAccount' }
  | { type: 'command.quit' }
  /** A known command with arguments it does not take: its usage line is the answer. */
  | { type: 'command.usage'; usage: string }
  | { type: 'command.unknown'; command: string };

export interface ChatCommand {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** As shown in usage and help: "<login> <text>", "[#room]". */
  readonly args: string;
  readonly help: string;
  /** Said after the usage line when the arguments are wrong: what they must be. */
  readonly usageNote?: string;
  /**
   * The event for this command, from what follows its name (`rest`, trimmed; `raw` keeps the
   * user's spacing) — or undefined when the arguments are wrong (the usage line is then sent).
   */
  readonly parse: (rest: string, raw: string) => CommandEvent | undefined;
}

const ROOM_NOTE = '— a room is "#" then 1 to 32 letters, digits, "-" or "_"';
const HIDDEN_NOTE = '— no arguments: the password is asked for, hidden';

/** "#Dev" → "#dev"; undefined for anything that is not a room name. */
function roomArg(word: string): string | undefined {
  return ROOM_PATTERN.test(word) ? roomKey(word) : undefined;
}

/** One optional room name, nothing else. */
function optionalRoom(rest: string): { room: string | undefined } | undefined {
  if (rest === '') return { room: undefined };
  const room = roomArg(rest);
  return room ? { room } : undefined;
}

export const CHAT_COMMANDS: readonly ChatCommand[] = [
  {
    name: '/join',
    args: '#room',
    usageNote: ROOM_NOTE,
    help: 'join a room (made if new) and talk there',
    parse: (rest) => {
      const room = roomArg(rest);
      return room ? { type: 'command.join', room } : undefined;
    },
  },
  {
    name: '/part',
    args: '[#room]',
    usageNote: ROOM_NOTE,
    help: 'leave a room (the current one by default)',
    parse: (rest) => {
      const arg = optionalRoom(rest);
      return arg && { type: 'command.part', room: arg.room };
    },
  },
  { name: '/rooms', args: '', help: 'the rooms, their members and topics', parse: (rest) => (rest ? undefined : { type: 'command.rooms' }) },
  {
    name: '/names',
    args: '[#room]',
    usageNote: ROOM_NOTE,
    help: "who is in a room (the current one by default)",
    parse: (rest) => {
      const arg = optionalRoom(rest);
      return arg && { type: 'command.names', room: arg.room };
    },
  },
  {
    name: '/topic',
    args: '[text]',
    help: "show the current room's topic, or set it",
    parse: (_rest, raw) => {
      const topic = sanitizeChatText(raw);
      return { type: 'command.topic', text: topic === '' ? undefined : topic };
    },
  },
  {
    name: '/me',
    args: '<action>',
    help: 'an action line: "/me waves" shows "* you waves"',
    parse: (_rest, raw) => {
      const action = sanitizeChatText(raw);
      return action ? { type: 'command.me', text: action } : undefined;
    },
  },
  {
    name: '/msg',
    args: '<login> <text>',
    help: 'a private message (kept until they sign in if they are offline)',
    parse: (_rest, raw) => {
      const [to = '', ...words] = raw.trimStart().split(/(\s+)/);
      // The name is echoed back in "No user named … is online.": cleaned like the text.
      const login = stripTerminalControls(to);
      // The text keeps its own spacing: everything after "<login> ".
      const body = sanitizeChatText(words.join('').replace(/^\s/, ''));
      return login && body ? { type: 'command.msg', to: login, text: body } : undefined;
    },
  },
  { name: '/who', args: '', help: 'who is online, in any room', parse: () => ({ type: 'command.who' }) },
  {
    name: '/away',
    args: '[text]',
    help: 'mark yourself away (shown in /who, /names, told to /msg); alone: back',
    parse: (_rest, raw) => {
      const away = sanitizeChatText(raw).slice(0, MAX_AWAY_CHARS);
      return { type: 'command.away', text: away === '' ? undefined : away };
    },
  },
  {
    name: '/history',
    args: '[n]',
    usageNote: `(n from 1 to ${MAX_HISTORY_REQUEST})`,
    help: `the current room's last n messages (default 20, at most ${MAX_HISTORY_REQUEST})`,
    parse: (rest) => {
      if (rest === '') return { type: 'command.history', limit: undefined };
      const n = /^\d{1,3}$/.test(rest) ? Number(rest) : NaN;
      return n >= 1 && n <= MAX_HISTORY_REQUEST ? { type: 'command.history', limit: n } : undefined;
    },
  },
  // No arguments: a password typed after the command would be shown, broadcast-free but unhidden.
  {
    name: '/passwd',
    args: '',
    help: 'change your password',
    usageNote: HIDDEN_NOTE,
    parse: (rest) => (rest ? undefined : { type: 'command.passwd' }),
  },
  {
    name: '/deleteaccount',
    args: '',
    help: 'delete your account (asks your password and login first); history stays',
    usageNote: HIDDEN_NOTE,
    parse: (rest) => (rest ? undefined : { type: 'command.deleteAccount' }),
  },
  { name: '/help', aliases: ['/?'], args: '', help: 'this list', parse: () => ({ type: 'command.help' }) },
  { name: '/quit', aliases: ['/exit'], args: '', help: 'leave', parse: () => ({ type: 'command.quit' }) },
];

const BY_NAME = new Map<string, ChatCommand>();
for (const command of CHAT_COMMANDS) {
  for (const name of [command.name, ...(command.aliases ?? [])]) BY_NAME.set(name, command);
}

export function usageOf(command: ChatCommand): string {
  const base = `Usage: ${command.name}${command.args ? ` ${command.args}` : ''}`;
  return command.usageNote ? `${base} ${command.usageNote}` : base;
}

/** The usage line of a command by name ("/history"). */
export function usageFor(name: string): string {
  const command = BY_NAME.get(name);
  if (!command) throw new Error(`no command ${name}`);
  return usageOf(command);
}

/** `/help`: every command, its arguments and what it does, in aligned columns. */
export const HELP_LINES: readonly string[] = (() => {
  const rows = CHAT_COMMANDS.map((c) => [`${c.name}${c.args ? ` ${c.args}` : ''}`, c.help] as const);
  const width = Math.max(...rows.map(([usage]) => usage.length)) + 2;
  return [
    'Commands:',
    ...rows.map(([usage, help]) => `  ${usage.padEnd(width)}${help}`),
    `Any other line is a message to the current room (you start in ${LOBBY}).`,
  ];
})();

/** A command typed after a space is still a command: " /msg bob …" must never be broadcast. */
export function isCommandLine(line: string): boolean {
  return line.trimStart().startsWith('/');
}

/** A line that is a chat message: no command, and something left once cleaned. */
export function isChatMessageLine(line: string): boolean {
  return !isCommandLine(line) && sanitizeChatText(line) !== '';
}

/** The event for a command line (one `isCommandLine` accepts). */
export function parseCommand(line: string): CommandEvent {
  const trimmed = line.trim();
  const name = trimmed.split(/\s/, 1)[0]!;
  const command = BY_NAME.get(name.toLowerCase());
  if (!command) return { type: 'command.unknown', command: sanitizeChatText(name).slice(0, 40) };
  const raw = line.trimStart().slice(name.length).replace(/^\s/, '');
  const rest = raw.trim().replace(/\s+/g, ' ');
  return command.parse(rest, raw) ?? { type: 'command.usage', usage: usageOf(command) };
}
