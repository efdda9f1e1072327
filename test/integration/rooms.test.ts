/**
 * Rooms over real TCP: /join, /part, /rooms, /names, /topic, /me, the room limit, the console's
 * rooms / say #room / close #room, an idle room stopping, and a room actor that crashes.
 * Each test starts its own server on 127.0.0.1 port 0 with a temp data dir.
 */
import { describe, expect, it } from 'vitest';
import { usageFor } from '../../src/machines/commands.js';
import { MAX_ROOMS_PER_USER } from '../../src/machines/connection.js';
import { LOBBY, text } from '../../src/machines/protocol.js';
import { signIn, type TestClient, useTestServers } from './harness.js';

const start = useTestServers();
const PASSWORD = 'secret-password';


/** The next lines, exactly. */
async function expectLines(client: TestClient, lines: readonly string[]): Promise<void> {
  const got: string[] = [];
  for (let i = 0; i < lines.length; i++) got.push(await client.next());
  expect(got).toEqual(lines);
}

/** A chat line as delivered live, without its clock time. */
const untimed = (line: string) => line.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /, '');

async function nextUntimed(client: TestClient): Promise<string> {
  return untimed(await client.next());
}

async function joinRoom(client: TestClient, room: string): Promise<string> {
  client.send(`/join ${room}`);
  const answer = await client.expect(/^You joined /);
  await client.expectHistory();
  return answer;
}

/** alice and bob signed in, both in `room` (alice first), every notice so far read. */
async function aliceAndBobIn(port: number, room: string): Promise<{ alice: TestClient; bob: TestClient }> {
  const alice = await signIn(port, 'alice', PASSWORD);
  const bob = await signIn(port, 'bob', PASSWORD);
  await alice.expect(text.joined('bob', LOBBY));
  await joinRoom(alice, room);
  await joinRoom(bob, room);
  await alice.expect(text.joined('bob', room));
  return { alice, bob };
}

