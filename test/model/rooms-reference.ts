/**
 * A reference model of rooms as a user sees them, written from the user-facing spec (not from
 * src/machines/): which login is in which room, which room is current for whom, each room's
 * topic and messages. Given one command typed by one client, it predicts the lines every client
 * receives. Nothing here imports the server: every string is written out, so a server string that
 * drifts from the spec fails the oracle.
 *
 * Predicted lines carry a tag: the room whose order they belong to (the server only promises
 * order per room), or `self` for the answers to the typist's own command (in the order typed).
 * Times cannot be predicted: a timed line — live or history, one stamp for both — starts with
 * `[time] `, and `normalize` puts received lines in that form (checking the stamp's format).
 */

export const LOBBY = '#lobby';
export const SELF = 'self';
export const PASSWORD = 'secret-password';

/**
 * One step a test run takes. `who` picks a signed-in client: online[who % online.length], or by
 * login (a hand-written scenario).
 */
export type Step =
  | { kind: 'register' }
  | { kind: 'join'; who: Who; room: string }
  | { kind: 'part'; who: Who; room?: string }
  | { kind: 'post'; who: Who; text: string }
  | { kind: 'me'; who: Who; text: string }
  | { kind: 'topicSet'; who: Who; text: string }
  | { kind: 'topicShow'; who: Who }
  | { kind: 'history'; who: Who; limit?: number }
  | { kind: 'quit'; who: Who };

export type Who = number | string;

export interface Delivery {
  tag: string;
  line: string;
}

export interface Prediction {
  /** Who acts ('' when the step was skipped: nobody online, or no room for a new client). */
  actor: string;
  /** The lines the actor types (for register: the login and the password twice). */
  typed: string[];
  /** What each login receives because of this step. */
  deliveries: Map<string, Delivery[]>;
  /** The actor's connection is closed after its lines (quit). */
  closes: boolean;
  /** A human-readable form for failure reports. */
  describe: string;
  /** Which case of the spec the step exercised (for coverage: `join:new-with-topic`, `part:not-member`, ...). */
  outcome: string;
}

const live = (line: string) => `[time] ${line}`;
/** A history line reads as it did live. */
const old = live;

/** Received line → the form predictions use: `[YYYY-MM-DD HH:MM:SS] ` → `[time] `. */
export function normalize(line: string): string {
  return line.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /, '[time] ');
}

/** A message's body as members see it, live or in history. */
export function body(room: string, login: string, message: string, action: boolean): string {
  const where = room === LOBBY ? '' : `${room} `;
  if (action) return `${where}* ${login} ${message}`;
  return room === LOBBY ? `${login}: ${message}` : `${where}<${login}> ${message}`;
}

const joinedNotice = (login: string, room: string) => (room === LOBBY ? `* ${login} joined the chat` : `* ${login} joined ${room}`);
const leftNotice = (login: string, room: string) => (room === LOBBY ? `* ${login} left the chat` : `* ${login} left ${room}`);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const LOGINS = ['ann', 'bob', 'cyd', 'dee', 'eve'] as const;

export class RoomsModel {
  /** room → members, in join order. */
  readonly members = new Map<string, Set<string>>([[LOBBY, new Set()]]);
  /** login → its current room. */
  readonly current = new Map<string, string>();
  readonly topics = new Map<string, { text: string; by: string }>();
  /** room → every message posted to it, as its body. */
  readonly messages = new Map<string, string[]>();
  /** Signed in and not quit, in sign-in order. */
  readonly online: string[] = [];
  /** How many clients were ever signed in this run. */
  signedIn = 0;

  constructor(
    /** The server's --history: how many messages a join or a sign-in replays. */
    readonly replay: number,
    readonly maxClients = LOGINS.length,
  ) {}

  /** Which login a step's `who` means now ('' if nobody is online). */
  pick(who: Who): string {
    if (typeof who === 'string') return this.online.includes(who) ? who : '';
    return this.online.length === 0 ? '' : this.online[who % this.online.length]!;
  }

