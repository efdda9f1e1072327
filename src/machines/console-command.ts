/**
 * The operator's console language: one command per line, whitespace-tolerant and
 * case-insensitive, parsed into the supervisor's `console.*` events. Pure, so the table of
 * what the console accepts is tested without a terminal.
 */
import { roomKey, ROOM_PATTERN } from './protocol.js';

export type ConsoleEvent =
  | { type: 'console.shutdown' }
  | { type: 'console.stopListen' }
  | { type: 'console.startListen' }
  | { type: 'console.stopLog' }
  | { type: 'console.startLog' }
  | { type: 'console.clearLog' }
  | { type: 'console.clearFile' }
  | { type: 'console.help' }
  | { type: 'console.status' }
  | { type: 'console.who' }
  | { type: 'console.kick'; login: string }
  /** `room` undefined: everyone online (all are in #lobby). */
  | { type: 'console.say'; room: string | undefined; text: string }
  | { type: 'console.rooms' }
  | { type: 'console.close'; room: string }
  /** A known command with arguments it does not take: its usage line is the answer. */
  | { type: 'console.usage'; usage: string; chatOnly: boolean }
  | { type: 'console.unknown'; input: string };

/** Commands with no argument, keyed by their words joined with one space, lower-cased. */
const SIMPLE_COMMANDS: Record<string, ConsoleEvent> = {
  shutdown: { type: 'console.shutdown' },
  'stop listen': { type: 'console.stopListen' },
  'start listen': { type: 'console.startListen' },
  'stop log': { type: 'console.stopLog' },
  'start log': { type: 'console.startLog' },
  'clear log': { type: 'console.clearLog' },
  'clear file': { type: 'console.clearFile' },
  help: { type: 'console.help' },
  '?': { type: 'console.help' },
  status: { type: 'console.status' },
  who: { type: 'console.who' },
  rooms: { type: 'console.rooms' },
};

/** The console's help text; `chat` marks commands only the chat server has. */
export const CONSOLE_HELP: ReadonlyArray<{ usage: string; what: string; chat?: true }> = [
  { usage: 'shutdown', what: 'tell every client, flush history, close everything, exit' },
  { usage: 'stop listen', what: 'hold new connections (they wait, unserved)' },
  { usage: 'start listen', what: 'serve every waiting connection, then accept again' },
  { usage: 'stop log', what: 'stop showing log lines here (the log file keeps them)' },
  { usage: 'start log', what: 'show log lines here again' },
  { usage: 'clear log', what: 'empty the log file and clear this screen' },
  { usage: 'clear file', what: 'empty clients.csv and offline.csv: every registration and waiting message is forgotten', chat: true },
  { usage: 'status', what: 'listener state, connections, users online' },
  { usage: 'who', what: 'list the users online', chat: true },
  { usage: 'kick <login>', what: 'disconnect a user', chat: true },
  { usage: 'say <text>', what: 'send a server message to everyone online', chat: true },
  { usage: 'say #room <text>', what: 'send a server message to one room', chat: true },
  { usage: 'rooms', what: 'the rooms, their members and topics', chat: true },
  { usage: 'close #room', what: 'close a room: its members are told and moved to #lobby', chat: true },
  { usage: 'help', what: 'this list' },
];

/** "Usage: …" for each command that takes arguments, by its verb (from the help, so they agree). */
const USAGES = new Map<string, { usage: string; chatOnly: boolean }>();
for (const { usage, chat } of CONSOLE_HELP) {
  const [verb, ...args] = usage.split(' ');
  if (args.length === 0 || SIMPLE_COMMANDS[usage]) continue;
  const known = USAGES.get(verb!);
  USAGES.set(verb!, { usage: known ? `${known.usage} | ${usage}` : `Usage: ${usage}`, chatOnly: chat === true });
}

/** Parses one console line; undefined for a blank line (nothing to do). */
export function parseConsoleLine(line: string): ConsoleEvent | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  const words = trimmed.split(/\s+/);
  const simple = SIMPLE_COMMANDS[words.map((w) => w.toLowerCase()).join(' ')];
  if (simple) return simple;
  const verb = words[0]!.toLowerCase();
  if (verb === 'kick' && words.length === 2) return { type: 'console.kick', login: words[1]! };
  if (verb === 'close' && words.length === 2 && ROOM_PATTERN.test(words[1]!)) return { type: 'console.close', room: roomKey(words[1]!) };
  if (verb === 'say' && words.length >= 2) {
    // Keep the operator's own spacing inside the message.
    const rest = trimmed.slice(trimmed.search(/\s/)).trim();
    const [first = ''] = rest.split(/\s/, 1);
    if (!ROOM_PATTERN.test(first)) return { type: 'console.say', room: undefined, text: rest };
    // "say #dev" alone says nothing to anyone (its usage, below), not "#dev" to everyone.
    if (words.length >= 3) return { type: 'console.say', room: roomKey(first), text: rest.slice(first.length).trim() };
  }
  // A command the console knows, with the wrong arguments: its usage, not "unknown command".
  const usage = USAGES.get(verb);
  if (usage) return { type: 'console.usage', ...usage };
  return { type: 'console.unknown', input: trimmed };
}
