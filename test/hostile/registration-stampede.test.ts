/**
 * A stampede on one new login: 1,000 connections register it at the same instant. Every one of
 * them is brought to the last step (the repeated password) before any may finish, so that all
 * 1,000 race inside the store's check-and-reserve, not in who happens to type first.
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { signIn, TestClient, useTestServers } from '../integration/harness.js';
import { bystanders, expectUnharmed } from './helpers.js';

const start = useTestServers();
const RACERS = 1000;
/** A hang guard for each stage of 1,000 clients, not a performance bound. */
const STAGE_MS = 15_000;

describe('1,000 registrations of the same new login at once', () => {
  it('lets exactly one win, tells the 999 others it was taken, and clients.csv holds one row for it', async () => {
    const t = await start();
    const b = await bystanders(t);
    const racers = await Promise.all(Array.from({ length: RACERS }, () => TestClient.connect(t.port)));
    await Promise.all(racers.map((racer) => racer.expect(/^Enter your login:/, STAGE_MS)));

    // Everyone is told the login is free, and is asked for a password and its repetition…
    for (const racer of racers) racer.send('stampede');
    await Promise.all(racers.map((racer) => racer.expect(/^Choose a password/, STAGE_MS)));
    racers.forEach((racer, i) => racer.send(`secret-${i}`));
    await Promise.all(racers.map((racer) => racer.expect(/^Repeat the password/, STAGE_MS)));
    // …and only then do all 1,000 confirm, in one event-loop turn.
    racers.forEach((racer, i) => racer.send(`secret-${i}`));
    // (Any answer that ends the registration counts, so that a second winner fails the test at
    // once: it is registered, then refused as online already.)
    const outcomes = await Promise.all(
      racers.map((racer) => racer.expect(/^(Welcome|.*registered by someone else|.*already logged in)/, STAGE_MS)),
    );

    const winner = outcomes.findIndex((line) => line === text.welcomeNew('stampede'));
    expect(outcomes.filter((line) => line.startsWith('Welcome'))).toEqual([text.welcomeNew('stampede')]);
    expect(outcomes.filter((line) => line === text.loginTaken('stampede'))).toHaveLength(RACERS - 1);
    // The losers are back at the login prompt, still connected.
    await Promise.all(racers.filter((_, i) => i !== winner).map((racer) => racer.expect(/^Enter your login:/, STAGE_MS)));
    // alice, bob and one stampede: three rows under the header.
    const rows = parse(await t.readFile('clients.csv'), { columns: true, strict: true } as never) as unknown[];
    expect(rows).toHaveLength(3);
    for (const racer of racers) racer.close();
    await Promise.all(racers.map((racer) => racer.closed));
    // The password that was stored is the winner's.
    await signIn(t.port, 'stampede', `secret-${winner}`, true);
    await expectUnharmed(t, b);
  }, 60_000);
});
