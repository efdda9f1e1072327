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
});
