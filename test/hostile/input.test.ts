/**
 * Hostile input: what a client can put on the wire — lines far over the limit, binary and
 * invalid UTF-8, NUL bytes, ten thousand lines in one packet. Each case checks that the server
 * stays up, that two bystanders still chat, that memory stays bounded, and that nothing stored
 * before the attack is lost (`expectUnharmed`).
 */
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loginNameProblem, sanitizeChatText, text } from '../../src/machines/protocol.js';
import { makeDataDir, signIn, TestClient, useTestServers } from '../integration/harness.js';
import { bystanders, eventually, expectUnharmed, historyRecords, liveBytes, MiB, reopenStores, serverSide } from './helpers.js';
import { ManualClock } from '../support/manual-clock.js';

const start = useTestServers();

/** Writes `total` bytes of `fill` without a newline, in 1 MiB writes; resolves when all are sent. */
async function writeLongLine(client: TestClient, total: number, fill = 'x'): Promise<void> {
  const chunk = Buffer.alloc(MiB, fill);
  for (let sent = 0; sent < total; sent += chunk.length) {
    await new Promise<void>((resolve, reject) => client.socket.write(chunk, (err) => (err ? reject(err) : resolve())));
  }
}

describe('lines over the limit', () => {
  it.each([
    ['at the login prompt', false],
    ['while chatting', true],
  ])('drops a 16 MiB line %s without holding it, says so, and the session goes on', async (_, signedIn) => {
    const t = await start();
    const b = await bystanders(t);
    const carol = signedIn ? await signIn(t.port, 'carol', 'secret3') : await TestClient.connect(t.port);
    if (!signedIn) await carol.expect(/^Enter your login:/);
    const before = liveBytes();

    await writeLongLine(carol, 16 * MiB);
    // The whole line has been read by the server (not just sent): only now does memory tell.
    await eventually(() => ((serverSide(t, carol)?.link.socket as Socket | undefined)?.bytesRead ?? 0) >= 16 * MiB, 'the server to read 16 MiB');
    const grown = liveBytes() - before;
    carol.write('\n');

    expect(grown).toBeLessThan(4 * MiB); // holding the line would be 16 MiB
    expect(await carol.expect(/too long/)).toBe(text.lineTooLong(t.config.maxLineBytes));
    if (signedIn) {
      carol.send('short again');
      await b.bob.expect('carol: short again');
    } else {
      await carol.expect(/^Enter your login:/);
      carol.send('carol');
      await carol.expect(/choose a password/i);
    }
    await expectUnharmed(t, b);
  });
});

describe('binary and invalid UTF-8', () => {
  it('answers random bytes at the login prompt with the prompt again, and still signs the client in after', async () => {
    const t = await start();
    const b = await bystanders(t);
    const noise = await TestClient.connect(t.port);
    await noise.expect(/^Enter your login:/);

    noise.write(noiseLines(640));
    noise.write('noise\nsecret4\nsecret4\n');

    expect(await noise.expect(/welcome/i)).toBe(text.welcomeNew('noise'));
    expect(noise.lines.filter((line) => line.startsWith('A login'))).toHaveLength(640);
    await expectUnharmed(t, b);
  });

  it('delivers and stores invalid UTF-8 as U+FFFD, identically, and history.csv still parses', async ({ onTestFinished }) => {
    const dataDir = await makeDataDir();
    onTestFinished(() => fs.rm(dataDir, { recursive: true, force: true }));
    const t = await start({ dataDir });
    const b = await bystanders(t);
    const bytes = Buffer.concat([
      Buffer.from('lone: '),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(' overlong: '),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from(' surrogate: '),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from(' cut: '),
      Buffer.from([0xe2, 0x82]),
      Buffer.from(' "quoted", =1+2'),
    ]);
    const expected = sanitizeChatText(bytes.toString('utf8'));
    expect(expected).toContain('\uFFFD');

    b.alice.write(Buffer.concat([bytes, Buffer.from('\n')]));
    b.alice.write(Buffer.concat([randomBytes(16 * 1024), Buffer.from('\nafter the noise\n')]));

    expect(await b.bob.expect('lone:')).toMatch(new RegExp(` alice: ${escape(expected)}$`));
    await b.bob.expect('alice: after the noise');
    const stored = historyRecords(await t.readFile('history.csv'));
    expect(stored.map((r) => r.text)).toContain(expected);
    await expectUnharmed(t, b);
    await t.stop();
    const reopened = await reopenStores(dataDir);
    expect(reopened.messages).toContain(`alice: ${expected}`);
    expect(reopened.users).toBe(2);
  });
});

describe('NUL bytes', () => {
  it('refuses a login with NUL, keeps NUL in a password, and strips it from chat text', async () => {
    const t = await start();
    const b = await bystanders(t);
    const dave = await TestClient.connect(t.port);
    await dave.expect(/^Enter your login:/);

    dave.send('da\0ve');
    expect(await dave.expect(/^A login/)).toBe(loginNameProblem('da\0ve'));
    dave.send('dave', 'pa\0ss', 'pa\0ss');
    await dave.expect(/welcome/i);
    dave.send('hel\0lo\0 there');

    expect(await b.bob.expect('dave:')).toMatch(/ dave: hello there$/);
    dave.send('/quit');
    await dave.expectClosed();
    // The password is exactly what was typed, NUL included: without it, no entry.
    const wrong = await TestClient.connect(t.port);
    wrong.send('dave', 'pass');
    expect(await wrong.expect(/^Wrong password/)).toBe(text.wrongPassword(2));
    await signIn(t.port, 'dave', 'pa\0ss', true);
    expect(historyRecords(await t.readFile('history.csv')).map((r) => r.text)).toContain('hello there');
    await expectUnharmed(t, b);
  });
});

