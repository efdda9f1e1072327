/**
 * Start-up checks every row of clients.csv on its bytes (user-store-csv.ts, `indexRecords`). Its
 * verdict must be the one the patterns give, field by field in column order (login_key, login,
 * address, password, registered_at, skeleton_key, then a login registered twice): the same line
 * and reason for the first bad row, quoted fields or not, CRLF or LF — and a file it accepts
 * signs in every user it holds.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOGIN_KEY_PATTERN, PASSWORD_HASH_PATTERN, TOKEN_PATTERN } from '../../src/io/crypto.js';
import { CorruptFileError } from '../../src/io/errors.js';
import { isIsoTimestamp } from '../../src/io/history-store-csv.js';
import { dir, file, HEADER_LINE, open } from '../io/user-store-files.js';

const LOGINS = ['alice', 'bob', 'carol', 'dave'];

/** What the patterns say of a row (before the check against the others), in column order. */
function shapeProblem([loginKey, login, address, password, registeredAt, skeletonKey]: string[]): string | undefined {
  if (!LOGIN_KEY_PATTERN.test(loginKey!)) return 'login_key is not 64 lowercase hex characters';
  if (!TOKEN_PATTERN.test(login!)) return 'login is not an encrypted value';
  if (!TOKEN_PATTERN.test(address!)) return 'address is not an encrypted value';
  if (!PASSWORD_HASH_PATTERN.test(password!)) return 'password is not a scrypt hash';
  if (!isIsoTimestamp(registeredAt!)) return 'registered_at is not an ISO 8601 date-time';
  if (!LOGIN_KEY_PATTERN.test(skeletonKey!)) return 'skeleton_key is not 64 lowercase hex characters';
  return undefined;
}

/** Characters a damaged value is made of: no comma, quote or line end (the CSV stays well-formed). */
const damageByte = fc.constantFrom(...'0123456789abcdefABCDEFXYZxyz_-.$=+/:T@ \té');

function damaged(value: string): fc.Arbitrary<string> {
  return fc.array(fc.tuple(fc.constantFrom('set', 'cut', 'add'), fc.nat(), damageByte), { minLength: 1, maxLength: 2 }).map((edits) => {
    let out = value;
    for (const [kind, at, byte] of edits) {
      const i = at % (out.length + 1);
      out = kind === 'set' ? out.slice(0, i) + byte + out.slice(i + 1) : kind === 'cut' ? out.slice(0, i) + out.slice(i + 1) : out.slice(0, i) + byte + out.slice(i);
    }
    return out;
  });
}

describe('clients.csv start-up check', () => {
  it('refuses the first bad row with the reason and line the patterns give, and accepts what they accept', async () => {
    // Real rows, registered once (scrypt is slow even when cheap).
    const real: string[][] = [];
    for (const login of LOGINS) {
      const scratch = path.join(dir, `scratch-${login}.csv`);
      await (await open({ file: scratch })).register(login, 'pw', '10.0.0.1');
      real.push((await fs.readFile(scratch, 'utf8')).split('\n')[1]!.split(','));
    }
    // The first row is alice's as registered (it is the key's check); then rows of the others,
    // any of them repeated, some with a field damaged.
    const laterRow = fc
      .tuple(fc.integer({ min: 0, max: LOGINS.length - 1 }), fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }))
      .chain(([who, column]) =>
        column === undefined ? fc.constant(real[who]!) : damaged(real[who]![column]!).map((value) => real[who]!.map((v, i) => (i === column ? value : v))),
      );
    const layout = fc.record({ crlf: fc.boolean(), quoted: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }) });

    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(laterRow, { maxLength: 5 }), layout, async (later, { crlf, quoted }) => {
        const rows = [real[0]!, ...later];
        const eol = crlf ? '\r\n' : '\n';
        const text = HEADER_LINE.replace('\n', eol) + rows.map((row) => row.map((v, i) => (quoted[i] ? `"${v}"` : v)).join(',') + eol).join('');
        await fs.writeFile(file, text);

        let expected: { line: number; reason: string } | undefined;
        const seen = new Set<string>();
        for (const [i, row] of rows.entries()) {
          const reason = shapeProblem(row) ?? (seen.has(row[0]!) ? 'the same login is registered twice' : undefined);
          if (reason !== undefined) {
            expected = { line: 2 + i, reason };
            break;
          }
          seen.add(row[0]!);
        }

        const attempt = await open().then(
          (store) => store,
          (err: unknown) => err,
        );
        if (expected) {
          refused++;
          expect(attempt).toBeInstanceOf(CorruptFileError);
          expect(attempt).toMatchObject({ file, ...expected });
        } else {
          if (attempt instanceof Error) throw attempt;
          const store = attempt as Awaited<ReturnType<typeof open>>;
          expect(store.count()).toBe(seen.size);
          // The shapes of a row damaged into another valid shape are not its content: signing in
          // is checked for the rows as registered.
          for (const [i, login] of LOGINS.entries()) {
            if (rows.some((row) => row.every((v, c) => v === real[i]![c]))) expect(await store.verifyPassword(login, 'pw'), login).toBe(true);
          }
          await store.close();
        }
      }),
      { numRuns: 300 },
    );
    // The damage mostly breaks a shape: both verdicts were exercised.
    expect(refused).toBeGreaterThan(50);
    expect(refused).toBeLessThan(300);
  });
});
