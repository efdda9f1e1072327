/**
 * Secrets at rest: the keyring that encrypts logins/addresses in clients.csv and derives the
 * login index, loading (or creating) the master key, and scrypt password hashing.
 * Owns nothing else — the stores decide what gets encrypted.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { linkNewFile } from './durable-file.js';
import { InsecureKeyFileError, InvalidKeyError, KeyMismatchError, KeyMissingError, UnreadableFileError } from './errors.js';
import { scryptPool } from './scrypt-pool.js';
import { loginKey as foldLogin } from '../machines/protocol.js';

export interface Keyring {
  /** AES-256-GCM with a fresh 12-byte IV: `v1.<iv>.<tag>.<ciphertext>`, all base64url. */
  encrypt(plain: string): string;
  /** Throws KeyMismatchError when the token is malformed or fails authentication. */
  decrypt(token: string): string;
  /** Hex HMAC-SHA256 of the case-folded, NFC-normalized login: a stable, non-reversible index. */
  loginKey(login: string): string;
}

export const KEY_FILE_NAME = 'statechat.key';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const TOKEN_VERSION = 'v1';

/** The shape of a `loginKey` (a hex HMAC-SHA256): what a data file's index column must hold. */
export const LOGIN_KEY_PATTERN = /^[0-9a-f]{64}$/;
/** The shape of an `encrypt` token — version, 12-byte IV, 16-byte tag, ciphertext (base64url) — without decrypting it. */
export const TOKEN_PATTERN = /^v1\.[\w-]{16}\.[\w-]{22}\.[\w-]*$/;

// The same two shapes judged on a field's bytes, where start-up checks clients.csv without making
// a string of each field (docs/performance.md, S5); test/property/crypto-shapes.property.test.ts
// checks they agree with the patterns.

function isHexDigit(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66);
}

/** Whether bytes [start, end) of `input` match LOGIN_KEY_PATTERN. */
export function isLoginKeyAt(input: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 64) return false;
  for (let i = start; i < end; i++) if (!isHexDigit(input[i]!)) return false;
  return true;
}

/** `[\w-]`: a base64url character. */
function isWordByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x5f || byte === 0x2d;
}

const DOT = 0x2e;

/** Whether bytes [start, end) of `input` match TOKEN_PATTERN: `v1.`, 16 and 22 base64url characters each followed by a dot, then any number. */
export function isTokenAt(input: Uint8Array, start: number, end: number): boolean {
  const ivEnd = start + 3 + 16;
  const tagEnd = ivEnd + 1 + 22;
  if (end - start < 3 + 16 + 1 + 22 + 1 || input[start] !== 0x76 || input[start + 1] !== 0x31 || input[start + 2] !== DOT) return false;
  if (input[ivEnd] !== DOT || input[tagEnd] !== DOT) return false;
  for (let i = start + 3; i < end; i++) if (i !== ivEnd && i !== tagEnd && !isWordByte(input[i]!)) return false;
  return true;
}

export function keyringFromKey(master: Buffer): Keyring {
  if (master.length !== KEY_BYTES) throw new InvalidKeyError(`the master key must be ${KEY_BYTES} bytes, got ${master.length}`);
  // One master key, two purposes: derive independent subkeys so the MAC key never doubles as a cipher key.
  const encKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'statechat v1 record encryption', KEY_BYTES));
  const macKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'statechat v1 login index', KEY_BYTES));

  return {
    encrypt(plain) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv, { authTagLength: TAG_BYTES });
      const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [TOKEN_VERSION, iv, cipher.getAuthTag(), ciphertext].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
    },
    decrypt(token) {
      const mismatch = () => new KeyMismatchError('an encrypted value does not decrypt with this key (wrong key or damaged data)');
      const parts = token.split('.');
      if (parts.length !== 4 || parts[0] !== TOKEN_VERSION) throw mismatch();
      const [iv, tag, ciphertext] = parts.slice(1).map(strictBase64url);
      if (!iv || !tag || !ciphertext || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw mismatch();
      try {
        const decipher = createDecipheriv('aes-256-gcm', encKey, iv, { authTagLength: TAG_BYTES });
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
      } catch {
        throw mismatch();
      }
    },
    loginKey(login) {
      // The same folding as every registry (protocol.ts): for ASCII it is the toLowerCase() of old.
      return createHmac('sha256', macKey).update(foldLogin(login), 'utf8').digest('hex');
    },
  };
}

/** Node's decoder silently skips junk; a token we wrote is canonical, so anything else is damage. */
function strictBase64url(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

export async function loadKeyring(opts: {
  dataDir: string;
  envKey?: string;
  mayCreate: boolean;
  /** Use a key file that group or others can read instead of refusing it (InsecureKeyFileError). */
  allowInsecureKey?: boolean;
}): Promise<{ keyring: Keyring; source: 'env' | 'file' | 'created'; insecureMode?: number }> {
  if (opts.envKey !== undefined) return { keyring: keyringFromKey(parseEnvKey(opts.envKey)), source: 'env' };

  const keyFile = path.join(opts.dataDir, KEY_FILE_NAME);
  const existing = await readKeyFile(keyFile, opts.allowInsecureKey ?? false);
  if (existing) return { keyring: keyringFromKey(existing.key), source: 'file', insecureMode: existing.insecureMode };
  if (!opts.mayCreate) {
    throw new KeyMissingError(
      `clients.csv holds encrypted records but no key was found: set STATECHAT_KEY or restore ${keyFile}`,
    );
  }
  const created = await createKeyFile(keyFile);
  return { keyring: keyringFromKey(created.key), source: created.won ? 'created' : 'file' };
}

/** 64 hex chars, or base64/base64url of exactly 32 bytes. Messages never echo the value. */
function parseEnvKey(raw: string): Buffer {
  const text = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(text)) {
    // Node's base64 decoder accepts both alphabets; 43 chars (+ one '=') is exactly 32 bytes.
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length === KEY_BYTES) return bytes;
  }
  throw new InvalidKeyError(
    `STATECHAT_KEY must be 64 hex characters or the base64 of ${KEY_BYTES} bytes (got ${text.length} characters)`,
  );
}

