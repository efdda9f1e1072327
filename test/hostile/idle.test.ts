/**
 * Clients that hold a connection without finishing a sign-in: silent ones, and slowloris ones
 * that trickle a byte at a time so that no read ever times out. The login timeout covers the
 * whole sign-in from the greeting, whatever the client sends, so both are bounded by it.
 * (A small timeout here; the default is 60 s.) The server runs on a manual clock: the tests
 * check the connection 1 ms before the timeout and at it, instead of measuring how long it took.
 */
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { register, TestClient, useTestServers } from '../integration/harness.js';
import { ManualClock } from '../support/manual-clock.js';
import { bystanders, eventually, expectUnharmed, serverSide } from './helpers.js';

const start = useTestServers();
const TIMEOUT_MS = 600;

describe('a client that holds a sign-in open', () => {
  it('is closed at the login timeout when it sends nothing, and its connection is gone', async () => {
    const clock = new ManualClock();
    const t = await start({ loginTimeoutMs: TIMEOUT_MS }, { timers: clock });
    const b = await bystanders(t);

    const silent = await TestClient.connect(t.port);
    await silent.expect(/^Enter your login:/);
    const side = serverSide(t, silent)!;
    clock.advance(TIMEOUT_MS - 1);
    expect(side.actor.getSnapshot().matches({ authenticating: 'awaitingLogin' }), 'timed out before the login timeout').toBe(true);
    clock.advance(1);

    expect(await silent.expect(/timed out/)).toBe(text.loginTimeout);
    await silent.expectClosed();
    await eventually(() => t.server.connections.size === 2, 'only the bystanders to be connected');
    await expectUnharmed(t, b);
  });

  it('is closed at the login timeout while it trickles one byte every 100 ms (slowloris)', async () => {
    const clock = new ManualClock();
    const t = await start({ loginTimeoutMs: TIMEOUT_MS }, { timers: clock });
    const b = await bystanders(t);
    await register(t.port, 'carol', 'secret3');
    const connectedAt = clock.now();
    const slow = await TestClient.connect(t.port);
    await slow.expect(/^Enter your login:/);
    const side = serverSide(t, slow)!;
    slow.send('carol'); // a known login: now it trickles its password, byte by byte
    await slow.expect(/^Password:/);
    const stillSigningIn = () => side.actor.getSnapshot().matches({ authenticating: 'awaitingPassword' });

    // A byte every 100 ms, each read by the server, up to 1 ms before the timeout…
    for (let elapsed = 0; elapsed < TIMEOUT_MS; elapsed += 100) {
      const read = once(side.link.socket as Socket, 'data');
      slow.write('x');
      await read;
      clock.advance(elapsed + 100 < TIMEOUT_MS ? 100 : 99);
      expect(stillSigningIn(), `timed out ${clock.now() - connectedAt} ms into a ${TIMEOUT_MS} ms timeout`).toBe(true);
    }
    // …and none of them put the timeout off.
    clock.advance(1);

    expect(await slow.expect(/timed out/)).toBe(text.loginTimeout);
    await slow.expectClosed();
    await expectUnharmed(t, b);
  });

  it('lets 50 silent connections at once all time out, and frees every one of them', async () => {
    const clock = new ManualClock();
    const t = await start({ loginTimeoutMs: TIMEOUT_MS }, { timers: clock });
    const b = await bystanders(t);

    const silent = await Promise.all(Array.from({ length: 50 }, () => TestClient.connect(t.port)));
    await eventually(() => t.server.connections.size === 52, 'the 50 to be served');
    // The bystanders chat normally while 50 sign-ins hang.
    await expectUnharmed(t, b);
    clock.advance(TIMEOUT_MS);

    await Promise.all(silent.map((client) => client.expectClosed()));
    await eventually(() => t.server.connections.size === 2, 'only the bystanders to be connected');
    expect(silent.every((client) => client.lines.includes(text.loginTimeout))).toBe(true);
    await expectUnharmed(t, b);
  });
});
