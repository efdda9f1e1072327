/**
 * What the data files may hold: clients.csv never a login, an address or a password in the
 * clear; server.log never a login or a password.
 */
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { register, TestClient, useTestServers } from './harness.js';

const start = useTestServers();

describe('data at rest', () => {
  it('keeps no login, address or password in clients.csv', async () => {
    const t = await start();

    await register(t.port, 'Alice_Q', 'hunter22');

    const raw = (await fs.readFile(t.file('clients.csv'))).toString('latin1');
    expect(raw.split('\n').filter(Boolean)).toHaveLength(2); // the header and Alice_Q's record
    for (const secret of ['Alice_Q', 'alice_q', '127.0.0.1', 'hunter22']) expect(raw).not.toContain(secret);
  });

  it('keeps neither the login nor the password in server.log, even after failed attempts', async () => {
    const t = await start();
    await register(t.port, 'Alice_Q', 'hunter22');
    const guesser = await TestClient.connect(t.port);
    guesser.send('alice_q', 'hunter23', 'Hunter22', 'hunter22');
    await guesser.expect(/welcome/i);
    t.command('kick alice_q');
    await guesser.expectClosed();

    await t.server.shutdown(); // flushes server.log

    const log = await t.readFile('server.log');
    expect(log).toMatch(/login\.failed/); // the attempts were logged, pseudonymously
    expect(log.toLowerCase()).not.toContain('alice_q');
    expect(log.toLowerCase()).not.toContain('hunter2');
  });
});
