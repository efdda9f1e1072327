import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  KEY_FILE_NAME,
  type Keyring,
  OWASP_SCRYPT,
  hashPassword,
  keyringFromKey,
  loadKeyring,
  verifyPassword,
} from '../../src/io/crypto.js';
import { InsecureKeyFileError, InvalidKeyError, KeyMismatchError, KeyMissingError, UnreadableFileError } from '../../src/io/errors.js';

const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

/** Flips one bit in byte `index` of part `part` (1 = IV, 2 = tag, 3 = ciphertext) of a token. */
function tamper(token: string, part: number, index = 0): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[index] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('keyring', () => {
  const keyring = keyringFromKey(randomBytes(32));

  it('round-trips unicode, commas and the empty string', () => {
    for (const plain of ['Alice', '', 'Zoë, "the" 😀', '127.0.0.1', '::ffff:10.0.0.1']) {
      expect(keyring.decrypt(keyring.encrypt(plain))).toBe(plain);
    }
  });

  it('produces a single ASCII token without CSV-special characters', () => {
    expect(keyring.encrypt('Alice, "x"\n')).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/);
  });

  it('uses a fresh IV for every encryption', () => {
    expect(keyring.encrypt('Alice')).not.toBe(keyring.encrypt('Alice'));
  });

  it.each([
    ['IV', 1],
    ['tag', 2],
    ['ciphertext', 3],
  ])('rejects a token with one flipped bit in its %s', (_name, part) => {
    const token = keyring.encrypt('Alice');
    expect(() => keyring.decrypt(tamper(token, part))).toThrow(KeyMismatchError);
  });

  it('rejects malformed tokens', () => {
    const token = keyring.encrypt('Alice');
    const junk = [
      '',
      'v1',
      'v2' + token.slice(2),
      token + '.',
      token.replace(/\.[^.]*$/, '.!!!'),
      token + '!', // Node's base64 decoder would skip this; a damaged token must not decrypt
      'v1.a.b.c',
    ];
    for (const bad of junk) {
      expect(() => keyring.decrypt(bad)).toThrow(KeyMismatchError);
    }
  });

  it('refuses to decrypt with another key', () => {
    const other = keyringFromKey(randomBytes(32));
    expect(() => other.decrypt(keyring.encrypt('Alice'))).toThrow(KeyMismatchError);
  });

  it('derives the login key case-insensitively and NFC-normalized', () => {
    expect(keyring.loginKey('Alice')).toMatch(/^[0-9a-f]{64}$/);
    expect(keyring.loginKey('ALICE')).toBe(keyring.loginKey('alice'));
    expect(keyring.loginKey('Zo\u00EB')).toBe(keyring.loginKey('ZO\u0045\u0308'));
    expect(keyring.loginKey('alice')).not.toBe(keyring.loginKey('alicf'));
  });

  it('derives a different login key under a different master key', () => {
    expect(keyringFromKey(randomBytes(32)).loginKey('alice')).not.toBe(keyring.loginKey('alice'));
  });

  it('rejects a master key that is not 32 bytes', () => {
    expect(() => keyringFromKey(randomBytes(16))).toThrow(InvalidKeyError);
  });
});

