/**
 * How the terminal client shows a server line: its UTC time stamp in the user's zone, and — at a
 * colour terminal — the sender in a colour of its own, your login in bold, mentions of you
 * highlighted, notices dimmed. Pure: "now" and the zone's offset are parameters, no `node:` import.
 *
 * Applied to text the client has already stripped of terminal controls, so every escape sequence
 * in the result is the client's own.
 */
import { loginKey } from './login-name.js';
import { text as serverText } from './protocol.js';

// ───────────────────────────── time stamps ─────────────────────────────

/** Minutes east of UTC at an instant: `localZone` (the process's zone, via Date) or `UTC_ZONE`. */
export type ZoneOffset = (at: Date) => number;

export const localZone: ZoneOffset = (at) => -at.getTimezoneOffset();
export const UTC_ZONE: ZoneOffset = () => 0;

/** A short `[HH:MM:SS]` stamp more than this far ahead of now is from yesterday (UTC). */
const FUTURE_SLACK_MS = 5 * 60_000;

const FULL_STAMP = /^\[(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\] /;
const SHORT_STAMP = /^\[(\d{2}):(\d{2}):(\d{2})\] /;

/** The instant a line's leading UTC stamp stands for, and the stamp's length; undefined without one. */
export function stampInstant(line: string, now: Date): { at: Date; length: number } | undefined {
  const full = FULL_STAMP.exec(line);
  if (full) {
    const [y, mo, d, h, mi, s] = full.slice(1).map(Number) as [number, number, number, number, number, number];
    if (!validClock(h, mi, s) || mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
    const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
    if (at.getUTCDate() !== d) return undefined; // 2024-02-31
    return { at, length: full[0].length };
  }
  const short = SHORT_STAMP.exec(line);
  if (short) {
    const [h, mi, s] = short.slice(1).map(Number) as [number, number, number];
    if (!validClock(h, mi, s)) return undefined;
    // An older server: a UTC time of the current UTC day — or of yesterday, if that is in the future.
    const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), h, mi, s));
    if (at.getTime() - now.getTime() > FUTURE_SLACK_MS) at.setUTCDate(at.getUTCDate() - 1);
    return { at, length: short[0].length };
  }
  return undefined;
}

function validClock(h: number, mi: number, s: number): boolean {
  return h <= 23 && mi <= 59 && s <= 59;
}

/** "2026-12-07" and "09:05:00" of an instant, `offset` minutes east of UTC. */
function wallClock(at: Date, offset: number): { date: string; time: string } {
  const iso = new Date(at.getTime() + offset * 60_000).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 19) };
}

/**
 * The line with its leading stamp (`[YYYY-MM-DD HH:MM:SS] ` or an older server's `[HH:MM:SS] `,
 * both UTC) rewritten in the zone: `[HH:MM:SS] ` when that is today there, the full date
 * otherwise. A line without such a stamp is returned as it is.
 */
export function localizeStamp(line: string, now: Date, zone: ZoneOffset): string {
  const stamp = stampInstant(line, now);
  if (!stamp) return line;
  const shown = wallClock(stamp.at, zone(stamp.at));
  const today = wallClock(now, zone(now)).date;
  const label = shown.date === today ? shown.time : `${shown.date} ${shown.time}`;
  return `[${label}] ${line.slice(stamp.length)}`;
}

// ───────────────────────────── what a line is ─────────────────────────────

const ANY_STAMP = /^\[(?:\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}:\d{2}\] /;
const LOGIN = '[\\p{L}\\p{M}\\p{Nd}_.-]+';
const ROOM = '#[A-Za-z0-9_-]{1,32}';
const PRIVATE = new RegExp(`^(\\(private\\) )(${LOGIN})(: )`, 'u');
const LOBBY_SAY = new RegExp(`^(${LOGIN})(: )`, 'u');
const ROOM_SAY = new RegExp(`^(${ROOM} <)(${LOGIN})(> )`, 'u');
const ACTION = new RegExp(`^((?:${ROOM} )?\\* )(${LOGIN})( )`, 'u');

/**
 * A chat line (a stamp, then a message, an action or a private message) split in three: what
 * comes before the sender (stamp, room, "* "), the sender, and the text after the separator.
 */
export interface ChatLineParts {
  before: string;
  sender: string;
  /** ": ", "> " or " ". */
  separator: string;
  text: string;
}

