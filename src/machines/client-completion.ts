/**
 * Tab completion for the terminal client: `/` at the start of the line completes a command name
 * (from the server's command table), `#` a room the client has seen, any other word a login it
 * has seen. What it has seen is learned from the server's lines, in two bounded sets. Pure: no
 * `node:` import; the terminal console hands `complete` to readline as its `completer`.
 */
import { CHAT_COMMANDS } from './commands.js';
import { parseChatLine, templatePattern } from './client-display.js';
import { loginKey } from './login-name.js';
import { roomKey, text as serverText } from './protocol.js';

/** Each set keeps at most this many names, forgetting the least recently seen first. */
export const MAX_SEEN_NAMES = 1_000;

const COMMAND_NAMES: readonly string[] = CHAT_COMMANDS.map((c) => c.name).sort();
const ROOM_TOKEN = /(?<![\p{L}\p{N}_#-])#[A-Za-z0-9_-]{1,32}(?![A-Za-z0-9_-])/gu;
const LOGIN_ITEM = /^([\p{L}\p{M}\p{Nd}_.-]+)(?: \(away: .*)?$/u;
const WHO = /^Online \(\d+\): (.+)$/u;
const NAMES = /^In #[A-Za-z0-9_-]{1,32} \(\d+\): (.+)$/u;
const NOTICES = [templatePattern(serverText.joined, 2), templatePattern(serverText.left, 2)];
const NOT_A_ROOM = [templatePattern(serverText.noSuchRoom, 1), templatePattern(serverText.notInRoom, 1)];
const ROOM_PREFIX = /^(#[A-Za-z0-9_-]{1,32}) /;

/** Names by key, in the order last seen; the oldest goes when the set is full. */
class BoundedNames {
  private readonly byKey = new Map<string, string>();

  constructor(
    private readonly key: (name: string) => string,
    private readonly max: number,
  ) {}

  add(name: string): void {
    const key = this.key(name);
    this.byKey.delete(key);
    this.byKey.set(key, name);
    if (this.byKey.size > this.max) this.byKey.delete(this.byKey.keys().next().value!);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The names starting with `prefix` (case-insensitive), spelt with the user's `prefix`, sorted. */
  completing(prefix: string): string[] {
    const lower = prefix.toLowerCase();
    const hits: string[] = [];
    for (const name of this.byKey.values()) {
      if (name.length >= prefix.length && name.slice(0, prefix.length).toLowerCase() === lower) {
        hits.push(prefix + name.slice(prefix.length));
      }
    }
    return hits.sort();
  }
}

export class SeenNames {
  readonly logins: BoundedNames;
  readonly rooms: BoundedNames;

  constructor(max = MAX_SEEN_NAMES) {
    this.logins = new BoundedNames(loginKey, max);
    this.rooms = new BoundedNames(roomKey, max);
  }

  /** Learn the logins and rooms a server line names (a chat line's sender, /who, /names, notices). */
  learn(line: string): void {
    const chat = parseChatLine(line);
    if (chat) {
      this.logins.add(chat.sender);
      // The room a message was posted to: "[…] #dev <alice> hi", "[…] #dev * alice waves".
      const room = ROOM_PREFIX.exec(chat.before.replace(/^\[[^\]]*\] /, ''))?.[1];
      if (room) this.rooms.add(roomKey(room));
      return; // the text is someone's words, not a list of names
    }
    const list = WHO.exec(line)?.[1] ?? NAMES.exec(line)?.[1];
    if (list !== undefined) {
      for (const item of list.split(', ')) {
        const login = LOGIN_ITEM.exec(item)?.[1];
        if (login) this.logins.add(login);
      }
    }
    for (const pattern of NOTICES) {
      const login = pattern.exec(line.replace(/^#[A-Za-z0-9_-]{1,32} (?=\* )/, ''))?.[1];
      if (login) this.logins.add(login);
    }
    if (NOT_A_ROOM.some((pattern) => pattern.test(line))) return;
    for (const room of line.match(ROOM_TOKEN) ?? []) this.rooms.add(roomKey(room));
  }

  /**
   * readline's completer: `[candidates, the word they complete]`. A single candidate gets a
   * trailing space, so Tab on "/jo" gives "/join ". An empty word completes nothing.
   */
  complete(lineBeforeCursor: string): [string[], string] {
    const word = /\S*$/.exec(lineBeforeCursor)![0];
    if (word === '') return [[], ''];
    const atStart = word.length === lineBeforeCursor.length;
    let hits: string[];
    if (atStart && word.startsWith('/')) hits = COMMAND_NAMES.filter((name) => name.startsWith(word.toLowerCase())).map((n) => word + n.slice(word.length));
    else if (word.startsWith('#')) hits = this.rooms.completing(word);
    else hits = this.logins.completing(word);
    return [hits.length === 1 ? [`${hits[0]} `] : hits, word];
  }
}
