/**
 * The operator's console under load: `clear file` and `clear log` while users are chatting,
 * `shutdown` in the middle of bursts of messages. The chat must go on through the clears, and
 * the shutdown must keep every message anybody received, with nothing half-written.
 */
import { describe, expect, it } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { signIn, TestClient, useTestServers } from '../integration/harness.js';
import { bystanders, historyRecords, roundTrip } from './helpers.js';

const start = useTestServers();

const burst = (who: string, n: number) => Array.from({ length: n }, (_, i) => `${who} says ${i}`);
/** The texts of `from`'s chat lines a client received, in order. */
const received = (client: TestClient, from: string) =>
  client.lines.filter((l) => l.includes(` ${from}: `) && / says \d+$/.test(l)).map((l) => l.slice(l.indexOf(`${from}: `) + from.length + 2));

describe('clear file and clear log while users are chatting', () => {
  it('keep every message flowing and stored; clients.csv is emptied, users online stay, and the log goes on', async () => {
    const t = await start();
    const b = await bystanders(t);
    const emptyClients = (await t.readFile('clients.csv')).split('\n')[0] + '\n';

    // (One clear at a time: the console answers a second one typed during the first with "busy".)
    b.alice.send(...burst('alice', 100));
    const carolSigningIn = signIn(t.port, 'carol', 'secret3'); // registers during the burst and the clear
    await t.ask('clear file', /clients\.csv emptied/);
    b.alice.send(...burst('alice', 200).slice(100, 200));
    await t.ask('clear log', /Log cleared/);
    b.alice.send(...burst('alice', 300).slice(200));
    const carol = await carolSigningIn;

    await b.bob.expect('alice: alice says 299');
    expect(received(b.bob, 'alice')).toEqual(burst('alice', 300));
    const stored = historyRecords(await t.readFile('history.csv'));
    expect(stored.map((r) => r.text)).toEqual(['before the attack, from alice', 'before the attack, from bob', ...burst('alice', 300)]);
    // Emptied, then maybe carol's registration, if it was saved after the clear: never half of one.
    const clients = await t.readFile('clients.csv');
    expect(clients.startsWith(emptyClients)).toBe(true);
    expect(clients.split('\n').length - 2).toBeLessThanOrEqual(1);
    carol.send('/who');
    expect(await carol.expect(/^Online/)).toBe('Online (3): alice, bob, carol');
    await roundTrip(b.alice, b.bob, 5000); // they still chat (a hang guard, not a measure)
    await t.server.shutdown(); // flushes server.log
    const log = await t.readFile('server.log');
    expect(log).not.toMatch(/console: clear file/); // logged before the clear, so cleared
    expect(log).toMatch(/server stopped/);
  });
});

describe('shutdown under load', () => {
  it('tells everyone and closes, and every message anybody received is in history.csv; each sender’s stored messages are a gapless prefix', async () => {
    const t = await start();
    const b = await bystanders(t);
    const carol = await signIn(t.port, 'carol', 'secret3');
    const senders = { alice: b.alice, bob: b.bob, carol };

    for (const [name, client] of Object.entries(senders)) client.send(...burst(name, 300));
    await b.bob.expect('alice: alice says 50');
    t.command('shutdown');

    for (const client of Object.values(senders)) {
      expect(await client.expect(/shutting down/)).toBe(text.shuttingDown);
      await client.expectClosed();
    }
    await t.server.stopped;
    const stored = historyRecords(await t.readFile('history.csv'));
    const storedTexts = new Set(stored.map((r) => `${r.login}: ${r.text}`));
    for (const [receiverName, receiver] of Object.entries(senders)) {
      for (const from of Object.keys(senders)) {
        if (from === receiverName) continue;
        for (const message of received(receiver, from)) expect(storedTexts).toContain(`${from}: ${message}`);
      }
    }
    for (const name of Object.keys(senders)) {
      const mine = stored.filter((r) => r.login === name && / says \d+$/.test(r.text)).map((r) => r.text);
      expect(mine).toEqual(burst(name, mine.length));
    }
    expect(stored.length).toBeGreaterThan(50);
  });
});
