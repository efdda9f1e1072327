/**
 * What one node of a cluster sends to a user signed in on another (the cluster issue: `/msg` and
 * the console's `kick` across nodes): one Redis Stream per node, `<prefix>inbox:<node id>`, read
 * by that node's tail along with its rooms (room-tails-redis.ts), so an entry reaches it once and
 * in order. Who is on which node is presence's (`ClusterPresence.nodeOf`).
 *
 *   kind  "msg" | "kick"
 *   to    the recipient's login, as an AES-GCM token (crypto.ts)
 *   msg   for "msg": the message sealed as offline messages are (waiting-message-token.ts)
 *
 * A copy of Redis shows neither who wrote what to whom. The stream is trimmed (`MAXLEN ~`); a node
 * keeps where it has read to (`inbox-read:<node id>`), so that one restarted under the same id
 * handles what came meanwhile — at least once: a crash between handling and remembering repeats it.
 */
import type { Redis } from 'ioredis';
import type { Keyring } from './crypto.js';
import { asStorageError } from './errors.js';
import { fieldOf } from './history-store-redis.js';
import type { WaitingMessage } from './stores.js';
import { sealWaiting, unsealWaiting } from './waiting-message-token.js';

export type InboxEntry = { kind: 'msg'; to: string; message: WaitingMessage } | { kind: 'kick'; to: string };

/** Entries an inbox keeps at least (far more than a node reads behind). */
const INBOX_KEEP = 10_000;

export function inboxStreamKey(prefix: string, nodeId: string): string {
  return `${prefix}inbox:${nodeId}`;
}

export interface NodeInboxesOptions {
  redis: Redis;
  keyring: Keyring;
  prefix: string;
  where: string;
}

export class NodeInboxes {
  constructor(private readonly opts: NodeInboxesOptions) {}

  /** Appends an entry to `nodeId`'s inbox; resolves once Redis has it. */
  async send(nodeId: string, entry: InboxEntry): Promise<void> {
    const { redis, keyring, prefix, where } = this.opts;
    const fields = ['kind', entry.kind, 'to', keyring.encrypt(entry.to)];
    if (entry.kind === 'msg') fields.push('msg', sealWaiting(keyring, keyring.loginKey(entry.to), entry.message));
    await asStorageError(where, () => redis.xadd(inboxStreamKey(prefix, nodeId), 'MAXLEN', '~', String(INBOX_KEEP), '*', ...fields));
  }

  /**
   * Where `nodeId`'s tail starts its inbox: after the last entry the node handled ("0-0": from the
   * start). A node restarted with the same id takes what was sent while it was away — its users
   * are gone, so a /msg is left for their next sign-in, not lost.
   */
  async readFrom(nodeId: string): Promise<string> {
    const { redis, prefix, where } = this.opts;
    return (await asStorageError(where, () => redis.get(`${prefix}inbox-read:${nodeId}`))) ?? '0-0';
  }

  /** Remembers the last entry `nodeId` handled (see `readFrom`). */
  async handled(nodeId: string, id: string): Promise<void> {
    const { redis, prefix, where } = this.opts;
    await asStorageError(where, () => redis.set(`${prefix}inbox-read:${nodeId}`, id));
  }

  /** An entry read back, or why it is not one (damage: the caller reports it and goes on). */
  read(fields: readonly string[]): InboxEntry | string {
    const field = (name: string) => fieldOf(fields, name);
    const { keyring } = this.opts;
    const kind = field('kind');
    const toToken = field('to');
    if (toToken === undefined) return 'it has no recipient';
    let to: string;
    try {
      to = keyring.decrypt(toToken);
    } catch {
      return 'its recipient does not decrypt with this key';
    }
    if (kind === 'kick') return { kind, to };
    if (kind !== 'msg') return `its kind is "${kind ?? ''}", not msg or kick`;
    const sealed = field('msg');
    if (sealed === undefined) return 'it has no message';
    const message = unsealWaiting(keyring, sealed, keyring.loginKey(to));
    return typeof message === 'string' ? message : { kind, to, message };
  }
}
