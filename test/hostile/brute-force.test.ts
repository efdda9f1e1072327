/**
 * Attacks on accounts: guessing a password over and over (from one connection after another,
 * or many at once), and racing to register the same login. The login throttle's delays are
 * shortened here (100 ms doubling to 400 ms; the defaults are 1 s doubling to 30 s).
 */
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { makeDataDir, register, signIn, TestClient, useTestServers } from '../integration/harness.js';
import { bystanders, expectUnharmed, reopenStores } from './helpers.js';

const start = useTestServers();
const FAST_THROTTLE = { loginDelayBaseMs: 100, loginDelayMaxMs: 400 };

/** One connection's three wrong guesses; resolves with how long each answer took (ms). */
async function guessThrice(port: number, login: string, round: number): Promise<number[]> {
  const client = await TestClient.connect(port);
  client.send(login);
  const waits: number[] = [];
  for (let i = 1; i <= 3; i++) {
    await client.expect(/^Password:/);
    const sentAt = performance.now();
    client.send(`wrong-${round}-${i}`);
    await client.expect(i < 3 ? /^Wrong password/ : /^Too many wrong passwords/);
    waits.push(performance.now() - sentAt);
  }
  await client.expectClosed();
  return waits;
}

describe('brute force', () => {
  it('disconnects after every third wrong password, and makes each further guess wait longer, up to the cap', async () => {
    const t = await start(FAST_THROTTLE);
    const b = await bystanders(t);
    await register(t.port, 'carol', 'secret3');

    const first = await guessThrice(t.port, 'carol', 1);
    const second = await guessThrice(t.port, 'carol', 2);
    const third = await guessThrice(t.port, 'carol', 3);

    // Three free guesses, then 100, 200, 400 ms, then the cap. (Lower bounds: measured waits.)
    expect(Math.max(...first)).toBeLessThan(100);
    expect(second[0]).toBeGreaterThanOrEqual(95);
    expect(second[1]).toBeGreaterThanOrEqual(195);
    expect(second[2]).toBeGreaterThanOrEqual(395);
    for (const wait of third) expect(wait).toBeGreaterThanOrEqual(395);
    // The bystanders chat as usual meanwhile, and the owner still gets in — after the delay.
    await expectUnharmed(t, b);
    const startedAt = performance.now();
    const carol = await signIn(t.port, 'carol', 'secret3', true);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(395);
    carol.send('/quit');
    await carol.expectClosed();
    // A correct password resets the count: no wait any more.
    const again = performance.now();
    await signIn(t.port, 'carol', 'secret3', true);
    expect(performance.now() - again).toBeLessThan(300);
  });

  it('spaces guesses from many connections at once one delay apart: parallel guessing is no faster', async () => {
    const t = await start({ loginDelayBaseMs: 100, loginDelayMaxMs: 100 });
    const b = await bystanders(t);
    await register(t.port, 'carol', 'secret3');
    await guessThrice(t.port, 'carol', 0); // from now on, every guess waits 100 ms
    const guessers = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(t.port)));
    for (const guesser of guessers) guesser.send('carol');
    await Promise.all(guessers.map((guesser) => guesser.expect(/^Password:/)));
    const startedAt = performance.now();

    guessers.forEach((guesser, i) => guesser.send(`parallel-${i}`));
    await Promise.all(guessers.map((guesser) => guesser.expect(/^Wrong password/)));

    // Six guesses, each in its own slot one delay after the last: at least 6 × 100 ms.
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(590);
    await expectUnharmed(t, b);
  });
});

describe('registration race', () => {
  it('lets exactly one of eight clients registering the same login at the same instant win; clients.csv holds one record', async ({
    onTestFinished,
  }) => {
    const dataDir = await makeDataDir();
    onTestFinished(() => fs.rm(dataDir, { recursive: true, force: true }));
    const t = await start({ dataDir });
    const b = await bystanders(t);
    const spellings = ['dave', 'Dave', 'DAVE', 'dAve', 'daVe', 'davE', 'DAve', 'daVE'];
    const racers = await Promise.all(spellings.map(() => TestClient.connect(t.port)));
    await Promise.all(racers.map((racer) => racer.expect(/^Enter your login:/)));

    // Each types everything ahead, with its own password, all in the same event-loop turn.
    racers.forEach((racer, i) => racer.send(spellings[i]!, `secret-${i}`, `secret-${i}`));
    // A loser hears that the login was just taken — or, if the winner was quicker still, that it
    // is registered (a password prompt: its password is wrong) or online already.
    const outcomes = await Promise.all(
      racers.map((racer) => racer.expect(/^(Welcome|.*registered by someone else|Wrong password|.*already logged in)/)),
    );

    const winners = outcomes.filter((line) => /You are registered/.test(line));
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((line) => /^Welcome back/.test(line))).toHaveLength(0);
    const winner = outcomes.findIndex((line) => /You are registered/.test(line));
    expect(winners[0]).toBe(text.welcomeNew(spellings[winner]!));
    await expectUnharmed(t, b);
    await t.stop();
    expect((await reopenStores(dataDir)).users).toBe(3); // alice, bob and one dave
    // The winner's password is the one that was stored.
    const restarted = await start({ dataDir });
    await signIn(restarted.port, 'dave', `secret-${winner}`, true);
  });
});
