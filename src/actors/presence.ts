/**
 * Who is online: one entry per signed-in login (case-insensitive), claimed when a password or a
 * registration is accepted — synchronously on one node, after the cluster's claim on a cluster
 * node — so no login is ever signed in twice. A plain Map
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

/**
 * Who is online across a cluster (presence-redis.ts's ClusterPresence): a login is claimed there
 * too, so it is online on one node at most; this node's own map stays the one that delivers.
 */
/**
 * A cluster's logins as /who and /names list them: sorted, those of this node's `users` with their
 * away message (other nodes' away messages are not known here).
 */
export function listedLogins(logins: readonly string[], users: Iterable<{ readonly login: string; readonly away?: string | undefined }>): string[] {
  const here = new Map([...users].map((user) => [loginKey(user.login), user]));
  return [...logins].sort((a, b) => a.localeCompare(b)).map((login) => {
    const user = here.get(loginKey(login));
    return user ? listedLogin(user) : login;
  });
}

export interface SharedPresence {
  claim(login: string): Promise<'claimed' | 'online elsewhere' | 'fenced'>;
  release(login: string): Promise<boolean>;
  logins(): Promise<string[]>;
}

export type JoinOutcome = 'joined' | 'alreadyOnline' | 'fenced';

export class Presence {
  private readonly byKey = new Map<string, OnlineUser>();

  /** `onReleaseFailed`: a cluster claim that could not be given up (it lapses with the node's lease, or its next epoch). */
  constructor(
    private readonly shared?: SharedPresence,
    private readonly onReleaseFailed?: (err: unknown) => void,
  ) {}

  /**
   * Signs a user in: claimed on this node and, on a cluster node, in the whole cluster first.
   * 'fenced': this node has lost its lease and may not claim (its link signs everyone out). A
   * failed cluster claim rejects (Redis did not answer).
   */
  async join(user: OnlineUser): Promise<JoinOutcome> {
    if (this.byKey.has(loginKey(user.login))) return 'alreadyOnline';
    if (this.shared) {
      const claimed = await this.shared.claim(user.login);
      if (claimed === 'online elsewhere') return 'alreadyOnline';
      if (claimed === 'fenced') return 'fenced';
    }
    // The cluster's claim is atomic, so no other connection of this node can hold the login now.
    if (this.claim(user)) return 'joined';
    return 'alreadyOnline';
  }

  /** Whether logins are claimed across a cluster (then `everyone` is the list /who shows). */
  get isShared(): boolean {
    return this.shared !== undefined;
  }

  /** Every login online (in the whole cluster, on a cluster node), sorted, as /who lists them. */
  async everyone(): Promise<string[]> {
    if (!this.shared) return this.logins();
    return listedLogins(await this.shared.logins(), this.byKey.values());
  }

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
    if (this.byKey.get(key) !== user) return;
    this.byKey.delete(key);
    this.shared?.release(user.login).catch((err: unknown) => this.onReleaseFailed?.(err));
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
