/**
 * How a private message left for a user offline is stored, by either backend (offline.csv, or a
 * Redis list per recipient): one AES-GCM token (crypto.ts) of the sender, the time, the text and
 * the recipient's keyed login index again — so a token moved to another recipient is refused as
 * damage, and a copy of the store tells nobody who wrote what to whom.
 */
import type { Keyring } from './crypto.js';
import { isIsoTimestamp } from './history-store-csv.js';
import type { WaitingMessage } from './stores.js';

/** What a token holds: the message, and the recipient it was left for. */
interface Sealed {
  to: string;
  from: string;
  at: string;
  text: string;
}

export function sealWaiting(keyring: Keyring, toKey: string, message: WaitingMessage): string {
  const sealed: Sealed = { to: toKey, from: message.from, at: message.at, text: message.text };
  return keyring.encrypt(JSON.stringify(sealed));
}

/** The message in a token left for `toKey`, or why it is not one. */
export function unsealWaiting(keyring: Keyring, token: string, toKey: string): WaitingMessage | string {
  let plain: string;
  try {
    plain = keyring.decrypt(token);
  } catch {
    return 'the message does not decrypt with this key';
  }
  let sealed: Partial<Sealed>;
  try {
    sealed = JSON.parse(plain) as Partial<Sealed>;
  } catch {
    return 'the message is not the JSON object it should be';
  }
  if (sealed === null || typeof sealed !== 'object') return 'the message is not the JSON object it should be';
  const { to, from, at, text } = sealed;
  if (to !== toKey) return 'the message was left for another user than its to_key';
  if (typeof from !== 'string' || from === '') return 'the message has no sender';
  if (typeof at !== 'string' || !isIsoTimestamp(at)) return 'the message time is not an ISO 8601 date-time';
  if (typeof text !== 'string') return 'the message has no text';
  return { from, at, text };
}
