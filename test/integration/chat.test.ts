/**
 * The chat protocol over real TCP: signing in, registering, chatting, the slash commands.
 * Each test starts its own server on 127.0.0.1 port 0 with a temp data dir.
 */
import type { Socket } from 'node:net';
import { HELP_LINES, usageFor } from '../../src/machines/commands.js';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { LOBBY, loginNameProblem, text } from '../../src/machines/protocol.js';
import { ManualClock } from '../support/manual-clock.js';
import { register, signIn, TestClient, useTestServers } from './harness.js';

const start = useTestServers();

/** history.csv as records (timestamp, login, text). */
function historyRecords(csv: string): Array<{ timestamp: string; login: string; text: string }> {
  return parse(csv, { columns: true });
}

describe('signing in', () => {
  it.each([['the login prompt', 0], ['the password prompt of a new login', 1]])('says Bye and hangs up on "/quit" at %s', async (_, step) => {
    const t = await start();
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);
    if (step === 1) {
      client.send('alice');
      await client.expect(/choose a password/i);
    }

    client.send('/quit');

    expect(await client.expect(/^Bye!$/)).toBe(text.bye);
    await client.expectClosed();
    expect(await t.readFile('clients.csv')).not.toContain('alice');
  });

  it('registers a new login, then welcomes it back on a new connection', async () => {
    const t = await start();
    const first = await TestClient.connect(t.port);
    await first.expect(/^Enter your login:/);
    first.send('alice');
    await first.expect(/choose a password/i);
    first.send('secret1');
    await first.expect(/repeat/i);
    first.send('secret1');
    expect(await first.expect(/welcome/i)).toBe(text.welcomeNew('alice'));
    first.close();
    await first.closed;

    const again = await TestClient.connect(t.port);
    await again.expect(/^Enter your login:/);
    again.send('alice');
    await again.expect(/^Password:/);
    again.send('secret1');

    expect(await again.expect(/welcome/i)).toBe(text.welcomeBack('alice'));
  });

  it('treats logins case-insensitively: registering "Alice" when "alice" exists asks for her password', async () => {
    const t = await start();
    await register(t.port, 'alice', 'secret1');
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);

    client.send('Alice');

    const next = await client.expect(/password/i);
    expect(next).toBe(text.passwordPrompt);
  });

  it.each([
    ['an empty line', ''],
    ['a login over 32 characters', 'a'.repeat(33)],
    ['a login with a space', 'bob smith'],
    ['a login with a symbol', 'bob!'],
  ])('gives the reason and the login prompt again for %s', async (_, login) => {
    const t = await start();
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);

    client.send(login);

    expect(await client.expect(/^A login /)).toBe(loginNameProblem(login));
    await client.expect(/^Enter your login:/);
    client.send('bob'); // and the session goes on
    await client.expect(/choose a password/i);
  });

  it('asks for the password again after a wrong one, and closes after the third', async () => {
    const t = await start();
    await register(t.port, 'alice', 'secret1');
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);
    client.send('alice');
    await client.expect(/^Password:/);

    client.send('wrong-1');
    expect(await client.expect(/^Wrong password/)).toBe(text.wrongPassword(2));
    await client.expect(/^Password:/);
    client.send('wrong-2');
    expect(await client.expect(/^Wrong password/)).toBe(text.wrongPassword(1));
    await client.expect(/^Password:/);
    client.send('wrong-3');

    expect(await client.expect(/too many/i)).toBe(text.tooManyWrongPasswords);
    await client.expectClosed();
  });

  it('delays the next attempt on a login that has just had three wrong passwords', async () => {
    const clock = new ManualClock();
    const t = await start({}, { timers: clock });
    await register(t.port, 'alice', 'secret1');
    const guesser = await TestClient.connect(t.port);
    guesser.send('alice', 'wrong-1', 'wrong-2', 'wrong-3');
    await guesser.expect(/too many/i);
    await guesser.expectClosed();
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);
    client.send('alice');
    await client.expect(/^Password:/);

    client.send('secret1');

    // The check waits for the throttle's first delay, 1 s on the server's clock: not a ms less.
    await clock.whenPending(1000);
    clock.advance(999);
    const side = [...t.server.connections.values()].find((c) => (c.link.socket as Socket).remotePort === client.socket.localPort)!;
    expect(side.actor.getSnapshot().matches({ authenticating: 'verifyingPassword' }), 'checked before the delay').toBe(true);
    clock.advance(1);
    expect(await client.expect(/welcome/i)).toBe(text.welcomeBack('alice'));
  });

  it('asks again for a new password that is too short', async () => {
    const t = await start({ minPasswordLength: 6 });
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);
    client.send('alice');
    await client.expect(/choose a password/i);

    client.send('abc');

    expect(await client.expect(/too short/)).toBe(text.passwordTooShort(6));
    await client.expect(/choose a password/i);
    client.send('abcdef');
    await client.expect(/repeat/i);
  });

  it('starts the password over when the repetition differs', async () => {
    const t = await start();
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);
    client.send('alice');
    await client.expect(/choose a password/i);
    client.send('secret1');
    await client.expect(/repeat/i);

    client.send('secret2');

    expect(await client.expect(/do not match/)).toBe(text.passwordsDiffer);
    await client.expect(/choose a password/i);
    client.send('secret2');
    await client.expect(/repeat/i);
    client.send('secret2');
    expect(await client.expect(/welcome/i)).toBe(text.welcomeNew('alice'));
  });

  it('refuses a login that is already online, and leaves the first session alone', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    const intruder = await TestClient.connect(t.port);
    await intruder.expect(/^Enter your login:/);

    intruder.send('ALICE');

    // Refused under the spelling it was registered with, not the one typed.
    expect(await intruder.expect(/already logged in/)).toBe(text.alreadyOnline('alice'));
    await intruder.expect(/^Enter your login:/);
    expect(intruder.lines.some((line) => /password/i.test(line))).toBe(false);
    alice.send('still here');
    await bob.expect('alice: still here');
    bob.send('/who');
    expect(await bob.expect(/^Online/)).toBe('Online (2): alice, bob');
  });

  it('lets exactly one of two simultaneous registrations of the same login win', async () => {
    const t = await start();
    const [first, second] = await Promise.all([TestClient.connect(t.port), TestClient.connect(t.port)]);

    first.send('carol', 'secret1', 'secret1');
    second.send('Carol', 'secret2', 'secret2');

    const outcomes = await Promise.all(
      [first, second].map((client) => client.expect(/^(Welcome|.*registered by someone else)/)),
    );
    expect(outcomes.filter((line) => line.startsWith('Welcome'))).toHaveLength(1);
    const loser = outcomes[0]!.startsWith('Welcome') ? second : first;
    expect(outcomes).toContain(text.loginTaken(loser === first ? 'carol' : 'Carol'));
    await loser.expect(/^Enter your login:/);
  });

  it('lets only one of two simultaneous logins as the same user in', async () => {
    const t = await start();
    await register(t.port, 'alice', 'secret1');
    const [first, second] = await Promise.all([TestClient.connect(t.port), TestClient.connect(t.port)]);

    first.send('alice', 'secret1');
    second.send('alice', 'secret1');

    const outcomes = await Promise.all([first, second].map((client) => client.expect(/^(Welcome|.*already logged in)/)));
    expect(outcomes.filter((line) => line.startsWith('Welcome'))).toHaveLength(1);
    expect(outcomes).toContain(text.alreadyOnline('alice'));
  });

  it('accepts telnet line endings (CR LF)', async () => {
    const t = await start();
    const client = await TestClient.connect(t.port);

    client.write('alice\r\nsecret1\r\nsecret1\r\n');

    expect(await client.expect(/welcome/i)).toBe(text.welcomeNew('alice'));
  });

  it('closes a sign-in that is not completed within the login timeout', async () => {
    const t = await start({ loginTimeoutMs: 300 });
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);

    client.send('alice'); // half-way through: the timeout covers the whole sign-in

    expect(await client.expect(/timed out/)).toBe(text.loginTimeout);
    await client.expectClosed();
  });

  it('keeps lines typed ahead while it checks a password: login, password and a message in one write', async () => {
    const t = await start();
    await register(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    const alice = await TestClient.connect(t.port);

    alice.send('alice', 'secret1', 'typed ahead'); // before even the greeting

    expect(await alice.expect(/welcome/i)).toBe(text.welcomeBack('alice'));
    expect(await bob.expect('typed ahead')).toMatch(/alice: typed ahead$/);
  });

  it('keeps lines typed ahead while it saves a registration', async () => {
    const t = await start();
    const bob = await signIn(t.port, 'bob', 'secret2');
    const carol = await TestClient.connect(t.port);

    carol.send('carol', 'secret3', 'secret3', 'first words', '/who');

    expect(await carol.expect(/welcome/i)).toBe(text.welcomeNew('carol'));
    expect(await bob.expect('first words')).toMatch(/carol: first words$/);
    expect(await carol.expect(/^Online/)).toBe('Online (2): bob, carol');
  });
});