describe('loadKeyring', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-crypto-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const keyFile = () => path.join(dir, KEY_FILE_NAME);

  it('creates a key file with mode 0600 and reads it back next time', async () => {
    const first = await loadKeyring({ dataDir: dir, mayCreate: true });
    expect(first.source).toBe('created');
    const stat = await fs.stat(keyFile());
    expect(stat.mode & 0o777).toBe(0o600);
    expect(await fs.readFile(keyFile(), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);

    const second = await loadKeyring({ dataDir: dir, mayCreate: false });
    expect(second.source).toBe('file');
    expect(second.keyring.decrypt(first.keyring.encrypt('Alice'))).toBe('Alice');
    expect((await fs.readdir(dir)).sort()).toEqual([KEY_FILE_NAME]); // no temp file left
  });

  it('gives two processes starting together the same key', async () => {
    const [a, b] = await Promise.all([
      loadKeyring({ dataDir: dir, mayCreate: true }),
      loadKeyring({ dataDir: dir, mayCreate: true }),
    ]);
    expect(b.keyring.loginKey('alice')).toBe(a.keyring.loginKey('alice'));
    expect([a.source, b.source].sort()).toEqual(['created', 'file']);
  });

  it.for([0o644, 0o640, 0o604, 0o660])('refuses a key file of mode %o, telling the user to chmod 600 it, and leaves it as it was', async (mode) => {
    await fs.writeFile(keyFile(), `${randomBytes(32).toString('hex')}\n`);
    await fs.chmod(keyFile(), mode);
    const before = await fs.readFile(keyFile());
    const attempt = loadKeyring({ dataDir: dir, mayCreate: true });
    await expect(attempt).rejects.toThrow(InsecureKeyFileError);
    await expect(attempt).rejects.toThrow(`chmod 600 ${keyFile()}`);
    expect((await fs.stat(keyFile())).mode & 0o777).toBe(mode);
    expect(await fs.readFile(keyFile())).toEqual(before);
  });

  it('uses a key file readable by others when allowed, and says its mode', async () => {
    const key = randomBytes(32);
    await fs.writeFile(keyFile(), `${key.toString('hex')}\n`);
    await fs.chmod(keyFile(), 0o644);
    const { keyring, insecureMode } = await loadKeyring({ dataDir: dir, mayCreate: false, allowInsecureKey: true });
    expect(keyring.loginKey('a')).toBe(keyringFromKey(key).loginKey('a'));
    expect(insecureMode! & 0o777).toBe(0o644);
    expect((await fs.stat(keyFile())).mode & 0o777).toBe(0o644);
  });

  it('reports no insecure mode for a 0600 key file', async () => {
    await fs.writeFile(keyFile(), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    expect((await loadKeyring({ dataDir: dir, mayCreate: false })).insecureMode).toBeUndefined();
  });

  it('accepts a key file without a trailing newline', async () => {
    const key = randomBytes(32);
    await fs.writeFile(keyFile(), key.toString('hex'), { mode: 0o600 });
    const { keyring } = await loadKeyring({ dataDir: dir, mayCreate: false });
    expect(keyring.loginKey('a')).toBe(keyringFromKey(key).loginKey('a'));
  });

  it('rejects a key file that does not hold a key', async () => {
    await fs.writeFile(keyFile(), 'not a key\n', { mode: 0o600 });
    await expect(loadKeyring({ dataDir: dir, mayCreate: true })).rejects.toThrow(InvalidKeyError);
  });

  it('refuses to invent a key when records exist but no key does', async () => {
    const attempt = loadKeyring({ dataDir: dir, mayCreate: false });
    await expect(attempt).rejects.toThrow(KeyMissingError);
    await expect(attempt).rejects.toThrow(/STATECHAT_KEY.*statechat\.key/);
    await expect(fs.stat(keyFile())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ['hex', (key: Buffer) => key.toString('hex')],
    ['upper-case hex', (key: Buffer) => key.toString('hex').toUpperCase()],
    ['base64', (key: Buffer) => key.toString('base64')],
    ['base64url', (key: Buffer) => key.toString('base64url')],
  ])('takes STATECHAT_KEY in %s over any key file', async (_name, encode) => {
    const key = randomBytes(32);
    const { keyring, source } = await loadKeyring({ dataDir: dir, envKey: encode(key), mayCreate: true });
    expect(source).toBe('env');
    expect(keyring.loginKey('alice')).toBe(keyringFromKey(key).loginKey('alice'));
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it.each([
    ['too short hex', randomBytes(31).toString('hex')],
    ['base64 of 48 bytes', randomBytes(48).toString('base64')],
    ['empty', ''],
    ['garbage', 'correct horse battery staple'],
  ])('rejects a STATECHAT_KEY that is %s, without echoing it', async (_name, envKey) => {
    const attempt = loadKeyring({ dataDir: dir, envKey, mayCreate: true });
    await expect(attempt).rejects.toThrow(InvalidKeyError);
    const message = await attempt.catch((err: Error) => err.message);
    if (envKey) expect(message).not.toContain(envKey);
  });
});

describe('passwords', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const stored = await hashPassword('s3cret, "quoted" ü', FAST_SCRYPT);
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('s3cret, "quoted" ü', stored)).toBe(true);
    expect(await verifyPassword('s3cret, "quoted" u', stored)).toBe(false);
  });

  it('handles the empty password', async () => {
    const stored = await hashPassword('', FAST_SCRYPT);
    expect(await verifyPassword('', stored)).toBe(true);
    expect(await verifyPassword(' ', stored)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('pw', FAST_SCRYPT)).not.toBe(await hashPassword('pw', FAST_SCRYPT));
  });

  it('answers false for a malformed stored hash', async () => {
    const stored = await hashPassword('pw', FAST_SCRYPT);
    const parts = stored.split('$');
    const variants = [
      '',
      'bcrypt$x',
      `scrypt$${stored.slice('scrypt'.length)}`, // an empty field
      [...parts.slice(0, 1), '1000', ...parts.slice(2)].join('$'), // N not a power of two
      [...parts.slice(0, 1), String(2 ** 30), ...parts.slice(2)].join('$'), // absurd cost
      [...parts.slice(0, 5), ''].join('$'),
    ];
    for (const variant of variants) expect(await verifyPassword('pw', variant)).toBe(false);
  });

  it('defaults to the OWASP scrypt parameters', () => {
    expect(OWASP_SCRYPT).toEqual({ N: 131072, r: 8, p: 1 });
  });
});

