/**
 * The embedded UserStore: clients.csv, one registration per line. The file never holds a login,
 * an address or a password in the clear — only the keyed login index (HMAC), AES-GCM tokens and
 * scrypt hashes — so a copied file reveals neither who registered nor from where.
 *
 * A registration is an append (durable-file.ts). A password change (`/passwd`) or a deletion
 * (`/deleteaccount`) rewrites the file whole, crash-safely (`replaceFile`: temp file, fsync,
 * rename, directory fsync): the file keeps one row per login, as the start-up checks require,
 * and a deleted account leaves nothing behind — not even its old hash. Appends and rewrites run
 * one at a time in the append file's queue, so none is lost; sign-ins read only the memory index,
 * which follows the file once each write is durable.
 *
 * Beside the index by login key, a second one by confusable skeleton (login-skeleton.ts, kept as a
 * keyed hash too): a login that looks like a registered one is refused ('confusable'). It is built
 * at open — which therefore decrypts every login once — and follows each registration and deletion.
 */
import { promises as fs } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { hashPassword, verifyPassword, type Keyring, type ScryptParams } from './crypto.js';
import { checkHeader, forEachRow, formatRow, headerLine } from './csv-strict.js';
import {
  AppendOnlyFile,
  createFile,
  type OpenAppendHandle,
  openAppendHandle,
  recoverAfterCrash,
  type ReplaceStep,
} from './durable-file.js';
import { CorruptFileError, KeyMismatchError, StorageError, UnreadableFileError } from './errors.js';
import { loginSkeleton } from './login-skeleton.js';
import type { PasswordChangeResult, RegistrationResult, UserStore } from './stores.js';

export const CLIENTS_HEADER = ['login_key', 'login', 'address', 'password', 'registered_at'] as const;
const HEADER = headerLine(CLIENTS_HEADER);
const LOGIN_KEY = /^[0-9a-f]{64}$/;

/**
 * Whether `file` holds at least one record after its header. Reads only as far as the first
 * non-blank byte after the first line; the caller uses it to decide whether a new key may be made.
 */
export async function clientsFileHasRecords(file: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new UnreadableFileError(file, err);
  }
  try {
    const buffer = Buffer.alloc(64 * 1024);
    let inHeader = true;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return false;
      let from = 0;
      if (inHeader) {
        const newline = buffer.subarray(0, bytesRead).indexOf(0x0a);
        if (newline === -1) continue;
        inHeader = false;
        from = newline + 1;
      }
      for (let i = from; i < bytesRead; i++) {
        // Only reached for the bytes right after the header; the first non-blank one decides.
        if (buffer[i] !== 0x0a && buffer[i] !== 0x0d) return true;
      }
    }
  } catch (err) {
    throw new UnreadableFileError(file, err);
  } finally {
    await handle.close();
  }
}

export interface CsvUserStoreOptions {
  file: string;
  keyring: Keyring;
  scrypt: ScryptParams;
  /** Test seam: how the append handle is opened (inject disk failures). */
  openAppendHandle?: OpenAppendHandle;
  /** Told how many bytes of a registration interrupted by a crash were cut off at open. */
  onRecovered?: (bytes: number) => void;
  /** Test seam: awaited at each step of a rewrite (`/passwd`, `/deleteaccount`; a crash test stops there). */
  onRewriteStep?: (step: ReplaceStep) => void | Promise<void>;
}

export async function openCsvUserStore(opts: CsvUserStoreOptions): Promise<UserStore> {
  const { file, keyring } = opts;
  await recoverAfterCrash(file, opts.onRecovered);
  let content = await readOrCreate(file);
  const out = await AppendOnlyFile.open(file, content.length, opts.openAppendHandle);
  if (content.length === 0) {
    // An empty file (e.g. a crash right after creation) gets its header before anything else.
    await out.serially(() => out.append(Buffer.from(HEADER), { sync: true }));
    content = Buffer.from(HEADER);
  }
  try {
    const users = indexRecords(file, content, keyring);
    return new CsvUserStore(keyring, opts.scrypt, out, users, indexSkeletons(users), content.indexOf(0x0a) + 1, {
      openHandle: opts.openAppendHandle ?? openAppendHandle,
      onRewriteStep: opts.onRewriteStep,
    });
  } catch (err) {
    await out.close();
    throw err;
  }
}

async function readOrCreate(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UnreadableFileError(file, err);
  }
  try {
    await createFile(file, HEADER);
    return await fs.readFile(file);
  } catch (err) {
    throw new UnreadableFileError(file, err);
  }
}