/**
 * The key bytes, or undefined when there is no key file. A file that group or others can read is
 * refused, as ssh refuses such a private key: tightening it quietly would hide that the key may
 * have been copied already. With `allowInsecure` it is used, and its mode is returned for the log.
 */
async function readKeyFile(keyFile: string, allowInsecure: boolean): Promise<{ key: Buffer; insecureMode?: number } | undefined> {
  let text: string;
  let mode: number;
  try {
    const handle = await fs.open(keyFile, fsConstants.O_RDONLY);
    try {
      ({ mode } = await handle.stat());
      if (isReadableByOthers(mode) && !allowInsecure) throw new InsecureKeyFileError(keyFile, mode);
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof InsecureKeyFileError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UnreadableFileError(keyFile, err);
  }
  const match = /^([0-9a-fA-F]{64})\r?\n?$/.exec(text);
  if (!match) throw new InvalidKeyError(`${keyFile} does not hold a key: expected 64 hex characters and an optional newline`);
  return { key: Buffer.from(match[1], 'hex'), insecureMode: isReadableByOthers(mode) ? mode : undefined };
}

/** Any permission bit for group or others: ssh's rule for private keys. */
export function isReadableByOthers(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

/** Creates the key file whole (linkNewFile): of two processes starting together, one key wins. */
async function createKeyFile(keyFile: string): Promise<{ key: Buffer; won: boolean }> {
  const key = randomBytes(KEY_BYTES);
  let won: boolean;
  try {
    await fs.mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    won = await linkNewFile(keyFile, `${key.toString('hex')}\n`);
  } catch (err) {
    throw new UnreadableFileError(keyFile, err);
  }
  if (won) return { key, won };
  const theirs = await readKeyFile(keyFile, false);
  if (!theirs) throw new UnreadableFileError(keyFile, new Error('the key file vanished after another process created it'));
  return { key: theirs.key, won: false };
}

// ---- passwords -------------------------------------------------------------------------------

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** OWASP Password Storage Cheat Sheet minimum for scrypt. */
export const OWASP_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Refuse absurd cost parameters read from a file: they would pin the libuv pool (or memory). */
const MAX_N = 2 ** 20;
const MAX_RP = 64;

async function scryptAsync(password: string, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
  // Node's default maxmem (32 MiB) is exactly what N=2^17, r=8 needs, with no room for the rest.
  const options = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * 2 + (1 << 20) };
  // NFC: the same password typed on two systems may arrive composed or decomposed.
  return scryptPool.hash({ password: password.normalize('NFC'), salt, keylen, options });
}

/** The shape of a `hashPassword` result, scrypt$N$r$p$salt$hash (base64), without verifying anything. */
export const PASSWORD_HASH_PATTERN = /^scrypt\$[1-9]\d{0,9}\$[1-9]\d{0,9}\$[1-9]\d{0,9}\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;

const SCRYPT_PREFIX = Buffer.from('scrypt$');
const DOLLAR = 0x24;
const EQUALS = 0x3d;

function isDigitByte(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function isBase64Byte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2b || byte === 0x2f;
}

/** Whether bytes [start, end) of `input` match PASSWORD_HASH_PATTERN (see `isLoginKeyAt` for why bytes). */
export function isPasswordHashAt(input: Uint8Array, start: number, end: number): boolean {
  if (end - start < SCRYPT_PREFIX.length) return false;
  for (let k = 0; k < SCRYPT_PREFIX.length; k++) if (input[start + k] !== SCRYPT_PREFIX[k]) return false;
  let i = start + SCRYPT_PREFIX.length;
  // N, r and p: 1 to 10 digits, the first not 0, each followed by '$'.
  for (let n = 0; n < 3; n++) {
    const from = i;
    if (i >= end || input[i] === 0x30) return false;
    while (i < end && isDigitByte(input[i]!)) i++;
    if (i === from || i - from > 10 || i >= end || input[i] !== DOLLAR) return false;
    i++;
  }
  // The salt, '$', the hash: each base64 with up to two '=' of padding.
  for (let part = 0; part < 2; part++) {
    const from = i;
    while (i < end && isBase64Byte(input[i]!)) i++;
    if (i === from) return false;
    for (let pad = 0; pad < 2 && i < end && input[i] === EQUALS; pad++) i++;
    if (part === 0) {
      if (i >= end || input[i] !== DOLLAR) return false;
      i++;
    }
  }
  return i === end;
}

export async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, HASH_BYTES, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map((field) => (/^[1-9][0-9]{0,9}$/.test(field) ? Number(field) : NaN));
  const isPowerOfTwo = Number.isInteger(N) && N > 1 && N <= MAX_N && (N & (N - 1)) === 0;
  if (!isPowerOfTwo || !(r >= 1 && r <= MAX_RP) || !(p >= 1 && p <= MAX_RP)) return false;
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  if (salt.length === 0 || expected.length < 16) return false;
  try {
    const actual = await scryptAsync(password, salt, expected.length, { N, r, p });
    return timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}