/** The master key's two subkeys, as the token format defines them (HKDF-SHA256, no salt). */
const subkey = (master: Buffer, info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));

describe('keyring formats (what clients.csv files already hold must keep decrypting)', () => {
  const master = Buffer.alloc(32, 7);
  // Made in each test, not once here: code run while tests are collected counts for none of them.
  let keyring: Keyring;
  beforeEach(() => {
    keyring = keyringFromKey(master);
  });

  /** A token built by the format's definition: AES-256-GCM under the record subkey. */
  function token(plain: string, iv: Buffer, encKey = subkey(master, 'statechat v1 record encryption')): string {
    const cipher = createCipheriv('aes-256-gcm', encKey, iv, { authTagLength: 16 });
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), ciphertext].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  it('decrypts a token made by the format definition, and makes tokens that decrypt by it', () => {
    expect(keyring.decrypt(token('Zoë', randomBytes(12)))).toBe('Zoë');
    const [, iv, tag, ciphertext] = keyring.encrypt('Zoë').split('.').map((part) => Buffer.from(part, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', subkey(master, 'statechat v1 record encryption'), iv!, { authTagLength: 16 });
    decipher.setAuthTag(tag!);
    expect(Buffer.concat([decipher.update(ciphertext!), decipher.final()]).toString('utf8')).toBe('Zoë');
  });

  it('derives the login index as the HMAC-SHA256 of the folded login under the index subkey', () => {
    const expected = createHmac('sha256', subkey(master, 'statechat v1 login index')).update('zoë', 'utf8').digest('hex');
    expect(keyring.loginKey('ZOË')).toBe(expected);
  });

  it('refuses a token whose IV is not 12 bytes, even one that authenticates', () => {
    expect(() => keyring.decrypt(token('Alice', randomBytes(16)))).toThrow(KeyMismatchError);
    expect(() => keyring.decrypt(token('Alice', randomBytes(8)))).toThrow(KeyMismatchError);
  });

  it('refuses a token with a non-canonical IV or tag as a key mismatch, never another error', () => {
    const parts = keyring.encrypt('Alice').split('.');
    for (const i of [1, 2, 3]) {
      const bad = [...parts];
      bad[i] = `${bad[i]}!`;
      expect(() => keyring.decrypt(bad.join('.'))).toThrow(KeyMismatchError);
    }
    const truncatedTag = [...parts];
    truncatedTag[2] = Buffer.from(parts[2]!, 'base64url').subarray(0, 12).toString('base64url');
    expect(() => keyring.decrypt(truncatedTag.join('.'))).toThrow(KeyMismatchError);
  });

  it('says what is wrong in its errors', () => {
    expect(() => keyring.decrypt('v1.a.b.c')).toThrow('an encrypted value does not decrypt with this key (wrong key or damaged data)');
    expect(() => keyringFromKey(Buffer.alloc(16))).toThrow('the master key must be 32 bytes, got 16');
  });
});

describe('STATECHAT_KEY and the key file, strictly', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-crypto-strict-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const keyFile = () => path.join(dir, KEY_FILE_NAME);
  const key = Buffer.alloc(32, 9);
  const sameKey = (keyring: Keyring) => expect(keyring.loginKey('alice')).toBe(keyringFromKey(key).loginKey('alice'));

  it('takes STATECHAT_KEY with surrounding whitespace (a pasted newline)', async () => {
    sameKey((await loadKeyring({ dataDir: dir, envKey: ` ${key.toString('hex')}\n`, mayCreate: false })).keyring);
    sameKey((await loadKeyring({ dataDir: dir, envKey: `${key.toString('base64')}\n`, mayCreate: false })).keyring);
  });

  it.each([
    ['65 hex characters', `${key.toString('hex')}0`],
    ['a stray character before the hex', `g${key.toString('hex')}`],
    ['base64 with junk after it', `${key.toString('base64')}!!`],
    ['base64 with junk before it', `!!${key.toString('base64')}`],
    ['base64 with junk inside it', `${key.toString('base64').slice(0, 20)}*${key.toString('base64').slice(20)}`],
    ['base64 with inner whitespace', `${key.toString('base64').slice(0, 20)} ${key.toString('base64').slice(20)}`],
  ])('refuses a STATECHAT_KEY with %s, saying what it wants and how long it was', async (_name, envKey) => {
    const attempt = loadKeyring({ dataDir: dir, envKey, mayCreate: true });
    await expect(attempt).rejects.toThrow(InvalidKeyError);
    await expect(attempt).rejects.toThrow(
      `STATECHAT_KEY must be 64 hex characters or the base64 of 32 bytes (got ${envKey.trim().length} characters)`,
    );
  });

  it.each([
    ['a stray character before the key', `x${key.toString('hex')}\n`],
    ['more after the key', `${key.toString('hex')}\nmore\n`],
    ['65 hex characters', `${key.toString('hex')}0\n`],
  ])('refuses a key file with %s, naming it', async (_name, text) => {
    await fs.writeFile(keyFile(), text, { mode: 0o600 });
    const attempt = loadKeyring({ dataDir: dir, mayCreate: true });
    await expect(attempt).rejects.toThrow(InvalidKeyError);
    await expect(attempt).rejects.toThrow(`${keyFile()} does not hold a key: expected 64 hex characters and an optional newline`);
  });

  it('accepts a key file ending in CRLF', async () => {
    await fs.writeFile(keyFile(), `${key.toString('hex')}\r\n`, { mode: 0o600 });
    sameKey((await loadKeyring({ dataDir: dir, mayCreate: false })).keyring);
  });

  it('says a key file it cannot read cannot be read, rather than that there is none', async () => {
    await fs.mkdir(keyFile(), { mode: 0o700 });
    for (const mayCreate of [false, true]) {
      const attempt = loadKeyring({ dataDir: dir, mayCreate });
      await expect(attempt).rejects.toThrow(UnreadableFileError);
      await expect(attempt).rejects.toThrow(`${keyFile()}: cannot be read (EISDIR`);
    }
  });

  it('says a key file it cannot create cannot be written', async () => {
    const dataDir = path.join(dir, 'dangling');
    await fs.symlink(path.join(dir, 'nowhere'), dataDir); // a dangling link: no key file in it, and no making the dir
    const attempt = loadKeyring({ dataDir, mayCreate: true });
    await expect(attempt).rejects.toThrow(UnreadableFileError);
    await expect(attempt).rejects.toThrow(`${path.join(dataDir, KEY_FILE_NAME)}: cannot be read (ENOENT: no such file or directory, mkdir`);
  });

  it('closes the key file, whether it uses it or refuses it', async () => {
    const openFds = async () => (await fs.readdir('/proc/self/fd')).length;
    await fs.writeFile(keyFile(), `${key.toString('hex')}\n`, { mode: 0o600 });
    await loadKeyring({ dataDir: dir, mayCreate: false }); // warm up
    const before = await openFds();
    for (let i = 0; i < 5; i++) await loadKeyring({ dataDir: dir, mayCreate: false });
    await fs.chmod(keyFile(), 0o644);
    for (let i = 0; i < 5; i++) await expect(loadKeyring({ dataDir: dir, mayCreate: false })).rejects.toThrow(InsecureKeyFileError);
    expect(await openFds()).toBe(before);
  });
});

