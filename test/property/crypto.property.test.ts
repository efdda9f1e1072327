/**
 * Property tests of the record encryption (src/io/crypto.ts, AES-256-GCM tokens
 * `v1.<iv>.<tag>.<ciphertext>`): any string comes back from decrypt(encrypt(s)); any single bit
 * flipped anywhere in the IV, the tag or the ciphertext — or any character of the token changed —
 * is detected (KeyMismatchError), never decrypted to something else.
 *
 * fast-check prints the seed and path of a failing run; replay one with
 * `fc.assert(property, { seed, path, endOnFailure: true })`.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyringFromKey } from '../../src/io/crypto.js';
import { KeyMismatchError } from '../../src/io/errors.js';

const keyring = keyringFromKey(randomBytes(32));
const other = keyringFromKey(randomBytes(32));
/** Any Unicode text (whole code points: UTF-8 cannot carry a lone surrogate), short or long. */
const plaintext = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 16 }),
  fc.string({ unit: 'binary-ascii', minLength: 100, maxLength: 2000 }),
);

const toBytes = (part: string) => Buffer.from(part, 'base64url');

function expectRejected(token: string): void {
  expect(() => keyring.decrypt(token)).toThrow(KeyMismatchError);
}

describe('keyring encryption properties', () => {
  it('decrypts what it encrypted, for any string, with a fresh IV each time', () => {
    fc.assert(
      fc.property(plaintext, (plain) => {
        const first = keyring.encrypt(plain);
        const second = keyring.encrypt(plain);
        expect(keyring.decrypt(first)).toBe(plain);
        expect(keyring.decrypt(second)).toBe(plain);
        expect(first).not.toBe(second);
        expect(first).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]*$/);
      }),
      { numRuns: 300 },
    );
  });

  it('decrypts a string with lone surrogates to its UTF-8 form (what any UTF-8 file would hold)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '\ud800', '\udfff', '😀'), maxLength: 20 }), (plain) => {
        expect(keyring.decrypt(keyring.encrypt(plain))).toBe(Buffer.from(plain, 'utf8').toString('utf8'));
      }),
      { numRuns: 100 },
    );
  });

  it('detects a single flipped bit anywhere in the IV, the tag or the ciphertext', () => {
    fc.assert(
      fc.property(plaintext, fc.nat(), fc.integer({ min: 0, max: 7 }), (plain, where, bit) => {
        const [version, ...parts] = keyring.encrypt(plain).split('.');
        const bytes = parts.map(toBytes); // iv, tag, ciphertext
        const total = bytes.reduce((n, b) => n + b.length, 0);
        let at = where % total;
        const part = bytes.findIndex((b) => (at < b.length ? true : ((at -= b.length), false)));
        bytes[part]![at]! ^= 1 << bit;
        expectRejected([version, ...bytes.map((b) => b.toString('base64url'))].join('.'));
      }),
      { numRuns: 500 },
    );
  });

  it('detects any character of the token changed, dropped or added', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ v2';
    fc.assert(
      fc.property(
        plaintext,
        fc.nat(),
        fc.constantFrom(...alphabet),
        fc.constantFrom('replace', 'drop', 'insert'),
        (plain, where, char, edit) => {
          const token = keyring.encrypt(plain);
          const at = where % token.length;
          const edited =
            edit === 'replace'
              ? token.slice(0, at) + char + token.slice(at + 1)
              : edit === 'drop'
                ? token.slice(0, at) + token.slice(at + 1)
                : token.slice(0, at) + char + token.slice(at);
          fc.pre(edited !== token);
          expectRejected(edited);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('detects a token moved between keys, or spliced from two tokens', () => {
    fc.assert(
      fc.property(plaintext, plaintext, (a, b) => {
        expect(() => other.decrypt(keyring.encrypt(a))).toThrow(KeyMismatchError);
        const [v, ivA, tagA, ctA] = keyring.encrypt(a).split('.');
        const [, , , ctB] = keyring.encrypt(b).split('.');
        fc.pre(ctA !== ctB); // two empty plaintexts have the same (empty) ciphertext
        expectRejected([v, ivA, tagA, ctB].join('.'));
      }),
      { numRuns: 200 },
    );
  });
});
