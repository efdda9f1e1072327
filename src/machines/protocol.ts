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
  /** The room it was posted to, as `roomKey` spells it ("#lobby"). */
  readonly room: string;
  readonly login: string;
  /** The text; an action (`/me waves`) is stored as "/me waves" — no chat message starts with "/". */
  readonly text: string;
}

/** A room's topic: what it is, who set it, when (ISO 8601). Kept across restarts. */
export interface Topic {
  readonly text: string;
  readonly by: string;
  readonly at: string;
}

/** The room everyone signs in to; a user who never types a room command sees only this one. */
export const LOBBY = '#lobby';

/** How many private messages may wait for a user offline; the sender of one more is told. */
export const MAX_WAITING_MESSAGES = 50;

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

/** The login rules (Unicode letters of one script, NFC, case folding) live in login-name.ts. */
export { LOGIN_PATTERN, loginKey, loginNameProblem, normalizeLogin } from './login-name.js';

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

/**
 * "[2024-05-01 12:34:56]" (UTC) from an ISO timestamp: the one stamp of every timed line — live,
 * private, replayed, /history, waiting messages — so a line reads the same however it arrives and
 * the terminal client can show it in local time (abbreviated to the time when it is today).
 */
export function timeStamp(iso: string): string {
  return `[${iso.slice(0, 10)} ${iso.slice(11, 19)}]`;
}

const ACTION_PREFIX = '/me ';

/** The text of a chat message as stored for `/me <action>`. */
export function actionMessageText(action: string): string {
  return ACTION_PREFIX + action;
}

/**
 * A message's body as shown: "alice: hi" in #lobby, "#dev <alice> hi" in any other room (a member
 * of several rooms must tell them apart), and "* alice waves" / "#dev * alice waves" for actions.
 */
function body(room: string, login: string, text: string): string {
  const where = room === LOBBY ? '' : `${room} `;
  if (text.startsWith(ACTION_PREFIX)) return `${where}* ${login} ${text.slice(ACTION_PREFIX.length)}`;
  return room === LOBBY ? `${login}: ${text}` : `${where}<${login}> ${text}`;
}

/** How a chat message appears to the people who receive it. */
export function formatChatLine(message: ChatMessage): string {
  return `${timeStamp(message.at)} ${body(message.room, message.login, message.text)}`;
}

/** How a replayed history message appears: as it did live, cleaned again. */
export function formatHistoryLine(message: ChatMessage): string {
  // history.csv may hold rows written before a control was stripped, or by hand: cleaned here too.
  const login = stripTerminalControls(message.login);
  return `${timeStamp(message.at)} ${body(message.room, login, sanitizeChatText(message.text))}`;
}

/** A notice of a room ("* alice joined #dev"), or of #lobby as it always read ("* alice joined the chat"). */
export function roomNotice(room: string, notice: string): string {
  return room === LOBBY ? `* ${notice}` : `${room} * ${notice}`;
}

