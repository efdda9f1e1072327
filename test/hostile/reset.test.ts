/**
 * A client that resets its connection (RST, `socket.resetAndDestroy()`) half-way through
 * something: a sign-in, a registration, a message. The server must forget the connection
 * cleanly — no user left "online", no half a record or half a message stored or delivered —
 * and every other session goes on.
 */
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openAppendHandle, type OpenAppendHandle } from '../../src/io/durable-file.js';
import { makeDataDir, register, signIn, TestClient, type TestServer, useTestServers } from '../integration/harness.js';
import { type Bystanders, bystanders, eventually, expectUnharmed, historyRecords, reopenStores, serverSide } from './helpers.js';

const start = useTestServers();

/** Resets the connection once everything written so far has left (a reset with writes pending is a FIN). */
async function reset(client: TestClient): Promise<void> {
  await new Promise<void>((resolve) => client.socket.write('', () => resolve()));
  client.socket.resetAndDestroy();
  await client.closed;
}

/** After carol's reset connection is gone, she can sign in (neither online nor locked) and the others are unharmed. */
async function expectCarolSignsInAfterReset(t: TestServer, b: Bystanders): Promise<void> {
  await eventually(() => t.server.connections.size === 2, 'the reset connection to be gone');
  const carol = await signIn(t.port, 'carol', 'secret3', true);
  carol.send('/who');
  expect(await carol.expect(/^Online/)).toBe('Online (3): alice, bob, carol');
  await expectUnharmed(t, b);
}

/** An append handle whose appends to clients.csv wait until `release()` (a slow disk). */
function slowClientsFile() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const open: OpenAppendHandle = async (file) => {
    const real = await openAppendHandle(file);
    if (!file.endsWith('clients.csv')) return real;
    return { ...real, append: async (data) => (await released, real.append(data)) };
  };
  return { open, release };
}

describe('a reset in the middle of', () => {
  it('a sign-in, at the password prompt: the login is neither online nor locked afterwards', async () => {
    const t = await start();
    const b = await bystanders(t);
    await register(t.port, 'carol', 'secret3');
    const client = await TestClient.connect(t.port);
    client.send('carol');
    await client.expect(/^Password:/);

    await reset(client);

    await expectCarolSignsInAfterReset(t, b);
  });

  it('a sign-in, while the password is being checked: the check is dropped and the login still works', async () => {
    // Three wrong passwords first, so that the next check waits (200 ms) long enough to be caught in it.
    const t = await start({ loginDelayBaseMs: 200, loginDelayMaxMs: 200 });
    const b = await bystanders(t);
    await register(t.port, 'carol', 'secret3');
    const guesser = await TestClient.connect(t.port);
    guesser.send('carol', 'wrong-1', 'wrong-2', 'wrong-3');
    await guesser.expectClosed();
    const client = await TestClient.connect(t.port);
    client.send('carol');
    await client.expect(/^Password:/);
    client.send('secret3');
    await eventually(() => serverSide(t, client)?.actor.getSnapshot().matches({ authenticating: 'verifyingPassword' }) === true, 'the check');

    await reset(client);

    await expectCarolSignsInAfterReset(t, b);
  });

  it('a registration being saved: the record is written whole, clients.csv parses, and the login works', async ({
    onTestFinished,
  }) => {
    const dataDir = await makeDataDir();
    onTestFinished(() => fs.rm(dataDir, { recursive: true, force: true }));
    const disk = slowClientsFile();
    const t = await start({ dataDir }, { openAppendHandle: disk.open });
    const client = await TestClient.connect(t.port);
    client.send('dave', 'secret4', 'secret4');
    await eventually(
      () => serverSide(t, client)?.actor.getSnapshot().matches({ authenticating: { registering: 'saving' } }) === true,
      'the registration to be saving',
    );

    const before = await t.readFile('clients.csv');

    await reset(client);
    disk.release();

    await eventually(() => t.server.connections.size === 0, 'the reset connection to be gone');
    // The client is gone, but what it asked for goes on: the record reaches the file, whole.
    await eventually(async () => (await t.readFile('clients.csv')) !== before, 'the registration to reach clients.csv');
    const dave = await signIn(t.port, 'dave', 'secret4', true); // saved, with the password it was saved with
    dave.send('/who');
    expect(await dave.expect(/^Online/)).toBe('Online (1): dave');
    await t.stop();
    expect((await reopenStores(dataDir)).users).toBe(1);
  });

  it('a registration at the repeat prompt: nothing is stored', async () => {
    const t = await start();
    const b = await bystanders(t);
    const client = await TestClient.connect(t.port);
    client.send('dave', 'secret4');
    await client.expect(/repeat/i);

    await reset(client);

    await eventually(() => t.server.connections.size === 2, 'the reset connection to be gone');
    expect(await t.readFile('clients.csv')).toBe(b.clientsBefore);
    await expectUnharmed(t, b);
  });

  it('a message: the half typed is neither delivered nor stored; the whole one before it is both', async () => {
    const t = await start();
    const b = await bystanders(t);
    const carol = await signIn(t.port, 'carol', 'secret3');
    carol.write('a whole message\nhalf a mess');
    await b.bob.expect('carol: a whole message'); // the server has read both

    await reset(carol);

    await b.bob.expect('* carol left the chat');
    expect(b.bob.lines.filter((l) => l.includes('carol:'))).toEqual([expect.stringMatching(/ carol: a whole message$/)]);
    const texts = historyRecords(await t.readFile('history.csv')).map((r) => r.text);
    expect(texts).toContain('a whole message');
    expect(texts.some((m) => m.includes('half'))).toBe(false);
    b.alice.send('/who');
    expect(await b.alice.expect(/^Online/)).toBe('Online (2): alice, bob');
    await expectUnharmed(t, b);
  });
});