/** What is kept in memory per registered login: enough to verify and to name it, no plaintext. */
interface UserEntry {
  passwordHash: string;
  /** The login as registered (its spelling), still encrypted: decrypted at sign-in (and once at open). */
  loginToken: string;
  /** The keyed hash of the login's confusable skeleton: its key in the skeleton index. */
  skeletonKey: string;
}

/** The keyed hash of a login's confusable skeleton (the keyring's HMAC, as for the login key). */
function skeletonKeyOf(keyring: Keyring, login: string): string {
  return keyring.loginKey(loginSkeleton(login));
}

/** skeleton key → the login keys that have it (more than one only in a file older than the check). */
function indexSkeletons(users: ReadonlyMap<string, UserEntry>): Map<string, Set<string>> {
  const skeletons = new Map<string, Set<string>>();
  for (const [loginKey, entry] of users) addTo(skeletons, entry.skeletonKey, loginKey);
  return skeletons;
}

function addTo(index: Map<string, Set<string>>, skeletonKey: string, loginKey: string): void {
  const keys = index.get(skeletonKey);
  if (keys) keys.add(loginKey);
  else index.set(skeletonKey, new Set([loginKey]));
}

function removeFrom(index: Map<string, Set<string>>, skeletonKey: string, loginKey: string): void {
  const keys = index.get(skeletonKey);
  keys?.delete(loginKey);
  if (keys?.size === 0) index.delete(skeletonKey);
}

/**
 * login_key → entry. Validates every row; the first login is decrypted to check the key (a wrong
 * key is KeyMismatchError), then every login, for its skeleton (one that does not decrypt then is
 * damage: CorruptFileError with its line).
 */
function indexRecords(file: string, content: Buffer, keyring: Keyring): Map<string, UserEntry> {
  const headerEnd = content.indexOf(0x0a);
  checkHeader(file, content.toString('utf8', 0, headerEnd === -1 ? content.length : headerEnd), CLIENTS_HEADER);
  if (headerEnd === -1) throw new CorruptFileError(file, 1, 'the header is not terminated by a newline');

  const rows = new Map<string, { passwordHash: string; loginToken: string; line: number }>();
  let first: { loginKey: string; login: string } | undefined;
  forEachRow(content.subarray(headerEnd + 1), { file, firstLine: 2, columns: CLIENTS_HEADER.length }, (fields, line) => {
    const [loginKey, login, , password] = fields;
    if (!LOGIN_KEY.test(loginKey)) return 'login_key is not 64 lowercase hex characters';
    if (rows.has(loginKey)) return 'the same login is registered twice';
    rows.set(loginKey, { passwordHash: password, loginToken: login, line });
    first ??= { loginKey, login };
    return undefined;
  });

  if (first) {
    let matches = false;
    try {
      matches = keyring.loginKey(keyring.decrypt(first.login)) === first.loginKey;
    } catch {
      // decrypt failed: same verdict as a wrong index
    }
    if (!matches) throw new KeyMismatchError(`the key does not match the records in ${file}`);
  }
  const users = new Map<string, UserEntry>();
  for (const [loginKey, { passwordHash, loginToken, line }] of rows) {
    let login: string;
    try {
      login = keyring.decrypt(loginToken);
    } catch {
      throw new CorruptFileError(file, line, 'the login does not decrypt with this key');
    }
    users.set(loginKey, { passwordHash, loginToken, skeletonKey: skeletonKeyOf(keyring, login) });
  }
  return users;
}

class CsvUserStore implements UserStore {
  /** login_keys whose registration is in flight: reserved synchronously, before any await. */
  private readonly reserved = new Set<string>();
  /** Skeleton keys of the registrations in flight, reserved with their login keys. */
  private readonly reservedSkeletons = new Set<string>();

  constructor(
    private readonly keyring: Keyring,
    private readonly scrypt: ScryptParams,
    private readonly out: AppendOnlyFile,
    private readonly users: Map<string, UserEntry>,
    /** skeleton key → login keys: follows `users` in the same serialized steps. */
    private readonly skeletons: Map<string, Set<string>>,
    /** Length of the header line as found (CRLF or LF), which clear() and rewrites keep. */
    private readonly headerBytes: number,
    private readonly rewrites: {
      /** How the append handle is opened again on the file a rewrite put in place. */
      openHandle: OpenAppendHandle;
      onRewriteStep: ((step: ReplaceStep) => void | Promise<void>) | undefined;
    },
  ) {}

  async isRegistered(login: string): Promise<boolean> {
    return this.users.has(this.keyring.loginKey(login));
  }

  async verifyPassword(login: string, password: string): Promise<boolean> {
    // An unknown login answers at once. The protocol already tells a client whether a login
    // exists (it asks for a password or offers registration), so timing reveals nothing new.
    const entry = this.users.get(this.keyring.loginKey(login));
    return entry === undefined ? false : verifyPassword(password, entry.passwordHash);
  }

