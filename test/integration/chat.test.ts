import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signIn, startTestServer, TestClient, type TestServer } from './harness.js';

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer();
});
afterEach(async () => {
  await t.stop();
});

describe('chat over TCP', () => {
  it('delivers a message to every other logged-in user and not back to the sender', async () => {
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    const carol = await signIn(t.port, 'carol', 'secret3');

    alice.send('hello, everyone');

    expect(await bob.expect('hello, everyone')).toMatch(/^\[\d\d:\d\d:\d\d\] alice: hello, everyone$/);
    expect(await carol.expect('hello, everyone')).toMatch(/alice: hello, everyone$/);
    alice.send('/who'); // a reply that follows the message proves none came back before it
    await alice.expect(/^Online \(3\)/);
    expect(alice.lines.filter((l) => l.includes('hello, everyone'))).toEqual([]);
  });
});
