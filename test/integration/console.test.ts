/**
 * The operator's console over a real server: commands typed on its stdin, answers on its
 * stdout, effects seen by real TCP clients and in the data files.
 */
import { describe, expect, it } from 'vitest';
import { CONSOLE_HELP } from '../../src/machines/console-command.js';
import { LOBBY, text } from '../../src/machines/protocol.js';
import { register, signIn, TestClient, useTestServers } from './harness.js';

const start = useTestServers();

describe('console commands', () => {
  it.each([['kick', 'Usage: kick <login>'], ['close', 'Usage: close #room'], ['say', 'Usage: say <text> | say #room <text>']])(
    'answers "%s" without its argument with its usage',
    async (line, usage) => {
      const t = await start();

      expect(await t.ask(line, /Usage: .*\n/)).toContain(`${usage}\n`);
    },
  );

  it('lists every command on help', async () => {
    const t = await start();

    const output = await t.ask('help', /  help /);

    for (const { usage } of CONSOLE_HELP) expect(output).toContain(usage);
  });

  it('reports the listener, the connections and the users online on status', async () => {
    const t = await start();
    await signIn(t.port, 'alice', 'secret1');
    const signingIn = await TestClient.connect(t.port);
    await signingIn.expect(/^Enter your login:/);

    const output = await t.ask('status', /log display: \w+/);

    expect(output).toContain(`listener: accepting on 127.0.0.1:${t.port}`);
    expect(output).toContain('connections: 2');
    expect(output).toContain('users online: 1');
    expect(output).toContain('registered users: 1');
  });

  it('lists the users online on who', async () => {
    const t = await start();
    await signIn(t.port, 'bob', 'secret2');
    await signIn(t.port, 'alice', 'secret1');

    const output = await t.ask('who', /^Online/m);

    expect(output).toMatch(/^Online \(2\): alice, bob$/m);
  });

  it('says so on who when nobody is online', async () => {
    const t = await start();

    expect(await t.ask('who', /Nobody/)).toMatch(/^Nobody is online\.$/m);
  });

  it('disconnects a user on kick, with a message to them and a leave notice to the others', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    const output = await t.ask('kick alice', /Kicked/);

    expect(output).toMatch(/^Kicked alice\.$/m);
    expect(await alice.expect(/disconnected/)).toBe(text.kicked);
    await alice.expectClosed();
    expect(await bob.expect(/left/)).toBe(text.left('alice', LOBBY));
  });

  it('answers kick for someone not online with a notice', async () => {
    const t = await start();

    expect(await t.ask('kick zed', /zed/)).toMatch(/^No user named zed is online\.$/m);
  });

  it('sends say to everyone online', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');

    const output = await t.ask('say  maintenance at noon', /Sent to/);

    expect(output).toMatch(/^Sent to 2 users\.$/m);
    expect(await alice.expect('[server]')).toBe('* [server] maintenance at noon');
    expect(await bob.expect('[server]')).toBe('* [server] maintenance at noon');
  });

  it('answers an unknown command with a hint', async () => {
    const t = await start();

    const output = await t.ask('frobnicate now', /Unknown command/);

    expect(output).toMatch(/^Unknown command "frobnicate now"\. Type "help" for the list\.$/m);
  });

  it('tolerates extra whitespace and any case in commands', async () => {
    const t = await start();

    await t.ask('  STOP   listen ', /listening paused/);

    expect(await t.ask('Status', /listener: \w+/)).toMatch(/^listener: paused on /m);
  });
});