describe('chatting', () => {
  it('delivers a message to every other logged-in user and not back to the sender', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    const carol = await signIn(t.port, 'carol', 'secret3');

    alice.send('hello, everyone');

    expect(await bob.expect('hello, everyone')).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] alice: hello, everyone$/);
    expect(await carol.expect('hello, everyone')).toMatch(/alice: hello, everyone$/);
    const before = await alice.sync(); // /history is answered only after the message was routed
    expect(before.filter((l) => l.includes('hello, everyone'))).toEqual([]);
  });

  it('tells the others when someone joins', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');

    const bob = await signIn(t.port, 'bob', 'secret2');

    expect(await alice.expect(/joined/)).toBe(text.joined('bob', LOBBY));
    expect(await bob.sync()).not.toContain(text.joined('bob', LOBBY));
  });

  it.each([
    ['/who', 'Online (2): alice, bob'],
    ['/msg bob hi', '(private to bob) hi'],
  ])('shows a join notice before the answer to a %s that names the newcomer', async (command, answer) => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const before = alice.lines.length;
    await signIn(t.port, 'bob', 'secret2');
    // At once: join notices wait a moment for company (10 ms in a small room), answers do not.
    alice.send(command);

    await alice.expect(answer);
    const seen = alice.lines.slice(before);
    expect(seen.indexOf(text.joined('bob', LOBBY))).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf(text.joined('bob', LOBBY))).toBeLessThan(seen.indexOf(answer));
  });

  it.each([
    ['/quit', (client: TestClient) => client.send('/quit')],
    ['dropping the connection', (client: TestClient) => client.close()],
  ])('tells the others when someone leaves by %s', async (_, leave) => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    await alice.expect(/joined/);

    leave(bob);

    expect(await alice.expect(/left/)).toBe(text.left('bob', LOBBY));
    alice.send('/who');
    expect(await alice.expect(/^Online/)).toBe('Online (1): alice');
  });

  it('keeps the order of chat messages and commands that arrive in one write', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    // The runs of plain messages go to alice's machine as one event each; the commands between them one by one.
    const before = alice.lines.length;
    alice.send('one', 'two', '/msg bob psst', 'three', '/who', '/nope', 'four', 'five');

    await bob.expect(/alice: five$/);
    const fromAlice = bob.lines.filter((l) => /alice: /.test(l)).map((l) => l.replace(/^\[[\d: -]+\] (\(private\) )?alice: /, '$1'));
    expect(fromAlice).toEqual(['one', 'two', '(private) psst', 'three', 'four', 'five']);
    // Alice's answers come in the order she typed the commands.
    await alice.expect(/^Unknown command/);
    const answers = alice.lines.slice(before).filter((l) => !l.startsWith('* ')); // not bob's join notice
    expect(answers).toEqual(['(private to bob) psst', 'Online (2): alice, bob', text.unknownCommand('/nope')]);
    const stored = historyRecords(await t.readFile('history.csv'));
    expect(stored.map((r) => r.text)).toEqual(['one', 'two', 'three', 'four', 'five']);
  });

  it('delivers a burst of 200 messages in order, and stores all 200 in history.csv', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    const burst = Array.from({ length: 200 }, (_, i) => `burst ${i}`);

    alice.send(...burst);

    await bob.expect(/alice: burst 199$/);
    const received = bob.lines.filter((l) => / alice: burst \d+$/.test(l)).map((l) => l.slice(l.indexOf('burst')));
    expect(received).toEqual(burst);
    const stored = historyRecords(await t.readFile('history.csv'));
    expect(stored.map((r) => `${r.login}: ${r.text}`)).toEqual(burst.map((b) => `alice: ${b}`));
  });

  it('gives a user who joins during a burst every message exactly once: the replay, then live', async () => {
    const t = await start({ historyReplay: 100 });
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await TestClient.connect(t.port);
    const burst = Array.from({ length: 60 }, (_, i) => `tick ${i}`);

    alice.send(...burst);
    bob.send('bob', 'secret2', 'secret2'); // joins while the burst is being stored and delivered

    await bob.expect(/welcome/i);
    alice.send('/msg bob done');
    await bob.expect('(private) alice: done'); // routed after the whole burst

    // Replayed ("[date time] alice: …") and live ("[time] alice: …") lines together.
    const seen = bob.lines.filter((l) => / alice: tick \d+$/.test(l)).map((l) => l.slice(l.indexOf('tick')));
    expect(seen).toEqual(burst);
  });

  it('replays the last 20 messages after the welcome by default', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    alice.send(...Array.from({ length: 25 }, (_, i) => `message ${i + 1}`));
    await alice.sync();

    const bob = await signIn(t.port, 'bob', 'secret2');

    const replay = bob.replay!;
    expect(replay.header).toBe(text.historyHeader(20));
    expect(replay.messages).toHaveLength(20);
    expect(replay.messages[0]).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] alice: message 6$/);
    expect(replay.messages[19]).toMatch(/ alice: message 25$/);
  });

  it('replays as many messages as historyReplay (--history) says', async () => {
    const t = await start({ historyReplay: 3 });
    const alice = await signIn(t.port, 'alice', 'secret1');
    alice.send('one', 'two', 'three', 'four');
    await alice.sync();

    const bob = await signIn(t.port, 'bob', 'secret2');

    const replay = bob.replay!;
    expect(replay.header).toBe(text.historyHeader(3));
    expect(replay.messages.map((l) => l.replace(/^\[.*?\] /, ''))).toEqual(['alice: two', 'alice: three', 'alice: four']);
  });

  it('says there are no messages yet to the first user of a new server', async () => {
    const t = await start();

    const alice = await signIn(t.port, 'alice', 'secret1');

    expect(alice.replay).toEqual({ header: text.noHistory, messages: [] });
    expect(alice.lines.slice(-2)).toEqual([text.welcomeNew('alice'), text.noHistory]);
  });

  it('answers /history n with the last n messages', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    alice.send('one', 'two', 'three');
    await bob.expect('alice: three');

    bob.send('/history 2');

    const reply = await bob.expectHistory();
    expect(reply.header).toBe(text.historyHeader(2));
    expect(reply.messages.map((l) => l.replace(/^\[.*?\] /, ''))).toEqual(['alice: two', 'alice: three']);
  });

  it('answers /history with a usage line when n is out of range', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send('/history 0');

    expect(await alice.expect(/^Usage/)).toBe(usageFor('/history'));
  });

  it('includes in /history the message the user sent just before it', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send('my last words', '/history 1');

    const reply = await alice.expectHistory();
    expect(reply.messages).toHaveLength(1);
    expect(reply.messages[0]).toMatch(/ alice: my last words$/);
  });

  it('answers /who with everyone online', async () => {
    const t = await start();
    await signIn(t.port, 'carol', 'secret3');
    await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    bob.send('/who');

    expect(await bob.expect(/^Online/)).toBe('Online (3): alice, bob, carol');
  });

  it('delivers /msg to the one user named, and does not store it in history', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    const carol = await signIn(t.port, 'carol', 'secret3');

    alice.send('/msg bob psst, the cake is in the fridge');

    expect(await bob.expect('psst')).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \(private\) alice: psst, the cake is in the fridge$/);
    expect(await alice.expect('psst')).toBe('(private to bob) psst, the cake is in the fridge');
    expect((await carol.sync()).filter((l) => l.includes('psst'))).toEqual([]);
    expect(await t.readFile('history.csv')).not.toContain('psst');
  });

  it('answers /msg to oneself with a notice', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send('/msg ALICE note to self');

    expect(await alice.expect(/you/)).toBe('That is you.');
  });

  it('answers /msg to a login nobody registered with a notice', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send('/msg zed are you there?');

    expect(await alice.expect(/zed/)).toBe('No user named zed is registered.');
  });

  it('never lets a private message overtake the sender’s earlier chat message', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    alice.send('public first', '/msg bob private second');

    await bob.expect('private second');
    const order = bob.lines.filter((l) => /first|second/.test(l)).map((l) => l.replace(/^\[.*?\] /, ''));
    expect(order).toEqual(['alice: public first', '(private) alice: private second']);
  });

  it('delivers a leaver’s last message before the leave notice', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    alice.send('last words', '/quit');

    await bob.expect(/left/);
    expect(bob.lines.slice(-2).map((l) => l.replace(/^\[.*?\] /, ''))).toEqual(['alice: last words', text.left('alice', LOBBY)]);
  });

  it('answers /help with the list of commands', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send('/help');

    for (const line of HELP_LINES) expect(await alice.expect(line)).toBe(line);
  });

  it('answers an unknown command with a hint, and broadcasts nothing', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    alice.send('/frobnicate now');

    expect(await alice.expect(/^Unknown command/)).toBe(text.unknownCommand('/frobnicate'));
    expect((await bob.sync()).filter((l) => l.includes('frobnicate'))).toEqual([]);
  });

  it('says Bye to /quit and closes the connection', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');

    alice.send('/quit');

    expect(await alice.expect(/bye/i)).toBe(text.bye);
    await alice.expectClosed();
  });

  it('ignores a line over the limit with a notice, and the session goes on', async () => {
    const t = await start({ maxLineBytes: 64 });
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    alice.send('x'.repeat(65));

    expect(await alice.expect(/too long/i)).toBe(text.lineTooLong(64));
    alice.send('short one');
    await bob.expect('alice: short one');
    expect(bob.lines.filter((l) => l.includes('xxx'))).toEqual([]);
  });

  it('keeps quotes, commas and any Unicode text of a message intact through history.csv', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const tricky = 'she said "hi", then left;\ttabs stay — ünïcödé ✓ 🎉';

    alice.send(tricky);
    await alice.sync();

    expect(historyRecords(await t.readFile('history.csv')).map((r) => r.text)).toEqual([tricky]);
    const bob = await signIn(t.port, 'bob', 'secret2');
    expect(bob.replay!.messages).toEqual([expect.stringMatching(/^\[[^\]]+\] alice: /)]);
    expect(bob.replay!.messages[0]!.endsWith(` alice: ${tricky}`)).toBe(true);
  });

  it('strips control characters from chat text before delivering and storing it', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    alice.send('\x1b[31mred\x1b[0m alert\x07\x00!');

    const received = await bob.expect('alert');
    expect(received).toMatch(/ alice: \[31mred\[0m alert!$/);
    const stored = historyRecords(await t.readFile('history.csv'));
    expect(stored.map((r) => r.text)).toEqual(['[31mred[0m alert!']);
    // eslint-disable-next-line no-control-regex
    expect(await t.readFile('history.csv')).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });
});