describe('rooms: joining, talking, leaving', () => {
  it('starts everyone in #lobby, where plain lines read as they always did', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    const bob = await signIn(t.port, 'bob', PASSWORD);
    expect(await alice.next()).toBe(text.joined('bob', LOBBY));

    bob.send('hi all');

    expect(await nextUntimed(alice)).toBe('bob: hi all');
  });

  it('joins a new room, says who is there, and sends plain lines to that room only', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    const bob = await signIn(t.port, 'bob', PASSWORD);
    const carol = await signIn(t.port, 'carol', PASSWORD);
    await alice.expect(text.joined('carol', LOBBY));
    await bob.expect(text.joined('carol', LOBBY));

    alice.send('/join #Dev');
    await expectLines(alice, [text.joinedRoom('#dev', 1), text.noHistory]);
    bob.send('/join #dev');
    await expectLines(bob, [text.joinedRoom('#dev', 2), text.noHistory]);
    expect(await alice.next()).toBe(text.joined('bob', '#dev'));

    bob.send('ship it');

    expect(await nextUntimed(alice)).toBe('#dev <bob> ship it');
    // carol is only in #lobby: nothing of #dev reaches her.
    expect(await carol.sync()).toEqual([]);
    expect(await bob.sync()).toEqual([]);
  });

  it('replays the history of the room joined, not that of #lobby', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    alice.send('in the lobby');
    await joinRoom(alice, '#dev');
    alice.send('in dev, one');
    alice.send('in dev, two');
    await alice.sync();

    const bob = await signIn(t.port, 'bob', PASSWORD);
    expect(bob.replay!.messages.map((l) => l.replace(/^\[[^\]]+\] /, ''))).toEqual(['alice: in the lobby']);
    bob.send('/join #dev');
    await bob.expect(text.joinedRoom('#dev', 2));
    const { header, messages } = await bob.expectHistory();

    expect(header).toBe(text.historyHeader(2));
    expect(messages.map((l) => l.replace(/^\[[^\]]+\] /, ''))).toEqual(['#dev <alice> in dev, one', '#dev <alice> in dev, two']);
  });

  it('answers /history with the current room\'s messages', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    alice.send('lobby line');
    await joinRoom(alice, '#dev');
    alice.send('dev line');

    alice.send('/history 5');
    const { messages } = await alice.expectHistory();

    expect(messages.map((l) => l.replace(/^\[[^\]]+\] /, ''))).toEqual(['#dev <alice> dev line']);
  });

  it('makes a room it is already in current again, without joining twice', async () => {
    const t = await start();
    const { alice, bob } = await aliceAndBobIn(t.port, '#dev');

    alice.send('/join #lobby');
    expect(await alice.next()).toBe(text.nowTalkingIn(LOBBY));
    alice.send('back in the lobby');
    alice.send('/join #DEV');
    expect(await alice.next()).toBe(text.nowTalkingIn('#dev'));
    alice.send('back in dev');

    expect(await nextUntimed(bob)).toBe('alice: back in the lobby');
    expect(await nextUntimed(bob)).toBe('#dev <alice> back in dev');
    expect(await bob.sync()).toEqual([]);
  });

  it('tells the members left behind when someone parts, and talks in #lobby again', async () => {
    const t = await start();
    const { alice, bob } = await aliceAndBobIn(t.port, '#dev');

    bob.send('/part');
    expect(await bob.next()).toBe(text.leftRoom('#dev', LOBBY));
    expect(await alice.next()).toBe(text.left('bob', '#dev'));
    bob.send('where am I');

    expect(await nextUntimed(alice)).toBe('bob: where am I');
  });

  it('refuses with a reason: /part of #lobby, of a room it is not in, a bad room name', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);

    alice.send('/part');
    alice.send('/part #nowhere');
    alice.send('/join dev');
    alice.send(`/join #${'x'.repeat(33)}`);
    alice.send('/join #dé');

    await expectLines(alice, [
      text.cannotLeaveLobby,
      text.notInRoom('#nowhere'),
      usageFor('/join'),
      usageFor('/join'),
      usageFor('/join'),
    ]);
    expect(usageFor('/join')).toMatch(/"#" then 1 to 32 letters, digits, "-" or "_"/);
  });

  it(`refuses a ${MAX_ROOMS_PER_USER + 1}st room with the reason, and still has the ${MAX_ROOMS_PER_USER}`, async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    for (let i = 1; i < MAX_ROOMS_PER_USER; i++) await joinRoom(alice, `#r${i}`);

    alice.send('/join #one-too-many');
    expect(await alice.next()).toBe(text.tooManyRooms(MAX_ROOMS_PER_USER));
    alice.send('/rooms');
    expect(await alice.next()).toBe(`Rooms (${MAX_ROOMS_PER_USER}):`);
  });

  it('refuses a new room beyond the server\'s limit with the reason, and still joins one that runs', async () => {
    const t = await start({}, { maxRooms: 3 });
    const alice = await signIn(t.port, 'alice', PASSWORD);
    const bob = await signIn(t.port, 'bob', PASSWORD);
    await joinRoom(alice, '#a');
    await joinRoom(alice, '#b');

    bob.send('/join #c');
    expect(await bob.next()).toBe('The server has 3 rooms already, the most it runs; join one of them (/rooms).');
    bob.send('/join #b');
    expect(await bob.next()).toBe(text.joinedRoom('#b', 2));
  });

  it('sends /me as an action line, with the room outside #lobby', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    const bob = await signIn(t.port, 'bob', PASSWORD);
    await alice.expect(text.joined('bob', LOBBY));

    alice.send('/me waves');
    expect(await nextUntimed(bob)).toBe('* alice waves');
    await joinRoom(alice, '#dev');
    await joinRoom(bob, '#dev');
    alice.send('/me  deploys \u001b[2Jnow ');
    expect(await nextUntimed(bob)).toBe('#dev * alice deploys [2Jnow');
  });
});

describe('rooms: listing and topics', () => {
  it('lists rooms with member counts and topics, and a room\'s members', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    const bob = await signIn(t.port, 'bob', PASSWORD);
    await alice.expect(text.joined('bob', LOBBY));
    await joinRoom(alice, '#dev');
    alice.send('/topic the build is green');
    expect(await alice.next()).toBe('* alice set the topic of #dev: the build is green');

    bob.send('/rooms');
    bob.send('/names #dev');
    bob.send('/names');
    bob.send('/names #nowhere');

    await expectLines(bob, [
      'Rooms (2):',
      '  #dev    1 member     the build is green',
      '  #lobby  2 members',
      'In #dev (1): alice',
      'In #lobby (2): alice, bob',
      text.noSuchRoom('#nowhere'),
    ]);
    // What the inspector shows of each room actor: its state and its member count.
    const rooms = t.server.supervisor.getSnapshot().children as Record<string, { getSnapshot(): { value: unknown; context: { members: number } } }>;
    expect(rooms['room:#dev']!.getSnapshot().context.members).toBe(1);
    expect(rooms['room:#lobby']!.getSnapshot().context.members).toBe(2);
    bob.send('/quit');
    await alice.expect(text.left('bob', LOBBY));
    expect(rooms['room:#lobby']!.getSnapshot().context.members).toBe(1);
  });

  it('shows and sets the topic, announces it to the room, and keeps it across a restart', async () => {
    const t = await start();
    const { alice, bob } = await aliceAndBobIn(t.port, '#dev');

    alice.send('/topic');
    expect(await alice.next()).toBe(text.noTopic('#dev'));
    alice.send('/topic release on Friday');
    expect(await alice.next()).toBe('* alice set the topic of #dev: release on Friday');
    expect(await bob.next()).toBe('* alice set the topic of #dev: release on Friday');
    bob.send('/topic');
    expect(await bob.next()).toBe(text.topicIs('#dev', 'release on Friday', 'alice'));
    bob.send(`/topic ${'x'.repeat(301)}`);
    expect(await bob.next()).toMatch(/at most 300 characters/);

    const { dataDir } = t;
    await t.server.shutdown();
    const again = await start({ dataDir });
    const carol = await signIn(again.port, 'carol', PASSWORD);
    carol.send('/join #dev');
    await expectLines(carol, [text.joinedRoom('#dev', 1), text.topicIs('#dev', 'release on Friday', 'alice')]);
  });
});

