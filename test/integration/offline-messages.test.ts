/**
 * Private messages left for a user offline, over real TCP: what the sender is told, what the
 * recipient gets at their next sign-in (after the welcome and the replay, each with the time it
 * was sent), across a server restart, the limit of waiting messages, and a disk that fails.
 */
import { describe, expect, it } from 'vitest';
import { type AppendHandle, openAppendHandle, type OpenAppendHandle } from '../../src/io/durable-file.js';
import { MAX_WAITING_MESSAGES, text } from '../../src/machines/protocol.js';
import { makeDataDir, register, signIn, type TestClient, useTestServers } from './harness.js';

const start = useTestServers();
const STAMP = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\] /;

/** The waiting messages a client was given right after its replay: the lines between header and footer. */
async function waitingMessages(client: TestClient): Promise<string[]> {
  const header = await client.next();
  expect(header).toMatch(/^--- \d+ private messages? left while you were away ---$/);
  const lines: string[] = [];
  for (let line = await client.next(); line !== text.waitingFooter; line = await client.next()) lines.push(line);
  expect(header).toBe(text.waitingHeader(lines.length));
  return lines;
}

/** The time of a stamped line, to the second, in ms since the epoch. */
function stampTime(line: string): number {
  const [, date, time] = STAMP.exec(line)!;
  return Date.parse(`${date}T${time}Z`);
}

describe('offline messages', () => {
  it('tells the sender the message waits, and gives it to the recipient at their next sign-in, with the time it was sent', async () => {
    const t = await start();
    await register(t.port, 'bob', 'secret2');
    const alice = await signIn(t.port, 'alice', 'secret1');

    const before = Math.floor(Date.now() / 1000) * 1000;
    alice.send('/msg bob the cake is in the fridge');
    expect(await alice.next()).toBe('bob is offline: your message will be delivered when they sign in.');
    alice.send('/msg BOB and the key under the mat');
    expect(await alice.next()).toBe(text.privateLeft('bob'));
    const after = Date.now();

    const bob = await signIn(t.port, 'bob', 'secret2', true);
    const lines = await waitingMessages(bob);
    expect(lines.map((l) => l.replace(STAMP, ''))).toEqual(['(private) alice: the cake is in the fridge', '(private) alice: and the key under the mat']);
    for (const line of lines) {
      expect(stampTime(line)).toBeGreaterThanOrEqual(before);
      expect(stampTime(line)).toBeLessThanOrEqual(after);
    }

    // Delivered once: the next sign-in has none waiting (its welcome and replay, then live lines only).
    bob.send('/quit');
    await bob.expectClosed();
    const again = await signIn(t.port, 'bob', 'secret2', true);
    again.send('/who');
    expect(await again.next()).toMatch(/^Online \(2\): /);
  });

  it('keeps the messages across a server restart, and the file shows neither logins nor text', async () => {
    const dataDir = await makeDataDir();
    const first = await start({ dataDir });
    await register(first.port, 'bob', 'secret2');
    const alice = await signIn(first.port, 'alice', 'secret1');
    alice.send('/msg bob remember the milk');
    expect(await alice.next()).toBe(text.privateLeft('bob'));
    const stored = await first.readFile('offline.csv');
    await first.stop();

    for (const word of ['alice', 'bob', 'milk']) expect(stored).not.toContain(word);
    const second = await start({ dataDir });
    const bob = await signIn(second.port, 'bob', 'secret2', true);
    expect((await waitingMessages(bob)).map((l) => l.replace(STAMP, ''))).toEqual(['(private) alice: remember the milk']);
  });

  it(`stores at most ${MAX_WAITING_MESSAGES} for one user, then tells the sender; the ones stored arrive in order`, async () => {
    const t = await start();
    await register(t.port, 'bob', 'secret2');
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send(...Array.from({ length: MAX_WAITING_MESSAGES + 1 }, (_, i) => `/msg bob note ${i + 1}`));
    for (let i = 0; i < MAX_WAITING_MESSAGES; i++) expect(await alice.next()).toBe(text.privateLeft('bob'));
    expect(await alice.next()).toBe(`bob is offline and has ${MAX_WAITING_MESSAGES} messages waiting already: yours was not stored.`);

    const bob = await signIn(t.port, 'bob', 'secret2', true);
    expect((await waitingMessages(bob)).map((l) => l.replace(STAMP, ''))).toEqual(
      Array.from({ length: MAX_WAITING_MESSAGES }, (_, i) => `(private) alice: note ${i + 1}`),
    );
  });

  it('answers a /msg to a login nobody registered, and stores nothing', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send('/msg zed hello?');

    expect(await alice.next()).toBe('No user named zed is registered.');
    expect((await t.readFile('offline.csv')).trim().split('\n')).toHaveLength(1);
  });

  it('delivers at once, not for later, to a user who is online', async () => {
    const t = await start();
    const bob = await signIn(t.port, 'bob', 'secret2');
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send('/msg bob psst');

    expect(await alice.next()).toBe('(private to bob) psst');
    expect((await bob.expect(/psst/)).replace(STAMP, '')).toBe('(private) alice: psst');
  });

  it('forgets the waiting messages on the console\'s "clear file": a login registered anew gets none', async () => {
    const t = await start();
    await register(t.port, 'bob', 'secret2');
    const alice = await signIn(t.port, 'alice', 'secret1');
    alice.send('/msg bob for the old bob');
    expect(await alice.next()).toBe(text.privateLeft('bob'));
    alice.send('/quit');
    await alice.expectClosed();

    await t.ask('clear file', /clients\.csv|cleared/i);
    // Gone from the file at once (a registration anew would also drop what waits for its login).
    expect((await t.readFile('offline.csv')).trim().split('\n')).toHaveLength(1);

    const bob = await signIn(t.port, 'bob', 'other-secret');
    bob.send('/who');
    expect(await bob.next()).toBe('Online (1): bob');
  });

  it('tells the sender when the message cannot be stored (a failing disk), stores nothing, and the session goes on', async () => {
    let failing = false;
    const sick: OpenAppendHandle = async (file) => {
      const real = await openAppendHandle(file);
      if (!file.endsWith('offline.csv')) return real;
      const handle: AppendHandle = {
        ...real,
        async append(data) {
          if (failing) throw Object.assign(new Error('ENOSPC: simulated, write'), { code: 'ENOSPC' });
          return real.append(data);
        },
      };
      return handle;
    };
    const t = await start({}, { openAppendHandle: sick });
    await register(t.port, 'bob', 'secret2');
    const alice = await signIn(t.port, 'alice', 'secret1');

    failing = true;
    alice.send('/msg bob lost?');
    expect(await alice.next()).toBe('Your message could not be stored, so it was not sent.');
    failing = false;
    alice.send('/msg bob kept');
    expect(await alice.next()).toBe(text.privateLeft('bob'));

    const bob = await signIn(t.port, 'bob', 'secret2', true);
    expect((await waitingMessages(bob)).map((l) => l.replace(STAMP, ''))).toEqual(['(private) alice: kept']);
  });
});
