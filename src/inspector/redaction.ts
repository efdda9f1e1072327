/**
 * What the inspection stream may never carry: a password, a password hash or a key. Everything
 * that leaves the process for the inspector is serialized by `toRedactedJson`, and every event
 * goes through `redactEvent` first.
 *
 * Two rules, because a secret can hide in two ways:
 *  - by its name: any property called `password`, `pendingPassword`, `hash`, `key`… is replaced,
 *    wherever it sits — a machine's context, an invoked service's input (`verifyPassword` and
 *    `registerUser` get the password as input), the `xstate.init` event that carries that input;
 *  - by where it was typed: a `client.line` is just text, and it is a password when the
 *    connection is in a state tagged `secret`. Its text is shown only when the receiving actor
 *    is waiting for input in a state that is not secret; in any other case (a secret state, a
 *    busy state whose next state is unknown, a state not known at all) it shows as `•••`.
 * Errors keep their class name and `code`, never their message (a message is free text).
 *
 * And what users wrote — chat lines, `/msg` text, topics, away messages, replayed history — is
 * content: unless the operator opted in (`--inspect-content`), every property named in
 * CONTENT_KEYS shows only its size (`••• 42 chars`, `••• 20 items`), wherever it sits.
 */
import type { EventObject } from 'xstate';

export const REDACTED = '•••';

/** Property names whose values never leave the process. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password',
  'pendingPassword',
  'passwordHash',
  'hash',
  'salt',
  'key',
  'envKey',
  'masterKey',
  'keyring',
  'secret',
]);

/**
 * Property names that hold what users wrote: a line's or a message's `text`, the `texts` of a run
 * of posts, a formatted `line` (a `/msg` on its way) or `lines`, the history a join replays
 * (`recent`) or `/history` recalls (`messages`), a private message's `body`, an `away` message.
 * Only strings and arrays are replaced; a number under one of these names (a line number) is no
 * content.
 */
export const CONTENT_KEYS: ReadonlySet<string> = new Set(['text', 'texts', 'line', 'lines', 'recent', 'messages', 'body', 'away']);

/** Events whose `text` is what a client typed. */
const TYPED_LINE_EVENTS: ReadonlySet<string> = new Set(['client.line']);

/** The snapshot methods a machine snapshot has; other actors' snapshots have none of them. */
interface TaggedSnapshot {
  status: string;
  hasTag?: (tag: string) => boolean;
}

/**
 * Whether the text of a line sent to `receiver` now may be shown: only when it is waiting for
 * input (`input` tag) in a state that is not `secret`.
 */
export function mayShowTypedLine(receiver: { getSnapshot(): unknown } | undefined): boolean {
  const snapshot = receiver?.getSnapshot() as TaggedSnapshot | undefined;
  if (!snapshot || snapshot.status !== 'active' || typeof snapshot.hasTag !== 'function') return false;
  return snapshot.hasTag('input') && !snapshot.hasTag('secret');
}

/** The event as the inspector may show it: a typed line's text replaced unless `showText`. */
export function redactEvent<E extends EventObject>(event: E, showText: boolean): E {
  if (!TYPED_LINE_EVENTS.has(event.type) || showText) return event;
  return { ...event, text: REDACTED };
}

/** Whether an event carries typed text at all (only those need a decision). */
export function isTypedLine(event: EventObject): boolean {
  return TYPED_LINE_EVENTS.has(event.type);
}

/** What a content property shows when content is not shown: its size only. */
function contentSize(value: string | readonly unknown[]): string {
  const [one, many] = typeof value === 'string' ? ['char', 'chars'] : ['item', 'items'];
  return `${REDACTED} ${value.length} ${value.length === 1 ? one : many}`;
}

/**
 * JSON with every secret-named property replaced and errors reduced to name and code — and,
 * unless `showContent`, every content property reduced to its size. Throws like JSON.stringify
 * on what JSON cannot hold (a cycle, a BigInt); callers skip such a value.
 */
export function toRedactedJson(value: unknown, { showContent = false }: { showContent?: boolean } = {}): string {
  return JSON.stringify(value, showContent ? redactingReplacer : redactingContentReplacer);
}

function redactingContentReplacer(this: unknown, key: string, value: unknown): unknown {
  if (CONTENT_KEYS.has(key) && value !== REDACTED && (typeof value === 'string' || Array.isArray(value))) return contentSize(value);
  return redactingReplacer.call(this, key, value);
}

function redactingReplacer(this: unknown, key: string, value: unknown): unknown {
  if (value === undefined) return value;
  if (SECRET_KEYS.has(key)) return REDACTED;
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return typeof code === 'string' ? { name: value.name, code } : { name: value.name };
  }
  return value;
}
