/**
 * Property tests of the CSV stores: whatever strings go in — commas, quotes, CR/LF, NUL, any
 * Unicode, leading `=`, `+`, `-`, `@` — come back out after the store is closed and reopened.
 * - history.csv: every message (timestamp, room, login, text) exactly, each room's own newest
 *   after reopening, also when reopening reads the file in small chunks, and the file is strict
 *   CSV that an independent parse reads back the same (the room as its key).
 * - clients.csv: any string registers as a login and as a password: after reopening, the login is
 *   found (case-insensitively) in its registered spelling and the password verifies (in either
 *   Unicode normalization form), a different one does not.
 *
 * fast-check prints the seed and path of a failing run; replay one with
 * `fc.assert(property, { seed, path, endOnFailure: true })`.
 */
import { loginSkeleton } from '../../src/io/login-skeleton.js';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyringFromKey } from '../../src/io/crypto.js';
import { HISTORY_HEADER, openCsvHistoryStore } from '../../src/io/history-store-csv.js';
import type { ChatMessage } from '../../src/io/stores.js';
import { roomKey } from '../../src/machines/protocol.js';
import { openCsvUserStore } from '../../src/io/user-store-csv.js';

/** Characters CSV and terminals care about, mixed into arbitrary Unicode (no lone surrogates: UTF-8 cannot hold them). */
const nasty = fc.constantFrom(',', '"', '""', '\r', '\n', '\r\n', '\0', '=', '+', '-', '@', '\t', ' ', "'", ';', '\\', '😀', 'é', 'e\u0301', '\u2028', '\ufeff', '\x1b[31m');
const anyText = fc.string({ unit: fc.oneof({ weight: 1, arbitrary: nasty }, { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }), maxLength: 24 });
/** Formula-looking starts are common in the wild and must be stored as is. */
const cellText = fc.oneof(anyText, fc.tuple(fc.constantFrom('=', '+', '-', '@'), anyText).map(([a, b]) => a + b));
const timestamp = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
/** A few rooms, in any spelling: they collide by key (#Dev is #dev), so rooms interleave. */
const room = fc.constantFrom('#lobby', '#dev', '#Dev', '#a', '#A-b_9', `#${'z'.repeat(32)}`);
const message: fc.Arbitrary<ChatMessage> = fc.record({ at: timestamp, room, login: cellText, text: cellText });
/** What the store gives back: the room as its key. */
const stored = (m: ChatMessage): ChatMessage => ({ ...m, room: roomKey(m.room) });
/** Every room key of `messages`, with its messages in order. */
function byRoom(messages: ChatMessage[]): Map<string, ChatMessage[]> {
  const rooms = new Map<string, ChatMessage[]>();
  for (const m of messages.map(stored)) rooms.set(m.room, [...(rooms.get(m.room) ?? []), m]);
  return rooms;
}

let dir: string;
let runs = 0;
const nextFile = (name: string) => path.join(dir, `${runs++}-${name}`);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-property-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('history.csv round trip', () => {
  it('gives back every message exactly after closing and reopening, in batches or one by one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(message, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }), async (batches) => {
        const file = nextFile('history.csv');
        const store = await openCsvHistoryStore({ file });
        // Each batch is appended in one turn (one group-commit write); batches one after the other.
        for (const batch of batches) await Promise.all(batch.map((m) => store.append(m)));
        await store.close();

        const all = batches.flat();
        const reopened = await openCsvHistoryStore({ file });
        try {
          for (const [key, messages] of byRoom(all)) expect(await reopened.recent(key, all.length)).toEqual(messages);
        } finally {
          await reopened.close();
        }
        // Strict CSV: an independent parse reads the same fields back.
        const rows = parse(await fs.readFile(file), { relax_quotes: false, relax_column_count: false }) as string[][];
        expect(rows).toEqual([[...HISTORY_HEADER], ...all.map((m) => [m.at, roomKey(m.room), m.login, m.text])]);
      }),
      { numRuns: 60 },
    );
  });

  it("finds each room's newest messages when reopening reads the file in small chunks", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(message, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 256 }),
        async (messages, keep, chunkBytes) => {
          const file = nextFile('history.csv');
          const store = await openCsvHistoryStore({ file });
          await Promise.all(messages.map((m) => store.append(m)));
          await store.close();

          const reopened = await openCsvHistoryStore({ file, keep, chunkBytes });
          try {
            for (const [key, mine] of byRoom(messages)) {
              expect(await reopened.recent(key, keep)).toEqual(mine.slice(-keep));
              expect(await reopened.recent(key.toUpperCase(), keep)).toEqual(mine.slice(-keep));
            }
          } finally {
            await reopened.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('clients.csv round trip', () => {
  /** scrypt at its cheapest: the property is about storage, not hashing cost. */
  const scrypt = { N: 16, r: 1, p: 1 };
  const keyring = keyringFromKey(randomBytes(32));
  const user = fc.record({ login: cellText, password: cellText, address: cellText });

  it('finds every login in its registered spelling, and verifies its password, after reopening', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Logins are unique as the store keys them: case-folded, NFC-normalized.
        // Unique as the store wants them: by login and by look (its confusable skeleton).
        fc.uniqueArray(user, { minLength: 1, maxLength: 5, selector: (u) => loginSkeleton(u.login) }),
        async (users) => {
          const file = nextFile('clients.csv');
          const store = await openCsvUserStore({ file, keyring, scrypt });
          for (const { login, password, address } of users) {
            expect(await store.register(login, password, address)).toBe('registered');
          }
          expect(await store.register(users[0]!.login, 'again', '::1')).toBe('taken');
          await store.close();

          const reopened = await openCsvUserStore({ file, keyring, scrypt });
          try {
            expect(reopened.count()).toBe(users.length);
            for (const { login, password } of users) {
              expect(await reopened.registeredLogin(login)).toBe(login);
              expect(await reopened.registeredLogin(login.toLowerCase())).toBe(login);
              expect(await reopened.isRegistered(login.normalize('NFD'))).toBe(true);
              expect(await reopened.verifyPassword(login, password)).toBe(true);
              expect(await reopened.verifyPassword(login, password.normalize('NFD'))).toBe(true);
              // A different password does not verify. (Not `${password}\0`: scrypt's PBKDF2-HMAC
              // zero-pads a key shorter than 64 bytes, so trailing NULs make the same key; that
              // only lets in someone who knows the password anyway.)
              expect(await reopened.verifyPassword(login, `${password}x`)).toBe(false);
              expect(await reopened.verifyPassword(login, `x${password}`)).toBe(false);
            }
          } finally {
            await reopened.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
