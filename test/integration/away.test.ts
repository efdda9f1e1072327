/**
 * /away over real TCP: the away message in /who and /names, told once to each sender of a /msg,
 * and cleared by /away alone.
 */
import { describe, expect, it } from 'vitest';
import { LOBBY, text } from '../../src/machines/protocol.js';
import { signIn, useTestServers } from './harness.js';

const start = useTestServers();
const PASSWORD = 'secret-password';

describe('/away', () => {
  it('shows the away message in /who and /names, tells each /msg sender once, and clears it', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    const bob = await signIn(t.port, 'bob', PASSWORD);
    const carol = await signIn(t.port, 'carol', PASSWORD);
    await alice.expect(text.joined('carol', LOBBY));
    await bob.expect(text.joined('carol', LOBBY));

    bob.send('/away  at lunch ');
    expect(await bob.next()).toBe(text.awaySet('at lunch'));
    alice.send('/who');
    expect(await alice.next()).toBe('Online (3): alice, bob (away: at lunch), carol');
    alice.send('/names');
    expect(await alice.next()).toBe('In #lobby (3): alice, bob (away: at lunch), carol');

    alice.send('/msg bob are you there?');
    expect(await alice.next()).toBe('(private to bob) are you there?');
    expect(await alice.next()).toBe(text.awayReply('bob', 'at lunch'));
    expect(await bob.expect(/are you there\?/)).toMatch(/\(private\) alice: are you there\?$/);
    alice.send('/msg bob still?');
    expect(await alice.next()).toBe('(private to bob) still?');
    carol.send('/msg BOB hello');
    expect(await carol.next()).toBe('(private to bob) hello');
    expect(await carol.next()).toBe(text.awayReply('bob', 'at lunch'));
    // alice was told once: nothing but her own echo came after her second /msg.
    expect(await alice.sync()).toEqual([]);

    bob.send('/away');
    await bob.expect(text.awayCleared);
    alice.send('/who');
    expect(await alice.next()).toBe('Online (3): alice, bob, carol');
    alice.send('/msg bob back?');
    expect(await alice.next()).toBe('(private to bob) back?');
    expect(await alice.sync()).toEqual([]);
  });

  it('tells a sender again once the away message was set anew', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', PASSWORD);
    const bob = await signIn(t.port, 'bob', PASSWORD);
    await alice.expect(text.joined('bob', LOBBY));

    bob.send('/away lunch');
    await bob.expect(text.awaySet('lunch'));
    alice.send('/msg bob one');
    await alice.expect(text.awayReply('bob', 'lunch'));
    bob.send('/away meeting');
    await bob.expect(text.awaySet('meeting'));
    alice.send('/msg bob two');

    expect(await alice.expect(/is away/)).toBe(text.awayReply('bob', 'meeting'));
  });
});
