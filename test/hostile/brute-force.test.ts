/**
 * Attacks on accounts: guessing a password over and over (from one connection after another,
 * or many at once), and racing to register the same login. The login throttle's delays are
 * shortened here (100 ms doubling to 400 ms; the defaults are 1 s doubling to 30 s), and run on
 * a manual clock: each answer is checked 1 ms before its delay and at it, not timed.
 */
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { DEFAULTS } from '../../src/io/config.js';
import { makeDataDir, register, signIn, TestClient, type TestServer, useTestServers } from '../integration/harness.js';
import { ManualClock } from '../support/manual-clock.js';
import { bystanders, expectUnharmed, reopenStores, serverSide } from './helpers.js';

const start = useTestServers();
const FAST_THROTTLE = { loginDelayBaseMs: 100, loginDelayMaxMs: 400 };
/** The throttle's delays are timers on the server's clock, as is the (60 s) login timeout. */
const throttleDelays = (clock: ManualClock) => clock.pendingDelays().filter((ms) => ms < DEFAULTS.loginTimeoutMs);

/**
 * After a password was sent: with `delay` 0 it is answered while the server's clock stands
 * still; otherwise it is still being held 1 ms before `delay` and answered at it.
 */
async function answeredAfter(t: TestServer, clock: ManualClock, client: TestClient, delay: number, answer: RegExp): Promise<string> {
  if (delay > 0) {
    await clock.whenPending(delay);
    clock.advance(delay - 1);
    expect(serverSide(t, client)!.actor.getSnapshot().matches({ authenticating: 'verifyingPassword' }), `answered before ${delay} ms`).toBe(true);
    clock.advance(1);
  }
  return client.expect(answer);
}

/** One connection's three wrong guesses, each answered after its delay in `delays` (ms of the server's clock). */
async function guessThrice(t: TestServer, clock: ManualClock, login: string, round: number, delays: number[]): Promise<void> {
  const client = await TestClient.connect(t.port);
  client.send(login);
  for (let i = 1; i <= 3; i++) {
    await client.expect(/^Password:/);
    client.send(`wrong-${round}-${i}`);
    await answeredAfter(t, clock, client, delays[i - 1]!, i < 3 ? /^Wrong password/ : /^Too many wrong passwords/);
  }
  await client.expectClosed();
}

describe('brute force', () => {
  it('disconnects after every third wrong password, and makes each further guess wait longer, up to the cap', async () => {
    const clock = new ManualClock();
    const t = await start(FAST_THROTTLE, { timers: clock });
    const b = await bystanders(t);
    await register(t.port, 'carol', 'secret3');

    // Three free guesses, then 100, 200, 400 ms, then the cap.
    await guessThrice(t, clock, 'carol', 1, [0, 0, 0]);
    await guessThrice(t, clock, 'carol', 2, [100, 200, 400]);
    await guessThrice(t, clock, 'carol', 3, [400, 400, 400]);

    // The bystanders chat as usual meanwhile, and the owner still gets in — after the delay.
    await expectUnharmed(t, b);
    const carol = await TestClient.connect(t.port);
    carol.send('carol');
    await carol.expect(/^Password:/);
    carol.send('secret3');
    await answeredAfter(t, clock, carol, 400, /^Welcome back/);
    carol.send('/quit');
    await carol.expectClosed();
    // A correct password resets the count: no wait any more (the clock stands still).
    await signIn(t.port, 'carol', 'secret3', true);
  });

  it('spaces guesses from many connections at once one delay apart: parallel guessing is no faster', async () => {
    const clock = new ManualClock();
    const t = await start({ loginDelayBaseMs: 100, loginDelayMaxMs: 100 }, { timers: clock });
    const b = await bystanders(t);
    await register(t.port, 'carol', 'secret3');
    await guessThrice(t, clock, 'carol', 0, [0, 0, 0]); // from now on, every guess waits 100 ms
    const guessers = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(t.port)));
    for (const guesser of guessers) guesser.send('carol');
    await Promise.all(guessers.map((guesser) => guesser.expect(/^Password:/)));

    guessers.forEach((guesser, i) => guesser.send(`parallel-${i}`));

    // Six guesses, each in its own slot one delay after the last.
    await clock.whenPending(600);
    expect(throttleDelays(clock)).toEqual([100, 200, 300, 400, 500, 600]);
    clock.advance(600);
    await Promise.all(guessers.map((guesser) => guesser.expect(/^Wrong password/)));
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