export function formatPrivateLine(at: string, from: string, text: string): string {
  return `${timeStamp(at)} (private) ${from}: ${text}`;
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
  /** A registration whose login looks like one already registered (UTS #39 confusables). */
  loginLooksTaken: (login: string) => `${login} looks too much like an existing login. Choose another login.`,
  registrationFailed: 'Registration failed: the server could not save it. Try again later.',
  serviceFailed: 'Sorry, the server hit an internal error. Disconnecting.',
  messageNotSaved: 'Your message could not be saved, so it was not delivered. Try again later.',
  /** A cluster node whose Redis does not answer (docs/cluster.md): nothing was decided, the node retries by itself. */
  serviceUnavailable: 'The chat service is unavailable (its store does not answer); the server is retrying. Try again in a moment.',
  /** A cluster node that fell too far behind a room's stream (docs/cluster.md). */
  missedLines: (room: string, n: number) => `* ${n} ${n === 1 ? 'line' : 'lines'} of ${room} could not be shown here: this server fell behind`,
  signedOutByCluster: 'This server lost its place in the chat cluster, so you were signed out. Connect again to sign in (on any server of the cluster).',
  welcomeBack: (login: string) => `Welcome back, ${login}! Type /help for commands.`,
  welcomeNew: (login: string) => `Welcome, ${login}! You are registered. Type /help for commands.`,
  historyHeader: (n: number) => `--- last ${n} ${n === 1 ? 'message' : 'messages'} ---`,
  historyFooter: '--- end of history ---',
  noHistory: '--- no messages yet ---',
  historyUnavailable: 'History is unavailable right now.',
  joined: (login: string, room: string) => (room === LOBBY ? `* ${login} joined the chat` : `* ${login} joined ${room}`),
  left: (login: string, room: string) => (room === LOBBY ? `* ${login} left the chat` : `* ${login} left ${room}`),
  joinedRoom: (room: string, members: number) =>
    `You joined ${room} (${members} ${members === 1 ? 'member' : 'members'}). Lines you type now go to ${room}.`,
  nowTalkingIn: (room: string) => `Lines you type now go to ${room}.`,
  leftRoom: (room: string, current: string) => `You left ${room}. Lines you type now go to ${current}.`,
  notInRoom: (room: string) => `You are not in ${room}.`,
  cannotLeaveLobby: `You cannot leave ${LOBBY}: it is where everyone is. /join another room to talk there.`,
  tooManyRooms: (max: number) => `You are in ${max} rooms already, the most allowed. /part one first.`,
  roomClosed: (room: string) => `${room} was closed by the server operator.`,
  roomRestarted: (room: string) => `${room} had an internal error and was restarted; you are still in it.`,
  noSuchRoom: (room: string) => `There is no room ${room}.`,
  topicIs: (room: string, topic: string, by: string) => `Topic of ${room}: ${topic} (set by ${by})`,
  noTopic: (room: string) => `${room} has no topic. /topic <text> sets one.`,
  awaySet: (away: string) => `You are marked away: ${away}. /away alone marks you back.`,
  awayCleared: 'You are back: no longer marked away.',
  awayReply: (login: string, away: string) => `${login} is away: ${away}`,
  // /msg, and the messages left for a user offline.
  privateSent: (to: string, body: string) => `(private to ${to}) ${body}`,
  privateToSelf: 'That is you.',
  noSuchUser: (login: string) => `No user named ${login} is registered.`,
  privateLeft: (to: string) => `${to} is offline: your message will be delivered when they sign in.`,
  privateMailboxFull: (to: string, max: number) => `${to} is offline and has ${max} messages waiting already: yours was not stored.`,
  privateNotLeft: 'Your message could not be stored, so it was not sent.',
  waitingHeader: (n: number) => `--- ${n} private ${n === 1 ? 'message' : 'messages'} left while you were away ---`,
  waitingFooter: '--- end of private messages ---',
  roomUnavailable: (room: string) => `${room} is unavailable right now; try again.`,
  loginTimeout: 'Login timed out. Disconnecting.',
  lineTooLong: (max: number) => `Line too long (the limit is ${max} bytes); it was ignored.`,
  tooFast: (perSecond: number) =>
    `Slow down: at most ${perSecond} ${perSecond === 1 ? 'line' : 'lines'} a second. Your lines wait their turn.`,
  flooding: (perSecond: number, seconds: number) =>
    `Flooding: you kept sending faster than ${perSecond} ${perSecond === 1 ? 'line' : 'lines'} a second for ${seconds} s. Disconnecting.`,
  unknownCommand: (cmd: string) => `Unknown command ${cmd}. Type /help for the list.`,
  bye: 'Bye!',
  // /passwd and /deleteaccount. Every prompt for a password says "password" and ends with ":": the
  // terminal client hides the next line typed after such a prompt.
  currentPasswordPrompt: 'Current password:',
  nextPasswordPrompt: (min: number) => `New password (at least ${min} characters):`,
  repeatNextPasswordPrompt: 'Repeat the new password:',
  passwordChanged: 'Password changed.',
  wrongPasswordUnchanged: 'Wrong password; your password is unchanged.',
  newPasswordTooShort: (min: number) => `That password is too short: at least ${min} characters. Your password is unchanged.`,
  newPasswordsDiffer: 'The new passwords do not match. Your password is unchanged.',
  passwordChangeFailed: 'Your password could not be changed: the server could not save it. It is unchanged; try again later.',
  confirmLoginPrompt: 'Type your login again to confirm:',
  accountDeleted: 'Your account was deleted. Bye!',
  wrongPasswordAccountKept: 'Wrong password; your account is kept.',
  notYourLogin: 'That is not your login; your account is kept.',
  accountDeleteFailed: 'Your account could not be deleted: the server hit an error. It is kept; try again later.',
  kicked: 'You were disconnected by the server operator.',
  shuttingDown: 'The server is shutting down. Bye!',
  serverBusy: 'Server busy, try again later.',
} as const;

/**
 * The error code of a step a cluster node could not take because Redis did not answer
 * (src/actors/cluster-node.ts): the sign-in asks again instead of disconnecting.
 */
export const SERVICE_UNAVAILABLE = 'STATECHAT_ERR_UNAVAILABLE';

export function isServiceUnavailable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === SERVICE_UNAVAILABLE;
}
