/**
 * Clients that hold a connection without finishing a sign-in: silent ones, and slowloris ones
 * that trickle a byte at a time so that no read ever times out. The login timeout covers the
 * whole sign-in from the greeting, whatever the client sends, so both are bounded by it.
 * (A small timeout here; the default is 60 s.)
 */
import { describe, expect, it } from 'vitest';
import { text } from '../../src/machines/protocol.js';
import { register, TestClient, useTestServers } from '../integration/harness.js';
import { bystanders, eventually, expectUnharmed } from './helpers.js';

const start = useTestServers();
const TIMEOUT_MS = 600;

describe('a client that holds a sign-in open', () => {
  it('is closed at the login timeout when it sends nothing, and its connection is gone', async () => {
    const t = await start({ loginTimeoutMs: TIMEOUT_MS });
    const b = await bystanders(t);
    const startedAt = performance.now();

    const silent = await TestClient.connect(t.port);

    expect(await silent.expect(/timed out/, 3000)).toBe(text.loginTimeout);
    await silent.expectClosed();
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    await eventually(() => t.server.connections.size === 2, 'only the bystanders to be connected');
    await expectUnharmed(t, b);
  });

  it('is closed at the login timeout while it trickles one byte every 100 ms (slowloris)', async () => {
    const t = await start({ loginTimeoutMs: TIMEOUT_MS });
    const b = await bystanders(t);
    await register(t.port, 'carol', 'secret3');
    const slow = await TestClient.connect(t.port);
    await slow.expect(/^Enter your login:/);
    const startedAt = performance.now();
    slow.send('carol'); // a known login: now it trickles its password, byte by byte
    const trickle = setInterval(() => !slow.isClosed && slow.write('x'), 100);

    try {
      expect(await slow.expect(/timed out/, 3000)).toBe(text.loginTimeout);
      await slow.expectClosed();
    } finally {
      clearInterval(trickle);
    }

    const held = performance.now() - startedAt;
    expect(held).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(held).toBeLessThan(TIMEOUT_MS + 1000);
    await expectUnharmed(t, b);
  });

  it('lets 50 silent connections at once all time out, and frees every one of them', async () => {
    const t = await start({ loginTimeoutMs: TIMEOUT_MS });
    const b = await bystanders(t);

    const silent = await Promise.all(Array.from({ length: 50 }, () => TestClient.connect(t.port)));
    await eventually(() => t.server.connections.size === 52, 'the 50 to be served');
    // The bystanders chat normally while 50 sign-ins hang.
    await expectUnharmed(t, b);

    await Promise.all(silent.map((client) => client.expectClosed(3000)));
    await eventually(() => t.server.connections.size === 2, 'only the bystanders to be connected');
    expect(silent.every((client) => client.lines.includes(text.loginTimeout))).toBe(true);
    await expectUnharmed(t, b);
  });
});
