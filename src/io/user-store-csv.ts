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
 * keyed hash too, in the `skeleton_key` column): a login that looks like a registered one is
 * refused ('confusable'). The column is there so that start-up decrypts one login, not all of them
 * (decrypting 100,000 took most of a second: docs/performance.md, S5); a file from before it is
 * migrated at open. Start-up checks every row's shape and the first row against the key; a login
 * token damaged further down is found when its user signs in (`registeredLogin`), not at start.
 */
import { promises as fs } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import {
  hashPassword,
  isLoginKeyAt,
  isPasswordHashAt,
  isTokenAt,
  LOGIN_KEY_PATTERN,
  PASSWORD_HASH_PATTERN,
  TOKEN_PATTERN,
  verifyPassword,
  type Keyring,
  type ScryptParams,
} from './crypto.js';
import { checkHeader, countNewlines, type FieldCheck, forEachRow, formatRow, headerLine, RecordError, scanRecords } from './csv-strict.js';
import { isIsoTimestamp, timestampChecker } from './history-store-csv.js';
import {
  AppendOnlyFile,
  createFile,
  type OpenAppendHandle,
  openAppendHandle,
  recoverAfterCrash,
  replaceFile,
  type ReplaceStep,
} from './durable-file.js';
import { CorruptFileError, DamagedRecordError, KeyMismatchError, StorageError, UnreadableFileError } from './errors.js';
import { KeyIndex } from './key-index.js';
import { skeletonKey as skeletonKeyOf } from './login-skeleton.js';
import type { PasswordChangeResult, RegistrationResult, UserStore } from './stores.js';

export const CLIENTS_HEADER = ['login_key', 'login', 'address', 'password', 'registered_at', 'skeleton_key'] as const;
/** clients.csv before the skeleton column: migrated at open (see the top of this file). */
export const OLD_CLIENTS_HEADER = ['login_key', 'login', 'address', 'password', 'registered_at'] as const;
const HEADER = headerLine(CLIENTS_HEADER);
const LOGIN_COLUMN = CLIENTS_HEADER.indexOf('login');
const PASSWORD_COLUMN = CLIENTS_HEADER.indexOf('password');
const SKELETON_COLUMN = CLIENTS_HEADER.indexOf('skeleton_key');
const OLD_HEADER = headerLine(OLD_CLIENTS_HEADER);

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
  /** Told, once a file from before the skeleton column has been rewritten with it, how many rows it held. */
  onMigrated?: (rows: number) => void;
  /** Test seam: awaited at each step of a rewrite (`/passwd`, `/deleteaccount`, the migration; a crash test stops there). */
  onRewriteStep?: (step: ReplaceStep) => void | Promise<void>;
}