describe('10,000 lines in one packet', () => {
  const flood = (tag: string) => Array.from({ length: 10_000 }, (_, i) => `${tag} ${i}`);

  it('with the rate limit off: delivers and stores all 10,000, in order', async () => {
    const t = await start({ rateLimitPerSecond: 0 });
    const b = await bystanders(t);
    const carol = await signIn(t.port, 'carol', 'secret3');

    carol.send(...flood('line'));

    await b.bob.expect('carol: line 9999', 15_000);
    const received = b.bob.lines.filter((l) => / carol: line \d+$/.test(l)).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    expect(received).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    const stored = historyRecords(await t.readFile('history.csv')).filter((r) => r.login === 'carol');
    expect(stored.map((r) => r.text)).toEqual(flood('line'));
    await expectUnharmed(t, b);
  });

  it('with the rate limit on: lets a burst through, says slow down once, reads the rest only at the rate, and cuts a flood off', async () => {
    // On a manual clock: no token comes back until the test moves time on.
    const clock = new ManualClock();
    const t = await start({ rateLimitPerSecond: 20, rateLimitBurst: 40, maxFloodMs: 1500 }, { timers: clock });
    const b = await bystanders(t);
    const carol = await signIn(t.port, 'carol', 'secret3');
    const side = serverSide(t, carol)!;
    const lines = flood('flood, with padding to make each line a little longer');
    const total = Buffer.byteLength(lines.map((l) => `${l}\n`).join(''));
    const delivered = () => b.bob.lines.filter((l) => / carol: flood/.test(l)).length;

    carol.send(...lines);

    expect(await carol.expect(/^Slow down/)).toBe(text.tooFast(20));
    // The burst, less the three sign-in lines that took their tokens from it — and not one more.
    await b.bob.expect(/ carol: flood, .* 36$/);
    await expectUnharmed(t, b);
    expect(delivered()).toBe(37);
    // The rest waits in TCP buffers, not in the server: it reads the socket only at the rate.
    expect((side.link.socket as Socket).bytesRead).toBeLessThan(total / 2);
    // One line per 50 ms of the clock.
    clock.advance(500);
    await b.bob.expect(/ carol: flood, .* 46$/);
    await expectUnharmed(t, b);
    expect(delivered()).toBe(47);
    // Still flooding 1.5 s after the first wait (the flood cap): cut off, and not before.
    clock.advance(1000);
    expect(side.actor.getSnapshot().matches('chatting'), 'cut off before the flood cap').toBe(true);
    clock.advance(50);
    expect(await carol.expect(/^Flooding/)).toBe(text.flooding(20, 1.5));
    await carol.expectClosed();
    await b.bob.expect('* carol left the chat');
    expect(carol.lines.filter((l) => l.startsWith('Slow down'))).toHaveLength(1);
    expect(t.output()).toMatch(/flooding: user#\w+ conn=\w+ kept sending faster than 20 lines a second for 1.5 s, disconnected/);
    // What was delivered is exactly what was stored, a prefix of what was sent: none half-done.
    const seen = b.bob.lines.filter((l) => / carol: flood/.test(l)).map((l) => l.slice(l.indexOf('carol: ') + 7));
    const stored = historyRecords(await t.readFile('history.csv')).filter((r) => r.login === 'carol').map((r) => r.text);
    expect(stored).toEqual(seen);
    expect(seen).toEqual(lines.slice(0, seen.length));
    await expectUnharmed(t, b);
  });

  it('with the rate limit on: a flooder that hangs up while its lines are held back is let go at the flood cap', async () => {
    const clock = new ManualClock();
    const t = await start({ rateLimitPerSecond: 20, rateLimitBurst: 40, maxFloodMs: 1000 }, { timers: clock });
    const b = await bystanders(t);
    const carol = await signIn(t.port, 'carol', 'secret3');
    const side = serverSide(t, carol)!;
    carol.send(...flood('gone'));
    await carol.expect(/^Slow down/);

    // Unseen by the server for now: it is not reading carol's socket (and writes none to it:
    // a bystander's message would, and its failure would give the hang-up away).
    carol.close();
    await once(carol.socket, 'close');
    clock.advance(1000);
    expect(side.actor.getSnapshot().matches('chatting'), 'let go before the flood cap').toBe(true);
    clock.advance(50);

    await b.bob.expect('* carol left the chat');
    await eventually(() => t.server.connections.size === 2, 'only the bystanders to be connected');
    await expectUnharmed(t, b);
  });

});

/**
 * `count` lines of 99 random bytes each (newlines aside) and a 0xFF: binary noise in which no line
 * can happen to be a valid login, which would send the rest down the registration path.
 */
function noiseLines(count: number): Buffer {
  const lines: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = randomBytes(99).map((b) => (b === 0x0a ? 0x0b : b));
    lines.push(Buffer.concat([bytes, Buffer.from([0xff, 0x0a])]));
  }
  return Buffer.concat(lines);
}

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
