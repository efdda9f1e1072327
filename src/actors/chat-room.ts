/**
 * Presence and broadcast routing: who is online, and delivering one encoded line to many.
 * The local room is a Map and an array updated in place (never copied per join: 10,000 logins
 * stay linear). The interface is what a shared backend (pub/sub across several servers) would
 * have to implement; there is none yet.
 */
import { loginKey } from '../machines/protocol.js';
import { encodeLines, LINE_END } from './client-link.js';

export interface ChatMember {
  readonly connectionId: string;
  readonly login: string;
  deliver(bytes: Buffer): void;
  /** Asks the member's connection actor to leave (the operator's `kick`). */
  kick(): void;
}

export interface ChatRoom {
  /** Adds a member; false when the login (case-insensitive) is already online. */
  join(member: ChatMember): boolean;
  /** Removes a member if it is the one online under its login. Safe to call twice. */
  leave(member: ChatMember): boolean;
  isOnline(login: string): boolean;
  find(login: string): ChatMember | undefined;
  logins(): string[];
  readonly size: number;
  /** Encodes `line` once and delivers it to every member but `except`. Returns the recipients. */
  broadcast(line: string, except?: ChatMember): number;
  /**
   * Several lines in one buffer to every member, as if broadcast one after the other: a member
   * that is the `except` of a line gets only the lines after it (it joined with that line).
   */
  broadcastAll(lines: readonly { line: string; except?: ChatMember }[]): number;
}

export class LocalChatRoom implements ChatRoom {
  /** Members by login key (presence), and… */
  private readonly members = new Map<string, ChatMember>();
  /**
   * …the same members in an array, for broadcasting: iterating an array is several times cheaper
   * than a Map's iterator, and a broadcast to 1,000 members is the hottest loop of the server.
   * A member leaves by swapping the last one into its place (order does not matter to anyone).
   */
  private readonly everyone: ChatMember[] = [];
  private readonly slotOf = new Map<ChatMember, number>();

  join(member: ChatMember): boolean {
    const key = loginKey(member.login);
    if (this.members.has(key)) return false;
    this.members.set(key, member);
    this.slotOf.set(member, this.everyone.length);
    this.everyone.push(member);
    return true;
  }

  leave(member: ChatMember): boolean {
    const key = loginKey(member.login);
    if (this.members.get(key) !== member) return false;
    this.members.delete(key);
    const slot = this.slotOf.get(member)!;
    const last = this.everyone.pop()!;
    if (last !== member) {
      this.everyone[slot] = last;
      this.slotOf.set(last, slot);
    }
    this.slotOf.delete(member);
    return true;
  }

  isOnline(login: string): boolean {
    return this.members.has(loginKey(login));
  }

  find(login: string): ChatMember | undefined {
    return this.members.get(loginKey(login));
  }

  logins(): string[] {
    return [...this.members.values()].map((m) => m.login).sort((a, b) => a.localeCompare(b));
  }

  get size(): number {
    return this.members.size;
  }

  broadcastAll(lines: readonly { line: string; except?: ChatMember }[]): number {
    if (lines.length === 1) return this.broadcast(lines[0].line, lines[0].except);
    const bytes = encodeLines(lines.map((l) => l.line));
    /** For a member named as `except`: where the lines after its own start. */
    const after = new Map<ChatMember, number>();
    let end = 0;
    for (const { line, except } of lines) {
      end += Buffer.byteLength(line, 'utf8') + LINE_END.length;
      if (except) after.set(except, end);
    }
    let recipients = 0;
    for (const member of this.everyone) {
      const from = after.size > 0 ? after.get(member) : undefined;
      if (from === undefined) member.deliver(bytes);
      else if (from < bytes.length) member.deliver(bytes.subarray(from));
      else continue;
      recipients++;
    }
    return recipients;
  }

  broadcast(line: string, except?: ChatMember): number {
    const bytes = encodeLines([line]);
    const { everyone } = this;
    let recipients = 0;
    for (let i = 0; i < everyone.length; i++) {
      const member = everyone[i]!;
      if (member === except) continue;
      member.deliver(bytes);
      recipients++;
    }
    return recipients;
  }
}
