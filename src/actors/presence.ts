/**
 * Who is online: one entry per signed-in login (case-insensitive), claimed synchronously when a
 * password or a registration is accepted, so no login is ever signed in twice. A plain Map
 * updated in place — 10,000 sign-ins stay linear — read by /who, /msg and the console's who,
 * kick and status. Rooms keep their own members (room-actor.ts); this is the server's.
 */
import type { AnyActorRef } from 'xstate';
import { loginKey } from '../machines/protocol.js';

export interface OnlineUser {
  readonly connectionId: string;
  readonly login: string;
  /** The user's connection actor. */
  readonly session: AnyActorRef;
  readonly link: { deliver(bytes: Buffer): void };
  /** The user's away message, if marked away (/away). */
  readonly away?: string | undefined;
}

/** A login as /who and /names list it: "bob (away: lunch)" when marked away. */
export function listedLogin(user: { readonly login: string; readonly away?: string | undefined }): string {
  return user.away === undefined ? user.login : `${user.login} (away: ${user.away})`;
}

export class Presence {
  private readonly byKey = new Map<string, OnlineUser>();

  /** False when the login is online already. */
  claim(user: OnlineUser): boolean {
    const key = loginKey(user.login);
    if (this.byKey.has(key)) return false;
    this.byKey.set(key, user);
    return true;
  }

  /** Only the user that claimed it releases a login. Safe to call twice. */
  release(user: OnlineUser): void {
    const key = loginKey(user.login);
    if (this.byKey.get(key) === user) this.byKey.delete(key);
  }

  isOnline(login: string): boolean {
    return this.byKey.has(loginKey(login));
  }

  find(login: string): OnlineUser | undefined {
    return this.byKey.get(loginKey(login));
  }

  /** Every login online, sorted, as /who lists them (with an away message). */
  logins(): string[] {
    return [...this.byKey.values()]
      .sort((a, b) => a.login.localeCompare(b.login))
      .map(listedLogin);
  }

  get size(): number {
    return this.byKey.size;
  }
}