describe('stop listen / start listen', () => {
  it('holds a new connection without a byte while existing sessions keep chatting', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    await t.ask('stop listen', /listening paused/);

    const held = await TestClient.connect(t.port);
    await t.waitForOutput(/connection held conn=\w+ .*1 waiting/);

    alice.send('business as usual');
    await bob.expect('alice: business as usual');
    bob.send('indeed');
    await alice.expect('bob: indeed');
    expect(await t.ask('status', /listener: .*/)).toMatch(/^listener: paused on .* \(1 waiting\)$/m);
    // The server decided to hold the socket and nothing writes to held sockets; by now (a status
    // reply and two chat round trips later) a greeting or refusal would long have arrived.
    expect(held.bytesReceived).toBe(0);
    expect(held.isClosed).toBe(false);
  });

  it('greets the waiting connections, in the order they came, on start listen', async () => {
    const t = await start();
    await t.ask('stop listen', /listening paused/);
    const first = await TestClient.connect(t.port);
    const firstId = (await t.waitForOutput(/connection held conn=(\w+)/)).match(/connection held conn=(\w+)/)![1];
    const from = t.output().length;
    const second = await TestClient.connect(t.port);
    const secondId = (await t.waitForOutput(/connection held conn=(\w+)/, from)).match(/connection held conn=(\w+)/)![1];

    await t.ask('start listen', /listening resumed/);

    await first.expect(/^Enter your login:/);
    await second.expect(/^Enter your login:/);
    expect(first.lines[0]).toBe(text.greeting);
    expect(second.lines[0]).toBe(text.greeting);
    // The server's table of live connections is filled in the order they were served.
    expect([...t.server.connections.keys()]).toEqual([firstId, secondId]);
  });

  it('serves, on start listen, what a waiting client typed while it waited', async () => {
    const t = await start();
    const bob = await signIn(t.port, 'bob', 'secret2');
    await t.ask('stop listen', /listening paused/);
    const alice = await TestClient.connect(t.port);
    alice.send('alice', 'secret1', 'secret1', 'sorry I am late');
    await t.waitForOutput(/connection held/);

    await t.ask('start listen', /listening resumed/);

    expect(await alice.expect(/welcome/i)).toBe(text.welcomeNew('alice'));
    expect(await bob.expect('late')).toMatch(/ alice: sorry I am late$/);
  });

  it('still serves a waiting client that typed ahead and then half-closed (a script piped into nc -N)', async () => {
    const t = await start();
    const bob = await signIn(t.port, 'bob', 'secret2');
    await t.ask('stop listen', /listening paused/);
    const script = await TestClient.connect(t.port);
    script.send('alice', 'secret1', 'secret1', 'fire and forget');
    script.socket.end();
    await t.waitForOutput(/connection held/);

    await t.ask('start listen', /listening resumed/);

    expect(await bob.expect('forget')).toMatch(/ alice: fire and forget$/);
    await script.expectClosed();
    expect(script.lines).toContain(text.welcomeNew('alice'));
  });

  it('frees the place of a waiting client that hangs up', async () => {
    const t = await start({ maxWaiting: 1 });
    await t.ask('stop listen', /listening paused/);
    const quitter = await TestClient.connect(t.port);
    await t.waitForOutput(/1 waiting/);

    quitter.socket.end(); // a polite FIN, not a reset
    await t.waitForOutput(/closed by its client before it was served/);

    expect(await t.ask('status', /listener: .*/)).toMatch(/\(0 waiting\)/);
    const next = await TestClient.connect(t.port);
    await t.ask('start listen', /listening resumed/);
    await next.expect(/^Enter your login:/);
  });

  it('says so when paused twice or resumed twice, and changes nothing', async () => {
    const t = await start();
    await t.ask('stop listen', /listening paused/);

    expect(await t.ask('stop listen', /already/)).toMatch(/listening is already paused/);
    expect(await t.ask('status', /listener: .*/)).toMatch(/^listener: paused on /m);
    await t.ask('start listen', /listening resumed/);
    expect(await t.ask('start listen', /already/)).toMatch(/already listening/);
    expect(await t.ask('status', /listener: .*/)).toMatch(/^listener: accepting on /m);
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);
  });

  it('turns a connection away as busy when the waiting queue is full', async () => {
    const t = await start({ maxWaiting: 2 });
    await t.ask('stop listen', /listening paused/);
    await TestClient.connect(t.port);
    await TestClient.connect(t.port);
    await t.waitForOutput(/2 waiting/);

    const third = await TestClient.connect(t.port);

    expect(await third.expect(/busy/i)).toBe(text.serverBusy);
    await third.expectClosed();
    expect(await t.ask('status', /listener: .*/)).toMatch(/\(2 waiting\)/);
  });
});