describe('stored password hashes, strictly', () => {
  /** `scrypt$N$r$p$salt$hash` computed by the format's definition (NFC password, node:crypto). */
  function stored(password: string, opts: { N?: number; r?: number; p?: number; salt?: Buffer; keylen?: number; fields?: string[] } = {}): string {
    const { N = 16, r = 1, p = 1, salt = Buffer.from('0123456789abcdef'), keylen = 32 } = opts;
    const hash = scryptSync(password.normalize('NFC'), salt, keylen, { N, r, p, maxmem: 256 * N * r + (1 << 20) });
    const [fN, fr, fp] = opts.fields ?? [String(N), String(r), String(p)];
    return ['scrypt', fN, fr, fp, salt.toString('base64'), hash.toString('base64')].join('$');
  }

  it('verifies a hash computed by the format definition, at any r and p up to 64', async () => {
    expect(await verifyPassword('pw', stored('pw'))).toBe(true);
    expect(await verifyPassword('Zo\u0065\u0308', stored('Zo\u00EB'))).toBe(true);
    expect(await verifyPassword('pw', stored('pw', { N: 2, r: 64, p: 1 }))).toBe(true);
    expect(await verifyPassword('pw', stored('pw', { N: 2, r: 1, p: 64 }))).toBe(true);
    expect(await verifyPassword('pw', stored('pw', { keylen: 16 }))).toBe(true);
  });

  it('gives scrypt the memory its cost needs (N=2^14, r=8: 16 MiB)', async () => {
    const params = { N: 2 ** 14, r: 8, p: 1 };
    expect(await verifyPassword('pw', await hashPassword('pw', params))).toBe(true);
  });

  it.each([
    ['r above 64', { N: 2, r: 65, p: 1 }],
    ['p above 64', { N: 2, r: 1, p: 65 }],
    ['an empty salt', { salt: Buffer.alloc(0) }],
    ['a hash shorter than 16 bytes', { keylen: 15 }],
    ['N with a leading zero', { fields: ['016', '1', '1'] }],
    ['N with a leading space', { fields: [' 16', '1', '1'] }],
    ['N with a trailing space', { fields: ['16 ', '1', '1'] }],
    ['r with a trailing space', { fields: ['16', '1 ', '1'] }],
    ['p with a leading space', { fields: ['16', '1', ' 1'] }],
  ])('refuses a stored hash with %s, even when the password matches it', async (_name, opts) => {
    expect(await verifyPassword('pw', stored('pw', opts))).toBe(false);
  });

  it('refuses a stored hash that is not exactly scrypt and six fields, even when the password matches it', async () => {
    const good = stored('pw');
    expect(await verifyPassword('pw', `${good}$extra`)).toBe(false);
    expect(await verifyPassword('pw', good.replace(/^scrypt/, 'Scrypt'))).toBe(false);
  });
});