describe('rooms: the console', () => {
  it('lists rooms, says to one room or to everyone, and closes a room', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    const bob = await signIn(t.port, 'bob', PASSWORD);
    await alice.expect(text.joined('bob', LOBBY));
    await joinRoom(alice, '#ops');
    alice.send('/topic on call: alice');
    await alice.expect(/set the topic/);

    expect(await t.ask('rooms', /#ops.*\n/)).toContain('Rooms (2):\n  #lobby  2 members\n  #ops    1 member     on call: alice\n');
    await t.ask('say #ops disk at 90%', 'Sent to 1 user in #ops.');
    expect(await nextUntimed(alice)).toBe('#ops * [server] disk at 90%');
    await t.ask('say back in five', 'Sent to 2 users.');
    expect(await nextUntimed(alice)).toBe('* [server] back in five');
    expect(await nextUntimed(bob)).toBe('* [server] back in five');

    await t.ask('close #ops', 'Closed #ops: its members are back in #lobby.');
    await expectLines(alice, [text.roomClosed('#ops'), text.nowTalkingIn(LOBBY)]);
    alice.send('still here');
    expect(await nextUntimed(bob)).toBe('alice: still here');
    await t.ask('close #ops', 'There is no room #ops.');
    await t.ask('close #lobby', '#lobby cannot be closed');
    await t.ask('say #nowhere hello', 'There is no room #nowhere.');
  });
});

describe('rooms: the supervisor', () => {
  it('stops a room that stayed empty for the idle time; its history stays', async () => {
    const t = await start({}, { roomIdleMs: 50 });
    const alice = await signIn(t.port, 'alice', PASSWORD);
    await joinRoom(alice, '#tmp');
    alice.send('remember me');
    alice.send('/part');
    await alice.expect(text.leftRoom('#tmp', LOBBY));

    await t.waitForOutput('room #tmp stopped');
    expect(await t.ask('rooms', /Rooms \(\d+\):\n.*\n/)).toMatch(/Rooms \(1\):\n {2}#lobby +1 member\n/);

    alice.send('/join #tmp');
    await alice.expect(text.joinedRoom('#tmp', 1));
    const { messages } = await alice.expectHistory();
    expect(messages.map(untimed).map((l) => l.replace(/^\[[^\]]+\] /, ''))).toEqual(['#tmp <alice> remember me']);
  });

  it('restarts a room whose actor crashed: its members are told and stay, other rooms go on', async () => {
    let crashOnce = true;
    const t = await start({}, {
      onRoomPost: (room) => {
        if (room === '#fragile' && crashOnce) {
          crashOnce = false;
          throw new Error('injected room crash');
        }
      },
    });
    const { alice, bob } = await aliceAndBobIn(t.port, '#fragile');
    await joinRoom(bob, '#sturdy');

    alice.send('boom');

    expect(await alice.expect(/restarted/)).toBe(text.roomRestarted('#fragile'));
    expect(await bob.expect(/restarted/)).toBe(text.roomRestarted('#fragile'));
    await t.waitForOutput(/error: room #fragile failed and was restarted: .*injected room crash/);
    // The room is back with both members: the next line is delivered.
    alice.send('/join #fragile');
    await alice.expect(text.nowTalkingIn('#fragile'));
    alice.send('after the crash');
    expect(await bob.expect(/after the crash/)).toMatch(/#fragile <alice> after the crash$/);
    // Another room was not touched.
    bob.send('/join #sturdy');
    await bob.expect(text.nowTalkingIn('#sturdy'));
    bob.send('sturdy as ever');
    bob.send('/history 1');
    expect((await bob.expectHistory()).messages.map(untimed)).toEqual([expect.stringMatching(/#sturdy <bob> sturdy as ever$/)]);
  });
});
