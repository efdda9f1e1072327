/**
 * The embedded OfflineMessageStore: offline.csv, one row per private message (`/msg`) waiting for
 * a registered user who was offline when it was sent (`to_key,message`).
 *
 * Encrypted, not only kept apart from the login: `to_key` is the recipient's keyed login index
 * (the HMAC clients.csv uses), `message` an AES-GCM token (crypto.ts) of the sender, the time, the
 * text and `to_key` again. A /msg is private, unlike a room's history (the room's public record,
 * kept in the clear), so a copied file must not show who wrote what to whom; the `to_key` inside
 * the token ties each row to its recipient (a row moved to another is damage, refused at open).
 *
 * A message left is an append, fsync'ed before the sender is told it is stored (durable-file.ts);
 * delivered or forgotten messages are removed by rewriting the file whole, crash-safely, from
 * memory (`AppendOnlyFile.replace`: temp file, fsync, rename, directory fsync) in the same queue as
 * the appends. The file is small by construction: at most `maxPerUser` rows per registered login.
 */
import { promises as fs } from 'node:fs';
import { LOGIN_KEY_PATTERN, type Keyring } from './crypto.js';
import { checkHeader, forEachRow, formatRow, headerLine } from './csv-strict.js';
import { AppendOnlyFile, createFile, type OpenAppendHandle, recoverAfterCrash } from './durable-file.js';
import { CorruptFileError, UnreadableFileError } from './errors.js';
import type { LeaveResult, OfflineMessageStore, WaitingMessage } from './stores.js';
import { sealWaiting, unsealWaiting } from './waiting-message-token.js';

export const OFFLINE_HEADER = ['to_key', 'message'] as const;
const HEADER = headerLine(OFFLINE_HEADER);

export interface CsvOfflineStoreOptions {
  file: string;
  keyring: Keyring;
  /** How many messages may wait for one user; one more is refused ('full'). */
  maxPerUser: number;
  /** Test seam: how the append handle is opened (inject disk failures). */
  openAppendHandle?: OpenAppendHandle;
  /** Told how many bytes of a message interrupted by a crash were cut off at open. */
  onRecovered?: (bytes: number) => void;
}

/** A waiting message as kept in memory: its row, ready to be written again by a rewrite. */
interface WaitingRow {
  message: WaitingMessage;
  row: string;
}

export async function openCsvOfflineStore(opts: CsvOfflineStoreOptions): Promise<OfflineMessageStore> {
  const { file, keyring } = opts;
  let content: Buffer;
  await recoverAfterCrash(file, opts.onRecovered);
  try {
    await createFile(file, HEADER);
    content = await fs.readFile(file);
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
  const waiting = readWaiting(file, content, keyring);
  const out = await AppendOnlyFile.open(file, content.length, opts.openAppendHandle);
  if (content.length === 0) {
    // An empty file (a crash right after creation) gets its header before anything else.
    await out.serially(() => out.append(Buffer.from(HEADER), { sync: true }));
  }
  return new CsvOfflineStore(keyring, opts.maxPerUser, out, waiting, opts.openAppendHandle);
}

/** to_key → its waiting messages, oldest first. Every row is checked, and decrypted. */
function readWaiting(file: string, content: Buffer, keyring: Keyring): Map<string, WaitingRow[]> {
  const waiting = new Map<string, WaitingRow[]>();
  if (content.length === 0) return waiting;
  const headerEnd = content.indexOf(0x0a);
  checkHeader(file, content.toString('utf8', 0, headerEnd === -1 ? content.length : headerEnd), OFFLINE_HEADER);
  if (headerEnd === -1) throw new CorruptFileError(file, 1, 'the header is not terminated by a newline');
  forEachRow(content.subarray(headerEnd + 1), { file, firstLine: 2, columns: OFFLINE_HEADER.length }, ([toKey, token]) => {
    if (!LOGIN_KEY_PATTERN.test(toKey!)) return 'to_key is not 64 lowercase hex characters';
    const message = unsealWaiting(keyring, token!, toKey!);
    if (typeof message === 'string') return message;
    const rows = waiting.get(toKey!);
    const entry = { message, row: formatRow([toKey!, token!]) };
    if (rows) rows.push(entry);
    else waiting.set(toKey!, [entry]);
    return undefined;
  });
  return waiting;
}

class CsvOfflineStore implements OfflineMessageStore {
  /** Messages whose append is in flight, by recipient: counted against the limit at once. */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly keyring: Keyring,
    private readonly maxPerUser: number,
    private readonly out: AppendOnlyFile,
    /** What is on disk, by to_key; follows the file once each write is durable. */
    private readonly waiting: Map<string, WaitingRow[]>,
    private readonly openHandle: OpenAppendHandle | undefined,
  ) {}

  async leave(to: string, message: WaitingMessage): Promise<LeaveResult> {
    const toKey = this.keyring.loginKey(to);
    // Counted before any await, so that 51 sent at once are 50 stored and one refused.
    const queued = (this.waiting.get(toKey)?.length ?? 0) + (this.inFlight.get(toKey) ?? 0);
    if (queued >= this.maxPerUser) return 'full';
    const row = formatRow([toKey, sealWaiting(this.keyring, toKey, message)]);
    this.inFlight.set(toKey, (this.inFlight.get(toKey) ?? 0) + 1);
    try {
      await this.out.serially(async () => {
        await this.out.append(Buffer.from(row), { sync: true });
        const rows = this.waiting.get(toKey);
        const entry = { message: { from: message.from, at: message.at, text: message.text }, row };
        if (rows) rows.push(entry);
        else this.waiting.set(toKey, [entry]);
      });
      return 'stored';
    } finally {
      const left = this.inFlight.get(toKey)! - 1;
      if (left === 0) this.inFlight.delete(toKey);
      else this.inFlight.set(toKey, left);
    }
  }

  deliver(login: string, to: (messages: readonly WaitingMessage[]) => boolean): Promise<void> {
    return this.drop(login, to);
  }

  forget(login: string): Promise<void> {
    return this.drop(login, () => true);
  }

  /**
   * In the queue, behind every message whose `leave` was called before (so a sender who found the
   * recipient offline just before they signed in is delivered to now, not at their next sign-in):
   * hands the messages to `accept`, and once it took them, rewrites the file without them.
   */
  private async drop(login: string, accept: (messages: readonly WaitingMessage[]) => boolean): Promise<void> {
    const toKey = this.keyring.loginKey(login);
    const taken = await this.out.serially(async () => {
      const rows = this.waiting.get(toKey);
      if (!rows || !accept(rows.map((r) => r.message))) return undefined;
      // Gone from memory at once: a sign-in right after this one finds nothing to deliver again.
      this.waiting.delete(toKey);
      // Its own step, queued behind this one (wrapped: returned bare, this step would wait for it).
      return { removal: this.out.serially(() => this.rewrite()) };
    });
    await taken?.removal;
  }

  /**
   * Call inside `out.serially`. The file as memory holds it now — taken messages left out, every
   * message appended before this step kept. A rewrite that failed is caught up by the next one;
   * until then a restart delivers the delivered messages again (at least once, never lost).
   */
  private async rewrite(): Promise<void> {
    const rows: string[] = [HEADER];
    for (const entries of this.waiting.values()) for (const entry of entries) rows.push(entry.row);
    await this.out.replace(Buffer.from(rows.join('')), this.openHandle);
  }

  async clear(): Promise<void> {
    await this.out.serially(async () => {
      this.waiting.clear();
      await this.rewrite();
    });
  }

  close(): Promise<void> {
    return this.out.close();
  }
}
