/**
 * `/passwd` and `/deleteaccount` over real TCP: what the client is asked and told, what a later
 * sign-in finds, and that a change racing a sign-in or registrations loses nothing.
 */
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { makeDataDir, register, signIn, startTestServer, TestClient, type TestServer, useTestServers } from './harness.js';
import { ManualClock } from '../support/manual-clock.js';

const start = useTestServers();

const OLD = 'old-secret';
const NEW = 'new-secret';

/** Runs /passwd from a signed-in client: the three answers, in order, each after its prompt. */
async function passwd(client: TestClient, current: string, next: string, repeat = next): Promise<void> {
  client.send('/passwd');
  await client.expect(/^Current password:$/);
  client.send(current);
  await client.expect(/^New password \(at least \d+ characters\):$/);
  client.send(next);
  await client.expect(/^Repeat the new password:$/);
  client.send(repeat);
}

/** A fresh connection's sign-in attempt as `login`: the first answer to its password. */
async function tryPassword(port: number, login: string, password: string): Promise<{ client: TestClient; answer: string }> {
  const client = await TestClient.connect(port);
  await client.expect(/^Enter your login:/);
  client.send(login);
  await client.expect(/^Password:$/);
  client.send(password);
  const answer = await client.expect(/^(Welcome|Wrong password|.* is already logged in)/);
  return { client, answer };
}

