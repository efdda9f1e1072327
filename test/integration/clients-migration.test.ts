/**
 * A data dir whose clients.csv is from before the skeleton_key column, as a user upgrading would
 * have it: the server migrates it at start (and says so in its log), its users sign in, and the
 * look-alike check knows their logins.
 */
import fs from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { OLD_CLIENTS_HEADER } from '../../src/io/user-store-csv.js';
import { text } from '../../src/machines/protocol.js';
import { makeDataDir, register, signIn, startTestServer, TestClient, type TestServer } from './harness.js';

const running: TestServer[] = [];
let dataDir: string | undefined;
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe('clients.csv from before skeleton_key', () => {
  it('is migrated at start-up: logged, its users sign in, and a look-alike of one is refused', async () => {
    dataDir = await makeDataDir();
    const first = await startTestServer({ dataDir });
    running.push(first);
    await register(first.port, 'paypal', 'secret-1');
    await first.stop();

    // The file as the store before the column wrote it: the old header, each row without its last field.
    const file = first.file('clients.csv');
    const [, ...rows] = (await fs.readFile(file, 'utf8')).trimEnd().split('\n');
    const old = [OLD_CLIENTS_HEADER.join(','), ...rows.map((row) => row.split(',').slice(0, OLD_CLIENTS_HEADER.length).join(','))];
    await fs.writeFile(file, `${old.join('\n')}\n`);

    const second = await startTestServer({ dataDir });
    running.push(second);
    expect(second.output()).toMatch(/migrated .*clients\.csv: added the skeleton_key column to 1 records/);
    expect(await second.readFile('server.log')).toMatch(/added the skeleton_key column to 1 records/);
    (await signIn(second.port, 'paypal', 'secret-1', true)).close();

    // A look-alike is refused: the check reads the migrated skeleton_key.
    const lookalike = await TestClient.connect(second.port);
    await lookalike.expect(/^Enter your login:/);
    lookalike.send('paypa1');
    await lookalike.expect(/choose a password/i);
    lookalike.send('pw-2');
    await lookalike.expect(/repeat/i);
    lookalike.send('pw-2');
    await lookalike.expect(text.loginLooksTaken('paypa1'));
    lookalike.close();
  });

  // Start-up decrypts only the first row: a login token damaged further down is found at its
  // user's sign-in — that sign-in fails, the log names the record but not the login — and
  // everyone else is served (docs/security.md).
  it('a login token damaged below the first row fails that sign-in only, logged without the login', async () => {
    dataDir = await makeDataDir();
    const first = await startTestServer({ dataDir });
    running.push(first);
    await register(first.port, 'alice', 'secret-1');
    await register(first.port, 'bob', 'secret-2');
    await first.stop();

    const file = first.file('clients.csv');
    const [header, alice, bob] = (await fs.readFile(file, 'utf8')).trimEnd().split('\n');
    const fields = bob!.split(',');
    fields[1] = `${fields[1]!.slice(0, -1)}${fields[1]!.endsWith('A') ? 'B' : 'A'}`;
    await fs.writeFile(file, `${header}\n${alice}\n${fields.join(',')}\n`);

    const second = await startTestServer({ dataDir });
    running.push(second);
    (await signIn(second.port, 'alice', 'secret-1', true)).close();

    const client = await TestClient.connect(second.port);
    await client.expect(/^Enter your login:/);
    client.send('bob');
    await client.expect(text.serviceFailed);
    await client.expectClosed();
    const log = await second.readFile('server.log');
    expect(log).toMatch(/the record of login_key [0-9a-f]{12}… is damaged: its login does not decrypt to that key/);
    expect(log).not.toMatch(/\bbob\b/);
  });
});