  /** A copy to try steps on. */
  clone(): RoomsModel {
    const copy = new RoomsModel(this.replay, this.maxClients);
    copy.members.clear();
    for (const [room, set] of this.members) copy.members.set(room, new Set(set));
    for (const [login, room] of this.current) copy.current.set(login, room);
    for (const [room, topic] of this.topics) copy.topics.set(room, { ...topic });
    for (const [room, list] of this.messages) copy.messages.set(room, [...list]);
    copy.online.push(...this.online);
    copy.signedIn = this.signedIn;
    return copy;
  }

  /** The answer to /history <limit> in a room, or the replay after a join or a sign-in. */
  historyBlock(room: string, limit: number): string[] {
    const all = this.messages.get(room) ?? [];
    const shown = limit <= 0 ? [] : all.slice(-limit);
    if (shown.length === 0) return ['--- no messages yet ---'];
    return [`--- last ${plural(shown.length, 'message')} ---`, ...shown.map(old), '--- end of history ---'];
  }

  /** Predicts a step and applies it to the model. */
  apply(step: Step): Prediction {
    const deliveries = new Map<string, Delivery[]>();
    const send = (login: string, tag: string, ...lines: string[]) => {
      const list = deliveries.get(login) ?? [];
      for (const line of lines) list.push({ tag, line });
      deliveries.set(login, list);
    };
    const others = (room: string, login: string) => [...(this.members.get(room) ?? [])].filter((m) => m !== login);
    const skipped = (why: string): Prediction => ({ actor: '', typed: [], deliveries, closes: false, describe: `(skipped ${step.kind}: ${why})`, outcome: 'skipped' });

    if (step.kind === 'register') {
      if (this.signedIn >= this.maxClients) return skipped('no more clients');
      const login = LOGINS[this.signedIn++]!;
      for (const other of others(LOBBY, login)) send(other, LOBBY, joinedNotice(login, LOBBY));
      send(login, SELF, `Welcome, ${login}! You are registered. Type /help for commands.`, ...this.historyBlock(LOBBY, this.replay));
      this.members.get(LOBBY)!.add(login);
      this.current.set(login, LOBBY);
      this.online.push(login);
      const outcome = (this.messages.get(LOBBY)?.length ?? 0) > this.replay ? 'register:history-cut' : 'register';
      return { actor: login, typed: [login, PASSWORD, PASSWORD], deliveries, closes: false, describe: `${login} registers`, outcome };
    }

    const login = this.pick(step.who);
    if (login === '') return skipped('nobody online');
    const here = this.current.get(login)!;
    let outcome: string = step.kind;
    const done = (typed: string, closes = false): Prediction => ({ actor: login, typed: [typed], deliveries, closes, describe: `${login}: ${typed}`, outcome });

    switch (step.kind) {
      case 'join': {
        const room = step.room.toLowerCase();
        const set = this.members.get(room);
        if (set?.has(login)) {
          outcome = room === LOBBY ? 'join:lobby' : 'join:again';
          send(login, SELF, `Lines you type now go to ${room}.`);
        } else {
          const joined = set ?? new Set<string>();
          this.members.set(room, joined);
          for (const other of joined) send(other, room, joinedNotice(login, room));
          joined.add(login);
          send(login, SELF, `You joined ${room} (${plural(joined.size, 'member')}). Lines you type now go to ${room}.`);
          const topic = this.topics.get(room);
          if (topic) send(login, SELF, `Topic of ${room}: ${topic.text} (set by ${topic.by})`);
          const posted = this.messages.get(room)?.length ?? 0;
          outcome = `join:${set ? 'existing' : 'new'}${topic ? '-with-topic' : ''}${posted > this.replay ? '-history-cut' : posted > 0 ? '-history' : ''}${joined.size > 1 ? '-others' : ''}`;
          send(login, SELF, ...this.historyBlock(room, this.replay));
        }
        this.current.set(login, room);
        return done(`/join ${step.room}`);
      }
      case 'part': {
        const room = step.room === undefined ? here : step.room.toLowerCase();
        const typed = step.room === undefined ? '/part' : `/part ${step.room}`;
        outcome = `part:${step.room === undefined ? 'current' : 'named'}`;
        if (room === LOBBY) {
          outcome += ':lobby';
          send(login, SELF, 'You cannot leave #lobby: it is where everyone is. /join another room to talk there.');
        } else if (!this.members.get(room)?.has(login)) {
          outcome += ':not-member';
          send(login, SELF, `You are not in ${room}.`);
        } else {
          this.members.get(room)!.delete(login);
          outcome += here === room ? ':left-current' : ':left-other';
          if (here === room) this.current.set(login, LOBBY);
          send(login, SELF, `You left ${room}. Lines you type now go to ${this.current.get(login)}.`);
          for (const other of others(room, login)) send(other, room, leftNotice(login, room));
        }
        return done(typed);
      }
      case 'post':
      case 'me': {
        const action = step.kind === 'me';
        const line = body(here, login, step.text, action);
        outcome = `${step.kind}:${here === LOBBY ? 'lobby' : 'room'}`;
        for (const other of others(here, login)) send(other, here, live(line));
        this.messages.set(here, [...(this.messages.get(here) ?? []), line]);
        return done(action ? `/me ${step.text}` : step.text);
      }
      case 'topicSet': {
        outcome = `topicSet:${here === LOBBY ? 'lobby' : 'room'}`;
        this.topics.set(here, { text: step.text, by: login });
        for (const member of this.members.get(here)!) send(member, here, `* ${login} set the topic of ${here}: ${step.text}`);
        return done(`/topic ${step.text}`);
      }
      case 'topicShow': {
        const topic = this.topics.get(here);
        outcome = `topicShow:${topic ? 'set' : 'none'}`;
        send(login, SELF, topic ? `Topic of ${here}: ${topic.text} (set by ${topic.by})` : `${here} has no topic. /topic <text> sets one.`);
        return done('/topic');
      }
      case 'history': {
        const limit = step.limit ?? 1;
        send(login, SELF, ...this.historyBlock(here, limit));
        return done(`/history ${limit}`);
      }
      case 'quit': {
        send(login, SELF, 'Bye!');
        outcome = [...this.members].some(([room, set]) => room !== LOBBY && set.has(login)) ? 'quit:in-rooms' : 'quit:lobby-only';
        for (const [room, set] of this.members) {
          if (!set.delete(login)) continue;
          for (const other of set) send(other, room, leftNotice(login, room));
        }
        this.current.delete(login);
        this.online.splice(this.online.indexOf(login), 1);
        return done('/quit', true);
      }
    }
  }
}

/**
 * Checks that `got` is an interleaving of the per-tag sequences of `expected`: the same lines,
 * each tag's lines in their order. Returns a problem, or undefined when it matches.
 */
export function matchInterleaving(expected: readonly Delivery[], got: readonly string[]): string | undefined {
  const queues = new Map<string, string[]>();
  for (const d of expected) queues.set(d.tag, [...(queues.get(d.tag) ?? []), d.line]);
  for (const [i, line] of got.entries()) {
    const queue = [...queues.values()].find((q) => q[0] === line);
    if (!queue) {
      const heads = [...queues].filter(([, q]) => q.length > 0).map(([tag, q]) => `${tag}: ${JSON.stringify(q[0])}`);
      return `line ${i + 1} ${JSON.stringify(line)} is not the next line of any room (next expected: ${heads.join('; ') || 'nothing'})`;
    }
    queue.shift();
  }
  const missing = [...queues.values()].flat();
  return missing.length > 0 ? `missing ${JSON.stringify(missing)}` : undefined;
}