describe('/passwd', () => {
  it('changes the password: the next sign-in takes the new one and refuses the old one', async () => {
    const t = await start();
    await register(t.port, 'alice', OLD);
    const alice = await signIn(t.port, 'alice', OLD, true);

    await passwd(alice, OLD, NEW);
    await alice.expect(/^Password changed\.$/);
    alice.send('/quit');
    await alice.expectClosed();

    const withOld = await tryPassword(t.port, 'alice', OLD);
    expect(withOld.answer).toMatch(/^Wrong password\. 2 attempts left\.$/);
    withOld.client.send(NEW);
    await withOld.client.expect(/^Welcome back, alice!/);
  });

  it('keeps the password after a wrong current one, and the user goes on chatting', async () => {
    const t = await start();
    await register(t.port, 'alice', OLD);
    const alice = await signIn(t.port, 'alice', OLD, true);
    const bob = await signIn(t.port, 'bob', 'bob-secret');

    await passwd(alice, 'not-it', NEW);
    await alice.expect(/^Wrong password; your password is unchanged\.$/);
    alice.send('still here');
    await bob.expect(/alice: still here$/);
    alice.close();

    expect((await tryPassword(t.port, 'alice', OLD)).answer).toMatch(/^Welcome back/);
  });

  it('says why and keeps the password when the new one is too short or not repeated the same', async () => {
    const t = await start();
    await register(t.port, 'alice', OLD);
    const alice = await signIn(t.port, 'alice', OLD, true);

    alice.send('/passwd');
    await alice.expect(/^Current password:$/);
    alice.send(OLD);
    await alice.expect(/^New password/);
    alice.send('abc');
    await alice.expect(text.newPasswordTooShort(t.config.minPasswordLength));
    await passwd(alice, OLD, NEW, 'something-else');
    await alice.expect(text.newPasswordsDiffer);
    alice.close();

    expect((await tryPassword(t.port, 'alice', OLD)).answer).toMatch(/^Welcome back/);
  });

  it('never broadcasts a line typed at its prompts, while the others\' lines still arrive', async () => {
    const t = await start();
    await register(t.port, 'alice', OLD);
    const alice = await signIn(t.port, 'alice', OLD, true);
    const bob = await signIn(t.port, 'bob', 'bob-secret');

    alice.send('/passwd');
    await alice.expect(/^Current password:$/);
    bob.send('hello from bob');
    await alice.expect(/bob: hello from bob$/);
    alice.send(OLD);
    await alice.expect(/^New password/);
    alice.send('abc');
    await alice.expect(/too short/);

    const seen = await bob.sync();
    expect(seen.join('\n')).not.toMatch(/old-secret|abc/);
  });

  it('answers /passwd with arguments with its usage line', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', OLD);

    alice.send(`/passwd ${NEW}`);

    await alice.expect(/^Usage: \/passwd/);
  });

  it('counts a wrong current password toward the slowdown of sign-ins: past the free ones, the answer waits', async () => {
    const clock = new ManualClock();
    const t = await start({ loginDelayBaseMs: 100, loginDelayMaxMs: 400 }, { timers: clock });
    await register(t.port, 'alice', OLD);
    const alice = await signIn(t.port, 'alice', OLD, true);
    for (let i = 0; i < t.config.maxPasswordAttempts; i++) {
      await passwd(alice, `wrong-${i}`, NEW);
      await alice.expect(/^Wrong password; your password is unchanged\.$/);
    }

    await passwd(alice, `wrong-again`, NEW);
    await clock.whenPending(100);
    expect(alice.unread()).toEqual([]);
    clock.advance(100);

    await alice.expect(/^Wrong password; your password is unchanged\.$/);
  });

  it('loses nothing when a sign-in as the same account and registrations run during the change', async () => {
    const dataDir = await makeDataDir();
    let t: TestServer = await startTestServer({ dataDir });
    try {
      await register(t.port, 'alice', OLD);
      // Waiting at the password prompt since before alice signed in: its check races the change.
      const racer = await TestClient.connect(t.port);
      racer.send('alice');
      await racer.expect(/^Password:$/);
      const alice = await signIn(t.port, 'alice', OLD, true);

      alice.send('/passwd');
      await alice.expect(/^Current password:$/);
      alice.send(OLD);
      await alice.expect(/^New password/);
      alice.send(NEW);
      await alice.expect(/^Repeat/);
      alice.send(NEW);
      racer.send(OLD);
      const newcomers = Array.from({ length: 4 }, (_, i) => register(t.port, `user${i}`, `pw-${i}`));
      await alice.expect(/^Password changed\.$/);
      // Whichever hash it checked, alice is online: the racer cannot get in.
      await racer.expect(/alice is already logged in|Wrong password/);
      await Promise.all(newcomers);
      alice.send('/quit');
      await alice.expectClosed();
      await t.stop();

      t = await startTestServer({ dataDir }); // clients.csv passes every start-up check
      expect((await tryPassword(t.port, 'alice', OLD)).answer).toMatch(/^Wrong password/);
      expect((await tryPassword(t.port, 'alice', NEW)).answer).toMatch(/^Welcome back/);
      for (let i = 0; i < 4; i++) expect((await tryPassword(t.port, `user${i}`, `pw-${i}`)).answer).toMatch(/^Welcome back/);
    } finally {
      await t.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('/deleteaccount', () => {
  it('deletes the account once the password and the login are typed, says Bye, closes, and the others see the leave', async () => {
    const t = await start();
    await register(t.port, 'alice', OLD);
    const alice = await signIn(t.port, 'alice', OLD, true);
    const bob = await signIn(t.port, 'bob', 'bob-secret');
    alice.send('remember me');
    await bob.expect(/alice: remember me$/);

    alice.send('/deleteaccount');
    await alice.expect(/^Password:$/);
    alice.send(OLD);
    await alice.expect(/^Type your login again to confirm:$/);
    alice.send('alice');
    await alice.expect(/^Your account was deleted\. Bye!$/);
    await alice.expectClosed();

    await bob.expect(/^\* alice left the chat$/);
    // What alice said stays in the history.
    bob.send('/history 5');
    await bob.expect(/alice: remember me$/);
    // clients.csv: the header and bob's row, nothing of alice's.
    expect((await t.readFile('clients.csv')).split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('frees the login: it can be registered anew, with another password', async () => {
    const t = await start();
    await register(t.port, 'alice', OLD);
    const alice = await signIn(t.port, 'alice', OLD, true);
    alice.send('/deleteaccount');
    await alice.expect(/^Password:$/);
    alice.send(OLD);
    await alice.expect(/^Type your login/);
    alice.send('ALICE');
    await alice.expectClosed();

    const again = await signIn(t.port, 'alice', NEW); // offered registration: "Choose a password"
    expect(again.lines.some((l) => /^Welcome, alice! You are registered\./.test(l))).toBe(true);
    again.send('/quit');
    await again.expectClosed();
    expect((await tryPassword(t.port, 'alice', NEW)).answer).toMatch(/^Welcome back/);
  });

  it('keeps the account on a wrong password or another login typed, and the user goes on chatting', async () => {
    const t = await start();
    await register(t.port, 'alice', OLD);
    const alice = await signIn(t.port, 'alice', OLD, true);

    alice.send('/deleteaccount');
    await alice.expect(/^Password:$/);
    alice.send('not-it');
    await alice.expect(/^Wrong password; your account is kept\.$/);
    alice.send('/deleteaccount');
    await alice.expect(/^Password:$/);
    alice.send(OLD);
    await alice.expect(/^Type your login/);
    alice.send('bob');
    await alice.expect(/^That is not your login; your account is kept\.$/);
    alice.send('/who');
    await alice.expect(/^Online \(1\): alice$/);
    alice.close();

    expect((await tryPassword(t.port, 'alice', OLD)).answer).toMatch(/^Welcome back/);
  });
});
