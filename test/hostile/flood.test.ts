/**
 * Flooding in both directions: a client that sends faster than the rate limit, one that sends
 * as fast as it can (and comes back to do it again), and one that never reads what it is sent.
 *
 * The rate-limited cases run the server on a manual clock: what the limit lets through is
 * counted at fixed points of that clock, not estimated from elapsed wall time. How fast the
 * bystanders chat during a flood is not asserted here (bench/ measures it): they must only chat.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { register, signIn, useTestServers } from '../integration/harness.js';
import { ManualClock } from '../support/manual-clock.js';
import { bystanders, eventually, expectUnharmed, historyRecords, liveBytes, MiB, roundTrip, serverSide } from './helpers.js';

const start = useTestServers();
const FLOODER = fileURLToPath(new URL('./fixtures/flooder.mjs', import.meta.url));

describe('a client that sends too fast', () => {
  it('is slowed to the rate and told once; none of its lines is lost, and it stays connected', async () => {
    // On a manual clock: no token comes back until the test moves time on.
    const clock = new ManualClock();
    const t = await start({ rateLimitPerSecond: 20, rateLimitBurst: 10 }, { timers: clock });
    const b = await bystanders(t);
    const carol = await signIn(t.port, 'carol', 'secret3');
    clock.advance(1000); // a full bucket again after the sign-in's lines
    const fast = () => b.bob.lines.filter((l) => / carol: fast \d+$/.test(l)).length;

    carol.send(...Array.from({ length: 60 }, (_, i) => `fast ${i}`));

    // The burst goes at once, and not a line more while time stands still.
    expect(await carol.expect(/^Slow down/)).toBe(text.tooFast(20));
    await b.bob.expect('carol: fast 9');
    await expectUnharmed(t, b);
    expect(fast()).toBe(10);
    // Then one line per 50 ms of the clock.
    for (let i = 10; i < 60; i++) {
      clock.advance(50);
      await b.bob.expect(`carol: fast ${i}`);
      expect(fast(), `after ${(i - 9) * 50} ms`).toBe(i + 1);
    }

    const received = b.bob.lines.filter((l) => / carol: fast \d+$/.test(l)).map((l) => Number(l.split(' ').at(-1)));
    expect(received).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(carol.lines.filter((l) => l.startsWith('Slow down'))).toEqual([text.tooFast(20)]);
    expect(carol.isClosed).toBe(false);
    await expectUnharmed(t, b);
  });
});

describe('a client that sends as fast as it can', () => {
  it('is held to its burst while the clock stands still and to the rate as it moves, in one connection, while the others chat', async ({
    onTestFinished,
  }) => {
    const clock = new ManualClock();
    const t = await start({ rateLimitPerSecond: 100, rateLimitBurst: 100 }, { timers: clock });
    const b = await bystanders(t);
    await register(t.port, 'mallory', 'secret6');
    const memoryBefore = liveBytes();
    const flooded = () => b.bob.lines.filter((l) => / mallory: x+$/.test(l)).length;

    // The flooder runs in its own process: its writes must not share the server's event loop.
    const flooder = spawn(process.execPath, [FLOODER, String(t.port), 'mallory', 'secret6'], { stdio: ['ignore', 'pipe', 'inherit'] });
    onTestFinished(() => void flooder.kill('SIGKILL'));
    let said = '';
    flooder.stdout.setEncoding('utf8').on('data', (chunk: string) => (said += chunk));
    await eventually(() => said.includes('round'), 'the flooder to sign in');

    // Its burst, less its two sign-in lines; then nothing while the clock stands still — and the
    // bystanders chat meanwhile (each round trip under a hang guard; latency is bench/'s to measure).
    await eventually(() => flooded() === 98, 'the flooder’s burst to reach bob');
    for (let i = 0; i < 20; i++) await roundTrip(b.alice, b.bob, 5000);
    expect(flooded()).toBe(98);
    // One second of the clock: 100 more lines, no more.
    clock.advance(1000);
    await eventually(() => flooded() >= 198, 'a second’s worth of the flood to reach bob');
    for (let i = 0; i < 20; i++) await roundTrip(b.alice, b.bob, 5000);
    expect(flooded()).toBe(198);
    flooder.kill('SIGKILL');

    // One connection the whole time.
    expect(said.match(/^round$/gm)).toHaveLength(1);
    expect(liveBytes() - memoryBefore).toBeLessThan(64 * MiB);
    await expectUnharmed(t, b);
  });
});

describe('a client that never reads', () => {
  it('is disconnected once its unread output passes the bound, its backlog stays capped, and the others get everything', async () => {
    const maxSendBufferBytes = 64 * 1024;
    const t = await start({ maxSendBufferBytes });
    const b = await bystanders(t);
    const eve = await signIn(t.port, 'eve', 'secret5');
    eve.socket.pause(); // reads nothing more: the server's writes pile up
    const eveOnServer = serverSide(t, eve)!;
    let largestBacklog = 0;
    const sampler = setInterval(() => {
      largestBacklog = Math.max(largestBacklog, eveOnServer.link.socket.writableLength);
    }, 1);
    const memoryBefore = liveBytes();

    const message = (i: number) => `${String(i).padStart(5, '0')} ${'y'.repeat(4000)}`;
    let sent = 0;
    try {
      // Broadcasts (4 KB each) until the server gives up on eve; the kernel buffers fill first.
      // Each burst (50 × 4 KB, delivered in one event-loop turn) is three times the bound: bob,
      // who reads, must not be taken for a slow consumer because of it.
      while (!eveOnServer.link.socket.destroyed && sent < 20_000) {
        b.alice.send(...Array.from({ length: 50 }, (_, i) => message(sent + i)));
        sent += 50;
        await b.bob.expect(new RegExp(`: ${String(sent - 1).padStart(5, '0')} `));
      }
    } finally {
      clearInterval(sampler);
    }

    expect(eveOnServer.link.socket.destroyed, `eve was still connected after ${sent} broadcasts`).toBe(true);
    await t.waitForOutput(/slow consumer conn=\w+: more than 65536 bytes unread, disconnected/);
    // The bound applies to what earlier turns left unread; one turn's burst may come on top, up
    // to the hard cap (4 × the bound) that holds whatever happens.
    expect(largestBacklog).toBeLessThanOrEqual(4 * maxSendBufferBytes);
    expect(liveBytes() - memoryBefore).toBeLessThan(32 * MiB);
    // Not bob.expect: the notice may come in the middle of the last burst, which bob's wait for
    // that burst's last line has already read past.
    await eventually(() => b.bob.lines.includes('* eve left the chat'), 'bob is told eve left');
    const received = b.bob.lines.filter((l) => / alice: \d{5} y+$/.test(l)).length;
    expect(received).toBe(sent);
    expect(historyRecords(await t.readFile('history.csv')).filter((r) => r.login === 'alice')).toHaveLength(sent + 1);
    await expectUnharmed(t, b);
  });
});