  async registeredLogin(login: string): Promise<string | undefined> {
    const entry = this.users.get(this.keyring.loginKey(login));
    return entry && this.keyring.decrypt(entry.loginToken);
  }

  async register(login: string, password: string, remoteAddress: string): Promise<RegistrationResult> {
    const loginKey = this.keyring.loginKey(login);
    const skeletonKey = skeletonKeyOf(this.keyring, login);
    // Checked and reserved before any await (a loser answers at once, without scrypt), …
    if (this.users.has(loginKey) || this.reserved.has(loginKey)) return 'taken';
    if (this.skeletons.has(skeletonKey) || this.reservedSkeletons.has(skeletonKey)) return 'confusable';
    this.reserved.add(loginKey);
    this.reservedSkeletons.add(skeletonKey);
    try {
      const hash = await hashPassword(password, this.scrypt);
      const loginToken = this.keyring.encrypt(login);
      const row = stringify([
        [loginKey, loginToken, this.keyring.encrypt(remoteAddress), hash, new Date().toISOString()],
      ]);
      return await this.out.serially(async (): Promise<RegistrationResult> => {
        // … and checked again in the serialized step that writes, against what is registered now.
        if (this.users.has(loginKey)) return 'taken';
        if (this.skeletons.has(skeletonKey)) return 'confusable';
        await this.out.append(Buffer.from(row), { sync: true });
        // Inside the serialized step, so a clear() queued after this write also clears this entry.
        this.users.set(loginKey, { passwordHash: hash, loginToken, skeletonKey });
        addTo(this.skeletons, skeletonKey, loginKey);
        return 'registered';
      });
    } finally {
      this.reserved.delete(loginKey);
      this.reservedSkeletons.delete(skeletonKey);
    }
  }

  async changePassword(login: string, current: string, next: string): Promise<PasswordChangeResult> {
    const loginKey = this.keyring.loginKey(login);
    for (;;) {
      // Checked and hashed outside the queue: scrypt must not hold registrations up.
      const entry = this.users.get(loginKey);
      if (entry === undefined || !(await verifyPassword(current, entry.passwordHash))) return 'wrong';
      const hash = await hashPassword(next, this.scrypt);
      const changed = await this.out.serially(async () => {
        // Changed, deleted or cleared since it was checked: check again against what is there now.
        if (this.users.get(loginKey) !== entry) return false;
        await this.rewrite(loginKey, (fields) => [fields[0]!, fields[1]!, fields[2]!, hash, fields[4]!]);
        // Only now (the new file durable) does a sign-in check the new password.
        this.users.set(loginKey, { ...entry, passwordHash: hash });
        return true;
      });
      if (changed) return 'changed';
    }
  }

  async deleteUser(login: string): Promise<boolean> {
    const loginKey = this.keyring.loginKey(login);
    return this.out.serially(async () => {
      const entry = this.users.get(loginKey);
      if (entry === undefined) return false;
      await this.rewrite(loginKey, () => undefined);
      this.users.delete(loginKey);
      removeFrom(this.skeletons, entry.skeletonKey, loginKey);
      return true;
    });
  }

  /**
   * Call inside `out.serially`. Rewrites clients.csv whole, crash-safely, with the row of
   * `loginKey` as `edit` makes it (undefined: removed) and every other row as it is. The file is
   * read back rather than rebuilt from memory, which holds only what sign-in needs.
   */
  private async rewrite(loginKey: string, edit: (fields: string[]) => string[] | undefined): Promise<void> {
    const { file } = this.out;
    let content: Buffer;
    try {
      content = await fs.readFile(file);
    } catch (err) {
      throw new StorageError(file, err);
    }
    const rows: string[] = [];
    let found = false;
    forEachRow(content.subarray(this.headerBytes), { file, firstLine: 2, columns: CLIENTS_HEADER.length }, (fields) => {
      if (fields[0] !== loginKey) {
        rows.push(formatRow(fields));
        return undefined;
      }
      found = true;
      const edited = edit(fields);
      if (edited) rows.push(formatRow(edited));
      return undefined;
    });
    if (!found) throw new StorageError(file, new Error('the row to rewrite is not in the file'));
    const next = Buffer.concat([content.subarray(0, this.headerBytes), Buffer.from(rows.join(''))]);
    await this.out.replace(next, this.rewrites.openHandle, { onStep: this.rewrites.onRewriteStep });
  }

  async clear(): Promise<void> {
    await this.out.serially(async () => {
      await this.out.truncate(this.headerBytes);
      this.users.clear();
      this.skeletons.clear();
    });
  }

  count(): number {
    return this.users.size;
  }

  close(): Promise<void> {
    return this.out.close();
  }
}
