/**
 * The storage contracts the actors depend on. The CSV files are the embedded implementation
 * (`user-store-csv.ts`, `history-store-csv.ts`); a shared backend (Redis, …) only adds new
 * implementations of these interfaces.
 */

import type { ChatMessage, Topic } from '../machines/protocol.js';

/** The message shape is part of the protocol; it is defined once, in src/machines/protocol.ts. */
export type { ChatMessage, Topic };

/**
 * 'taken': the login (case- and normalisation-insensitively) is registered already.
 * 'confusable': its confusable skeleton (UTS #39, login-skeleton.ts) is that of a registered login.
 */
export type RegistrationResult = 'registered' | 'taken' | 'confusable';

/** 'wrong': the current password given is not the login's (or the login is not registered). */
export type PasswordChangeResult = 'changed' | 'wrong';

export interface UserStore {
  /** Whether a login is registered (case-insensitive). */
  isRegistered(login: string): Promise<boolean>;
  /** The login as it was registered ("Alice" for "alice"), or undefined if it is not. */
  registeredLogin(login: string): Promise<string | undefined>;
  /** Checks a password against the stored scrypt hash; false for an unknown login. */
  verifyPassword(login: string, password: string): Promise<boolean>;
  /**
   * Registers a login, stored as given: the sign-in machine gives it in NFC (`normalizeLogin`). Resolves only once the record is durably on disk (fsync'ed).
   * Of two concurrent registrations of the same login (case-insensitive), exactly one
   * resolves 'registered' and the other 'taken'; of two that look alike (same skeleton), exactly
   * one 'registered' and the other 'confusable'. Rejects with StorageError on write failure.
   */
  register(login: string, password: string, remoteAddress: string): Promise<RegistrationResult>;
  /**
   * Replaces a login's password if `current` is its password. Resolves 'changed' only once the
   * new hash is durably on disk (fsync'ed); until then `verifyPassword` still checks the old one.
   * Serialized with registrations and the other changes, so none is lost. Rejects with
   * StorageError on write failure (the old password stays).
   */
  changePassword(login: string, current: string, next: string): Promise<PasswordChangeResult>;
  /**
   * Removes a login's registration (the password was checked by the caller); the login can then
   * be registered anew. Resolves once the removal is durably on disk: true if the login was
   * registered. Rejects with StorageError on write failure (the registration stays).
   */
  deleteUser(login: string): Promise<boolean>;
  /** Forgets every registration (the console's `clear file`). */
  clear(): Promise<void>;
  /** How many logins are registered. */
  count(): number;
  close(): Promise<void>;
}

export interface HistoryStore {
  /**
   * Appends a message. Group commit: every append made in the same event-loop turn — or while
   * the previous write was under way — goes out in one write; the promise resolves once that
   * write has completed, so the caller delivers
   * only what is already in the file. Rejects with StorageError (nothing half-written).
   */
  append(message: ChatMessage): Promise<void>;
  /** The newest `limit` messages of a room (a room key), oldest first. */
  recent(room: string, limit: number): Promise<ChatMessage[]>;
  /** Writes anything pending and fsyncs the file. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface TopicStore {
  /** Every room's topic, by room key, as loaded at open and set since. */
  all(): ReadonlyMap<string, Topic>;
  /** Sets (or, with undefined, clears) a room's topic; resolves once it is durably on disk. */
  set(room: string, topic: Topic | undefined): Promise<void>;
  close(): Promise<void>;
}

/** A private message left for a registered user who was offline (`/msg`), waiting for their next sign-in. */
export interface WaitingMessage {
  /** The sender's login. */
  from: string;
  /** When it was sent (ISO 8601): shown with the message when it is delivered. */
  at: string;
  text: string;
}

/** 'full': the recipient has the most messages that may wait already; nothing was stored. */
export type LeaveResult = 'stored' | 'full';

export interface OfflineMessageStore {
  /**
   * Leaves a message for `to` (a registered login). Resolves 'stored' once it is durably on disk
   * (fsync'ed), or 'full' at once when as many as may wait for `to` already do. Rejects with
   * StorageError on write failure (nothing stored).
   */
  leave(to: string, message: WaitingMessage): Promise<LeaveResult>;
  /**
   * Hands the messages waiting for `login` (oldest first, none: not called) to `to`, which says
   * whether it delivered them; once it has, they no longer wait. Every message whose `leave` was
   * called before this is among them. Resolves once their removal is durably on disk (until then a
   * crash delivers them again); rejects with StorageError if it could not be written.
   */
  deliver(login: string, to: (messages: readonly WaitingMessage[]) => boolean): Promise<void>;
  /** Drops what waits for `login` (the account was deleted, or the login is registered anew). */
  forget(login: string): Promise<void>;
  /** Forgets every waiting message (the console's `clear file`). */
  clear(): Promise<void>;
  close(): Promise<void>;
}