export async function openCsvUserStore(opts: CsvUserStoreOptions): Promise<UserStore> {
  const { file, keyring } = opts;
  await recoverAfterCrash(file, opts.onRecovered);
  let content = await readOrCreate(file);
  const migrated = await migrateIfOld(file, content, keyring, opts.onRewriteStep);
  if (migrated) {
    content = migrated.content;
    opts.onMigrated?.(migrated.rows);
  }
  const out = await AppendOnlyFile.open(file, content.length, opts.openAppendHandle);
  if (content.length === 0) {
    // An empty file (e.g. a crash right after creation) gets its header before anything else.
    await out.serially(() => out.append(Buffer.from(HEADER), { sync: true }));
    content = Buffer.from(HEADER);
  }
  try {
    const { body, users, skeletons } = indexRecords(file, content, keyring);
    return new CsvUserStore(keyring, opts.scrypt, out, body, users, skeletons, content.indexOf(0x0a) + 1, {
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

/** What a registered login's record holds that the store uses: enough to verify and to name it, no plaintext. */
interface UserEntry {
  passwordHash: string;
  /** The login as registered (its spelling), still encrypted: decrypted at sign-in. */
  loginToken: string;
  /** The keyed hash of the login's confusable skeleton: its key in the skeleton index. */
  skeletonKey: string;
}

/**
 * What is kept in memory per registered login: the byte offset of its line in the file's body as
 * start-up read it (decoded again when the user signs in), or the entry itself for a record written
 * since. Offsets, so that start-up keeps two strings per user (the index keys), not six: the fields
 * kept alive were most of clients.csv's start-up, in GC (docs/performance.md, S5).
 */
type UserRecord = number | UserEntry;

function entryFromFields(fields: readonly string[]): UserEntry {
  return { loginToken: fields[LOGIN_COLUMN]!, passwordHash: fields[PASSWORD_COLUMN]!, skeletonKey: fields[SKELETON_COLUMN]! };
}

/**
 * skeleton key → how many registered logins have it (more than one only in a file older than the
 * check). A count, not a set of login keys: one number per user instead of a Set (100,000 Sets
 * were a tenth of start-up: docs/performance.md, S5).
 */
type SkeletonIndex = KeyIndex<number>;

function addTo(index: SkeletonIndex, skeletonKey: string): void {
  index.set(skeletonKey, (index.get(skeletonKey) ?? 0) + 1);
}

function removeFrom(index: SkeletonIndex, skeletonKey: string): void {
  const count = index.get(skeletonKey) ?? 0;
  if (count > 1) index.set(skeletonKey, count - 1);
  else index.delete(skeletonKey);
}

/** The body of `content` (after its header, which must be `columns`), and where it starts. */
function bodyOf(file: string, content: Buffer, columns: readonly string[]): Buffer {
  const headerEnd = content.indexOf(0x0a);
  checkHeader(file, content.toString('utf8', 0, headerEnd === -1 ? content.length : headerEnd), columns);
  if (headerEnd === -1) throw new CorruptFileError(file, 1, 'the header is not terminated by a newline');
  return content.subarray(headerEnd + 1);
}

/** What is wrong with the fields every version of clients.csv has (its first five), if anything. */
function commonFieldsProblem([loginKey, login, address, password, registeredAt]: string[]): string | undefined {
  if (!LOGIN_KEY_PATTERN.test(loginKey!)) return 'login_key is not 64 lowercase hex characters';
  if (!TOKEN_PATTERN.test(login!)) return 'login is not an encrypted value';
  if (!TOKEN_PATTERN.test(address!)) return 'address is not an encrypted value';
  if (!PASSWORD_HASH_PATTERN.test(password!)) return 'password is not a scrypt hash';
  if (!isIsoTimestamp(registeredAt!)) return 'registered_at is not an ISO 8601 date-time';
  return undefined;
}

/**
 * Refuses a key that does not decrypt `token` to what `loginKey` indexes (the first row is the
 * key's check); returns the login.
 */
function checkKey(file: string, keyring: Keyring, loginKey: string, token: string): string {
  let login: string | undefined;
  try {
    login = keyring.decrypt(token);
  } catch {
    // decrypt failed: same verdict as a wrong index
  }
  if (login === undefined || keyring.loginKey(login) !== loginKey) throw new KeyMismatchError(`the key does not match the records in ${file}`);
  return login;
}

const LOGIN_KEY_PROBLEM = 'login_key is not 64 lowercase hex characters';
const SKELETON_KEY_PROBLEM = 'skeleton_key is not 64 lowercase hex characters';

/**
 * login_key → record, the skeleton index, and the body the offsets point into. Validates the shape
 * of every row, and decrypts the first row's login to check the key (a wrong key is
 * KeyMismatchError). The other logins stay encrypted until their sign-in.
 *
 * The rows are checked on their bytes (`scanRecords`, the check history.csv's start-up uses): of
 * a row, only its two index keys become strings. (Six strings a row, each matched by its pattern,
 * were most of the start-up of 100,000 users: docs/performance.md, S5.) The verdicts are the same
 * as `commonFieldsProblem`'s, in the same order (test/io/user-store-csv.test.ts).
 */
function indexRecords(file: string, content: Buffer, keyring: Keyring): { body: Buffer; users: KeyIndex<UserRecord>; skeletons: SkeletonIndex } {
  const body = bodyOf(file, content, CLIENTS_HEADER);
  const users = new KeyIndex<UserRecord>(indexCapacityFor(body));
  const skeletons: SkeletonIndex = new KeyIndex(indexCapacityFor(body));
  // The row being checked: where its keys are, and whether a field of it was quoted — then its
  // entry is decoded now, since an offset is decoded later by splitting its line at the commas.
  let loginKeyAt = 0;
  let skeletonKeyAt = 0;
  let quoted = false;
  let first: number | undefined;
  const registeredAt = timestampChecker();
  const fields: FieldCheck[] = [
    (input, start, end, q) => {
      quoted = q;
      if (!isLoginKeyAt(input, start, end)) return LOGIN_KEY_PROBLEM;
      loginKeyAt = start;
      return undefined;
    },
    (input, start, end, q) => {
      quoted ||= q;
      return isTokenAt(input, start, end) ? undefined : 'login is not an encrypted value';
    },
    (input, start, end) => (isTokenAt(input, start, end) ? undefined : 'address is not an encrypted value'),
    (input, start, end, q) => {
      quoted ||= q;
      return isPasswordHashAt(input, start, end) ? undefined : 'password is not a scrypt hash';
    },
    (input, start, end, q) => (registeredAt(input, start, end, q) === undefined ? undefined : 'registered_at is not an ISO 8601 date-time'),
    (input, start, end, q) => {
      quoted ||= q;
      if (!isLoginKeyAt(input, start, end)) return SKELETON_KEY_PROBLEM;
      // The last check: the row passes if this one does. An unquoted row's login key starts it.
      if (!users.addAt(input, loginKeyAt, loginKeyAt)) return 'the same login is registered twice';
      skeletonKeyAt = start;
      return undefined;
    },
  ];
  if (body.length > 0 && body[body.length - 1] !== 0x0a) {
    // Said before any record is checked, as forEachRow says it (a last record after a closing quote included).
    throw new CorruptFileError(file, 2 + countNewlines(body), 'the last record is not terminated by a newline (an interrupted write?)');
  }
  const result = scanRecords(body, 0, true, {
    columns: CLIENTS_HEADER.length,
    fields,
    onRecord: (start, end) => {
      if (quoted) users.set(keyAt(body, loginKeyAt), entryFromFields(rowAt(file, body, start, end)));
      // A skeleton shared by two logins only in a file older than the look-alike check: rare.
      if (!skeletons.addAt(body, skeletonKeyAt, 1)) addTo(skeletons, keyAt(body, skeletonKeyAt));
      first ??= start;
    },
  });
  if (result instanceof RecordError) throw new CorruptFileError(file, 2 + countNewlines(body, result.recordStart), result.reason);
  if (first !== undefined) {
    const row = rowAt(file, body, first, body.indexOf(0x0a, first) + 1);
    const login = checkKey(file, keyring, row[0]!, row[LOGIN_COLUMN]!);
    if (skeletonKeyOf(keyring, login) !== row[SKELETON_COLUMN]) {
      throw new CorruptFileError(file, 2, 'skeleton_key is not the keyed hash of the login\'s skeleton');
    }
  }
  return { body, users, skeletons };
}

/** The 64-hex-digit key at `start` of the body, as a string. */
function keyAt(body: Buffer, start: number): string {
  return body.toString('latin1', start, start + 64);
}

/** Slots for a file's users from its size (a row is ~300 bytes): no growing while start-up indexes them. */
function indexCapacityFor(body: Buffer): number {
  let capacity = 1024;
  while (capacity < (2 * body.length) / 250) capacity *= 2;
  return capacity;
}

/** The fields of the record at [start, end) of the body (a record scanRecords passed). */
function rowAt(file: string, body: Buffer, start: number, end: number): string[] {
  let row: string[] = [];
  forEachRow(body.subarray(start, end), { file, firstLine: 2, columns: CLIENTS_HEADER.length }, (fields) => {
    row = fields;
    return undefined;
  });
  return row;
}

/**
 * A clients.csv from before the skeleton column (OLD_CLIENTS_HEADER) is checked whole — every
 * login decrypted, as start-up did then — and rewritten with the column, crash-safely (a crash
 * before the rename leaves the old file whole, and the next start migrates it again). Returns the
 * new content, or undefined for a file already in this format (or damaged: indexRecords says how).
 */
async function migrateIfOld(
  file: string,
  content: Buffer,
  keyring: Keyring,
  onStep?: (step: ReplaceStep) => void | Promise<void>,
): Promise<{ content: Buffer; rows: number } | undefined> {
  const headerEnd = content.indexOf(0x0a);
  if (headerEnd === -1 || content.toString('utf8', 0, headerEnd).replace(/\r$/, '') !== OLD_HEADER.slice(0, -1)) return undefined;
  const rows: { fields: string[]; line: number }[] = [];
  const seen = new Set<string>();
  forEachRow(bodyOf(file, content, OLD_CLIENTS_HEADER), { file, firstLine: 2, columns: OLD_CLIENTS_HEADER.length }, (fields, line) => {
    const problem = commonFieldsProblem(fields);
    if (problem !== undefined) return problem;
    if (seen.has(fields[0]!)) return 'the same login is registered twice';
    seen.add(fields[0]!);
    rows.push({ fields, line });
    return undefined;
  });
  if (rows.length > 0) checkKey(file, keyring, rows[0]!.fields[0]!, rows[0]!.fields[1]!);
  const lines = rows.map(({ fields, line }) => {
    let login: string;
    try {
      login = keyring.decrypt(fields[1]!);
    } catch {
      throw new CorruptFileError(file, line, 'the login does not decrypt with this key');
    }
    return formatRow([...fields, skeletonKeyOf(keyring, login)]);
  });
  const next = Buffer.from(HEADER + lines.join(''));
  try {
    await replaceFile(file, next, { onStep });
  } catch (err) {
    throw new StorageError(file, err);
  }
  return { content: next, rows: rows.length };
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
    /** clients.csv's body as start-up read it: where the offsets in `users` point. */
    private loaded: Buffer,
    private readonly users: KeyIndex<UserRecord>,
    /** Follows `users` in the same serialized steps. */
    private readonly skeletons: SkeletonIndex,
    /** Length of the header line as found (CRLF or LF), which clear() and rewrites keep. */
    private readonly headerBytes: number,
    private readonly rewrites: {
      /** How the append handle is opened again on the file a rewrite put in place. */
      openHandle: OpenAppendHandle;
      onRewriteStep: ((step: ReplaceStep) => void | Promise<void>) | undefined;
    },
  ) {}

  /** The entry of a record: an offset is decoded from the line it points at (one line, no quotes: see forEachRow). */
  private entryOf(record: UserRecord): UserEntry {
    if (typeof record !== 'number') return record;
    let end = this.loaded.indexOf(0x0a, record);
    if (this.loaded[end - 1] === 0x0d) end--;
    return entryFromFields(this.loaded.toString('utf8', record, end).split(','));
  }

  async isRegistered(login: string): Promise<boolean> {
    return this.users.has(this.keyring.loginKey(login));
  }

  async verifyPassword(login: string, password: string): Promise<boolean> {
    // An unknown login answers at once. The protocol already tells a client whether a login
    // exists (it asks for a password or offers registration), so timing reveals nothing new.
    const record = this.users.get(this.keyring.loginKey(login));
    return record === undefined ? false : verifyPassword(password, this.entryOf(record).passwordHash);
  }

  async registeredLogin(login: string): Promise<string | undefined> {
    const loginKey = this.keyring.loginKey(login);
    const record = this.users.get(loginKey);
    if (record === undefined) return undefined;
    // Start-up decrypted only the first row (see the top of this file): this one is checked now.
    let registered: string | undefined;
    try {
      registered = this.keyring.decrypt(this.entryOf(record).loginToken);
    } catch {
      // damaged: reported below
    }
    if (registered === undefined || this.keyring.loginKey(registered) !== loginKey) {
      throw new DamagedRecordError(this.out.file, `of login_key ${loginKey.slice(0, 12)}…`, 'its login does not decrypt to that key');
    }
    return registered;
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
        [loginKey, loginToken, this.keyring.encrypt(remoteAddress), hash, new Date().toISOString(), skeletonKey],
      ]);
      return await this.out.serially(async (): Promise<RegistrationResult> => {
        // … and checked again in the serialized step that writes, against what is registered now.
        if (this.users.has(loginKey)) return 'taken';
        if (this.skeletons.has(skeletonKey)) return 'confusable';
        await this.out.append(Buffer.from(row), { sync: true });
        // Inside the serialized step, so a clear() queued after this write also clears this entry.
        this.users.set(loginKey, { passwordHash: hash, loginToken, skeletonKey });
        addTo(this.skeletons, skeletonKey);
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
      const record = this.users.get(loginKey);
      if (record === undefined) return 'wrong';
      const entry = this.entryOf(record);
      if (!(await verifyPassword(current, entry.passwordHash))) return 'wrong';
      const hash = await hashPassword(next, this.scrypt);
      const changed = await this.out.serially(async () => {
        // Changed, deleted or cleared since it was checked: check again against what is there now.
        if (this.users.get(loginKey) !== record) return false;
        await this.rewrite(loginKey, (fields) => fields.map((field, column) => (column === PASSWORD_COLUMN ? hash : field)));
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
      const record = this.users.get(loginKey);
      if (record === undefined) return false;
      await this.rewrite(loginKey, () => undefined);
      this.users.delete(loginKey);
      removeFrom(this.skeletons, this.entryOf(record).skeletonKey);
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
      this.loaded = Buffer.alloc(0); // no offset points into it any more
    });
  }

  count(): number {
    return this.users.size;
  }

  close(): Promise<void> {
    return this.out.close();
  }
}
