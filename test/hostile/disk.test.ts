/**
 * A full disk or an unwritable data directory while the server runs, simulated through the
 * stores' append-handle seam (createServer's `openAppendHandle`): the refused message or
 * registration is refused *to its sender*, nothing is half-written, nobody receives what was not
 * stored, the server stays up — and once the disk has room again, everything works as before.
 */
import { describe, expect, it } from 'vitest';
import { type AppendHandle, openAppendHandle, type OpenAppendHandle } from '../../src/io/durable-file.js';
import { text } from '../../src/machines/protocol.js';
import { TestClient, useTestServers } from '../integration/harness.js';
import { bystanders, expectUnharmed, historyRecords } from './helpers.js';

const start = useTestServers();
const REFUSED = 'Your message could not be saved, so it was not delivered. Try again later.';

type Failure = 'ENOSPC' | 'EROFS' | 'EACCES';

/**
 * Append handles that work until `fail()` is called for a file, then fail every append to it the
 * way the OS does: ENOSPC after part of the data reached the file (a full disk), EROFS or EACCES
 * before any did (a read-only remount, a data dir made unwritable) — until `heal()`.
 */
function sickDisk() {
  const failing = new Map<string, Failure>();
  const open: OpenAppendHandle = async (file) => {
    const real = await openAppendHandle(file);
    const name = file.slice(file.lastIndexOf('/') + 1);
    const handle: AppendHandle = {
      ...real,
      async append(data) {
        const failure = failing.get(name);
        if (!failure) return real.append(data);
        if (failure === 'ENOSPC') await real.append(data.subarray(0, Math.ceil(data.length / 2)));
        throw Object.assign(new Error(`${failure}: simulated, write`), { code: failure });
      },
    };
    return handle;
  };
  return {
    open,
    fail: (name: 'history.csv' | 'clients.csv', failure: Failure) => failing.set(name, failure),
    heal: () => failing.clear(),
  };
}

describe('a full disk or an unwritable data dir while running', () => {
  it.each(['ENOSPC', 'EROFS', 'EACCES'] as const)(
    'history.csv (%s): the message is refused to its sender, delivered to nobody, not half-written; later ones go through',
    async (failure) => {
      const disk = sickDisk();
      const t = await start({}, { openAppendHandle: disk.open });
      const b = await bystanders(t);
      const before = await t.readFile('history.csv');

      disk.fail('history.csv', failure);
      b.alice.send('lost to the disk');
      b.bob.send('also lost');

      expect(await b.alice.expect(/could not be saved/)).toBe(REFUSED);
      expect(await b.bob.expect(/could not be saved/)).toBe(REFUSED);
      expect(await t.readFile('history.csv')).toBe(before); // rolled back: not a byte of it
      expect(t.output()).toMatch(new RegExp(`history append failed, message refused: .*${failure}`));
      disk.heal();
      b.alice.send('after the disk was freed');
      await b.bob.expect('alice: after the disk was freed');
      // Nothing that was refused arrived, before or after.
      expect(b.bob.lines.some((l) => l.includes('lost to the disk'))).toBe(false);
      expect(b.alice.lines.some((l) => l.includes('also lost'))).toBe(false);
      expect(historyRecords(await t.readFile('history.csv')).map((r) => r.text)).toEqual([
        'before the attack, from alice',
        'before the attack, from bob',
        'after the disk was freed',
      ]);
      await expectUnharmed(t, b);
    },
  );

  it('clients.csv (ENOSPC): a registration is refused and the login stays free; clients.csv is as it was', async () => {
    const disk = sickDisk();
    const t = await start({}, { openAppendHandle: disk.open });
    const b = await bystanders(t);
    const before = await t.readFile('clients.csv');

    disk.fail('clients.csv', 'ENOSPC');
    const carol = await TestClient.connect(t.port);
    carol.send('carol', 'secret3', 'secret3');

    expect(await carol.expect(/^Registration failed/)).toBe(text.registrationFailed);
    await carol.expect(/^Enter your login:/);
    expect(await t.readFile('clients.csv')).toBe(before);
    disk.heal();
    carol.send('carol');
    await carol.expect(/choose a password/i); // still free: nothing of the failed one remains
    carol.send('secret3', 'secret3');
    expect(await carol.expect(/welcome/i)).toBe(text.welcomeNew('carol'));
    await expectUnharmed(t, b);
  });

  it('keeps the sessions going while history.csv stays unwritable: private messages, /who and /history still work', async () => {
    const disk = sickDisk();
    const t = await start({}, { openAppendHandle: disk.open });
    const b = await bystanders(t);

    disk.fail('history.csv', 'EROFS');
    for (let i = 0; i < 5; i++) b.alice.send(`refused ${i}`);
    for (let i = 0; i < 5; i++) await b.alice.expect(/could not be saved/);
    b.alice.send('/msg bob not stored anyway');
    b.bob.send('/who');

    expect(await b.bob.expect(/\(private\) alice:/)).toMatch(/ \(private\) alice: not stored anyway$/);
    expect(await b.bob.expect(/^Online/)).toBe('Online (2): alice, bob');
    const replay = await b.bob.sync(); // /history answers from memory
    expect(replay.some((l) => l.includes('refused'))).toBe(false);
    expect(t.server.supervisor.getSnapshot().matches('running')).toBe(true);
    disk.heal();
    await expectUnharmed(t, b);
  });
});