describe('the log', () => {
  it('stops showing log lines on stop log, while server.log keeps getting them', async () => {
    const t = await start();
    await t.ask('stop log', /Log display stopped/);
    const from = t.output().length;

    const hidden = await TestClient.connect(t.port);
    await hidden.expect(/^Enter your login:/);
    await t.ask('status', /log display: off/); // the connect was logged before this reply

    expect(t.output().slice(from)).not.toMatch(/connected conn=c1/);
    await t.ask('start log', /Log display resumed/);
    const shown = await TestClient.connect(t.port);
    await t.waitForOutput(/connected conn=c2/, from);
    await shown.expect(/^Enter your login:/);
    await t.server.shutdown(); // flushes server.log
    const log = await t.readFile('server.log');
    expect(log).toMatch(/connected conn=c1 /);
    expect(log).toMatch(/connected conn=c2 /);
  });

  it('empties server.log on clear log, and keeps logging after it', async () => {
    const t = await start();
    await t.ask('status', /log display/); // something in the log before the clear

    await t.ask('clear log', /Log cleared/);

    expect(await t.readFile('server.log')).toBe('');
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);
    await t.server.shutdown(); // flushes server.log
    const log = await t.readFile('server.log');
    expect(log).toMatch(/connected conn=c1 /);
    expect(log).not.toMatch(/listening on|console: status/);
  });
});

describe('clear file', () => {
  it('empties clients.csv to its header, keeps users online, and makes a known login new again', async () => {
    const t = await start();
    const emptyFile = await t.readFile('clients.csv');
    await register(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    expect(await t.readFile('clients.csv')).not.toBe(emptyFile);

    await t.ask('clear file', /clients\.csv emptied/);

    expect(await t.readFile('clients.csv')).toBe(emptyFile);
    expect(emptyFile).toMatch(/^login_key,[^\n]*\n$/);
    bob.send('/who');
    expect(await bob.expect(/^Online/)).toBe('Online (1): bob');
    const alice = await TestClient.connect(t.port);
    await alice.expect(/^Enter your login:/);
    alice.send('alice');
    await alice.expect(/choose a password/i);
  });
});

describe('shutdown', () => {
  it('tells every client, closes them all, keeps every delivered message in history, and resolves stopped', async () => {
    const t = await start();
    const alice = await signIn(t.port, 'alice', 'secret1');
    const bob = await signIn(t.port, 'bob', 'secret2');
    const signingIn = await TestClient.connect(t.port);
    await signingIn.expect(/^Enter your login:/);
    alice.send(...Array.from({ length: 50 }, (_, i) => `in flight ${i}`));
    await bob.expect('alice: in flight 0');

    t.command('shutdown');

    for (const client of [alice, bob, signingIn]) {
      expect(await client.expect(/shutting down/)).toBe(text.shuttingDown);
      await client.expectClosed();
    }
    expect(await t.server.stopped).toEqual({ clean: true });
    const delivered = bob.lines.filter((l) => / alice: in flight \d+$/.test(l)).map((l) => l.slice(l.indexOf('in flight')));
    const stored = await t.readFile('history.csv');
    for (const message of delivered) expect(stored).toContain(message);
  });

  it('tells the waiting connections too, and finishes while listening is paused', async () => {
    const t = await start({ maxWaiting: 1 });
    await t.ask('stop listen', /listening paused/);
    const waiting = await TestClient.connect(t.port);
    await t.waitForOutput(/1 waiting/);
    const turnedAway = await TestClient.connect(t.port);
    await turnedAway.expect(/busy/i);

    t.command('shutdown');

    expect(await waiting.expect(/shutting down/)).toBe(text.shuttingDown);
    await waiting.expectClosed();
    // Resolves only once every socket the listener accepted has closed, the busy one included.
    await t.server.stopped;
  });
});
