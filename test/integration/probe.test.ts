import { afterEach, beforeEach, expect, it } from 'vitest';
import { signIn, startTestServer, type TestServer } from './harness.js';

let t: TestServer;
beforeEach(async () => { t = await startTestServer(); });
afterEach(async () => { await t.stop(); });

it('leave after last message', async () => {
  const alice = await signIn(t.port, 'alice', 'secret1');
  const bob = await signIn(t.port, 'bob', 'secret2');
  alice.send('last words', '/quit');
  await bob.expect('left the chat');
  await bob.sync();
  console.log(bob.lines);
});
it('private after public', async () => {
  const alice = await signIn(t.port, 'alice', 'secret1');
  const bob = await signIn(t.port, 'bob', 'secret2');
  alice.send('public one', '/msg bob private two');
  await bob.expect('private two');
  await bob.sync();
  console.log(bob.lines);
});
it('history after own', async () => {
  const alice = await signIn(t.port, 'alice', 'secret1');
  alice.send('mine', '/history 1');
  await alice.expect('end of history').catch(() => {});
  console.log(alice.lines);
});