export function parseChatLine(line: string): ChatLineParts | undefined {
  const stamp = ANY_STAMP.exec(line)?.[0];
  if (stamp === undefined) return undefined;
  const rest = line.slice(stamp.length);
  for (const pattern of [PRIVATE, ROOM_SAY, ACTION]) {
    const m = pattern.exec(rest);
    if (m) return { before: stamp + m[1]!, sender: m[2]!, separator: m[3]!, text: rest.slice(m[0].length) };
  }
  const m = LOBBY_SAY.exec(rest);
  if (m) return { before: stamp, sender: m[1]!, separator: m[2]!, text: rest.slice(m[0].length) };
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whole-word, case-insensitive occurrences of `login` ("alice" in "@Alice, hi", not in "alice_2"). */
function mentionPattern(login: string): RegExp {
  return new RegExp(`(?<![\\p{L}\\p{M}\\p{Nd}_-])${escapeRegExp(login)}(?![\\p{L}\\p{M}\\p{Nd}_-])`, 'giu');
}

/** A chat line from someone other than `self` whose text names `self`: worth a bell. */
export function mentionsSelf(line: string, self: string | null): boolean {
  if (!self) return false;
  const chat = parseChatLine(line);
  if (!chat || loginKey(chat.sender) === loginKey(self)) return false;
  return mentionPattern(self).test(chat.text);
}

// ───────────────────────────── colours ─────────────────────────────

const SGR = (code: string) => `\x1b[${code}m`;
const RESET = SGR('0');
const BOLD = SGR('1');
const DIM = SGR('2');
const MENTION = SGR('1;7;33'); // bold, reverse, yellow
/** "* bob joined the chat", "#dev * bob left #dev", "--- last 20 messages ---": what the room says, not a person. */
const NOTICE = /^(?:#\S+ )?\* |^--- .* ---$/u;
/** Readable on dark and light backgrounds alike: green, yellow, magenta, cyan, bright red, bright blue. */
export const SENDER_COLOURS: readonly string[] = ['32', '33', '35', '36', '91', '94'];

/** The colour (an SGR code) of a login: the same for every spelling of it (FNV-1a of its `loginKey`). */
export function senderColour(login: string): string {
  let hash = 0x811c9dc5;
  for (const char of loginKey(login)) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return SENDER_COLOURS[hash % SENDER_COLOURS.length]!;
}

/**
 * The line in colour: a chat line's sender in its colour (you in bold), mentions of you in
 * others' text highlighted; the server's notices (joins, leaves, topics, the markers around a
 * replay) dimmed. Prompts, answers and errors stay as they are: they are what the user must read.
 */
export function colourLine(line: string, self: string | null): string {
  if (line === '') return line;
  const chat = parseChatLine(line);
  if (!chat) return NOTICE.test(line) ? `${DIM}${line}${RESET}` : line;
  const mine = self !== null && loginKey(chat.sender) === loginKey(self);
  const sender = mine ? `${BOLD}${chat.sender}${RESET}` : `${SGR(senderColour(chat.sender))}${chat.sender}${RESET}`;
  const text = !self || mine ? chat.text : chat.text.replace(mentionPattern(self), (m) => `${MENTION}${m}${RESET}`);
  return `${chat.before}${sender}${chat.separator}${text}`;
}

/** https://no-color.org: colour at a terminal unless NO_COLOR is set to anything but "". */
export function wantsColour(isTTY: boolean | undefined, noColor: string | undefined): boolean {
  return Boolean(isTTY) && (noColor === undefined || noColor === '');
}

// ───────────────────────────── who you are ─────────────────────────────

/** A regular expression for a `text` template's output, its arguments captured. */
export function templatePattern(template: (...args: string[]) => string, arity: number): RegExp {
  const marks = Array.from({ length: arity }, (_, i) => `\u0000${i}\u0000`);
  let source = escapeRegExp(template(...marks));
  for (const mark of marks) source = source.replace(mark, '(.+?)');
  return new RegExp(`^${source}$`, 'u');
}

const WELCOMES = [templatePattern(serverText.welcomeBack, 1), templatePattern(serverText.welcomeNew, 1)];

/** The login a server's welcome ("Welcome back, alice! …") names, or undefined. */
export function welcomedLogin(line: string): string | undefined {
  for (const pattern of WELCOMES) {
    const login = pattern.exec(line)?.[1];
    if (login !== undefined) return login;
  }
  return undefined;
}
