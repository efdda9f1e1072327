/**
 * Start-up checks clients.csv's login keys, tokens and password hashes on their bytes (crypto.ts,
 * `isLoginKeyAt`, `isTokenAt`, `isPasswordHashAt`), not with the patterns the rest of the code
 * uses: the two must agree on every input — real values, each with any byte changed, cut or
 * added, and any bytes at all.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLoginKeyAt, isPasswordHashAt, isTokenAt, keyringFromKey, LOGIN_KEY_PATTERN, PASSWORD_HASH_PATTERN, TOKEN_PATTERN } from '../../src/io/crypto.js';

const keyring = keyringFromKey(randomBytes(32));
/** Bytes a key or token is made of, the bytes next to them in the ASCII table, and anything. */
const nearby = fc.constantFrom(...'0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz_-./:@`[{\x00\xff\xe9"$=+');
const anyByte = fc.oneof(nearby, fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b)));

/** `real` with some bytes replaced, some removed and some added, anywhere. */
function damaged(real: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(real, fc.array(fc.tuple(fc.constantFrom('set', 'cut', 'add'), fc.nat(), anyByte), { maxLength: 3 }))
    .map(([text, edits]) => {
      let out = text;
      for (const [kind, at, byte] of edits) {
        const i = out.length === 0 ? 0 : at % (out.length + (kind === 'add' ? 1 : 0));
        out = kind === 'set' ? out.slice(0, i) + byte + out.slice(i + 1) : kind === 'cut' ? out.slice(0, i) + out.slice(i + 1) : out.slice(0, i) + byte + out.slice(i);
      }
      return out;
    });
}

/** The verdict on `text` placed inside a larger buffer, as a field of a chunk is. */
function verdictAt(check: (input: Uint8Array, start: number, end: number) => boolean, text: string): boolean {
  const bytes = Buffer.from(`a,${text},b`, 'latin1');
  return check(bytes, 2, bytes.length - 2);
}

const realKey = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });
const realToken = fc.string({ unit: 'binary', maxLength: 40 }).map((text) => keyring.encrypt(text));

/** Checks `check` against `pattern` on real values, damaged ones, `other` (anything) and the fixed `edges`. */
function expectAgreement(
  check: (input: Uint8Array, start: number, end: number) => boolean,
  pattern: RegExp,
  values: { real: fc.Arbitrary<string>; other: fc.Arbitrary<string>; edges: string[] },
  numRuns: number,
): void {
  fc.assert(
    fc.property(fc.oneof(values.real, damaged(values.real), values.other), (text) => {
      expect(verdictAt(check, text), text).toBe(pattern.test(text));
    }),
    { numRuns },
  );
  for (const text of values.edges) expect(verdictAt(check, text), text).toBe(pattern.test(text));
}

describe('the byte checks of clients.csv agree with the patterns', () => {
  it('login keys: real ones, damaged ones, anything', () => {
    expectAgreement(isLoginKeyAt, LOGIN_KEY_PATTERN, { real: realKey, other: fc.string({ unit: anyByte, maxLength: 80 }), edges: [] }, 3000);
    expect(verdictAt(isLoginKeyAt, keyring.loginKey('alice'))).toBe(true);
  });

  it('tokens: real ones, damaged ones, anything', () => {
    expectAgreement(isTokenAt, TOKEN_PATTERN, { real: realToken, other: fc.string({ unit: anyByte, maxLength: 60 }), edges: [] }, 3000);
    expect(verdictAt(isTokenAt, keyring.encrypt(''))).toBe(true);
  });

  it('password hashes: real ones, damaged ones, anything, and the edges random cases rarely reach', () => {
    const number = fc.oneof(fc.integer({ min: 1, max: 2 ** 20 }).map(String), fc.constantFrom('1', '9999999999', '10000000000', '0', '01'));
    const base64 = fc.uint8Array({ minLength: 0, maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString('base64'));
    const realHash = fc.tuple(number, number, number, base64, base64).map((parts) => `scrypt$${parts.join('$')}`);
    // Padding, number lengths, empty parts.
    const edges = ['scrypt$1$1$1$YQ===$YQ==', 'scrypt$1$1$1$YQ==$YQ===', 'scrypt$1$1$1$=$YQ', 'scrypt$1$1$1$YQ$', 'scrypt$1$1$1$$YQ', 'scrypt$1$1$YQ$YQ', 'scrypt$1$1$1$1$YQ$YQ', 'scrypt$1234567890$1$1$YQ$YQ', 'scrypt$12345678901$1$1$YQ$YQ', 'scrypt$0$1$1$YQ$YQ', 'scrypt$$1$1$YQ$YQ', 'scrypt$1$1$1$YQ=Q$YQ', 'scrypt$1$1$1'];
    expectAgreement(isPasswordHashAt, PASSWORD_HASH_PATTERN, { real: realHash, other: fc.string({ unit: anyByte, maxLength: 60 }).map((tail) => `scrypt$${tail}`), edges }, 5000);
    expect(verdictAt(isPasswordHashAt, 'scrypt$16384$8$1$c2FsdA==$aGFzaA==')).toBe(true);
  });
});
