/**
 * The client at a terminal (fake TTY streams: raw-mode input, an 80-column output) and piped,
 * against a tiny scripted line server on 127.0.0.1: Tab completion, Up-arrow recall (never of a
 * password), the half-typed line kept across a reconnect, colours only at a colour terminal, and
 * the --bell on a mention.
 */
import { once } from 'node:events';
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startClientSession } from '../../src/actors/client-session.js';
import { runClient } from '../../src/cli/client.js';
import { text } from '../../src/machines/protocol.js';
import { withHangGuard } from '../support/waiting.js';

const WAIT_MS = 8_000;
const UP = '\x1b[A';
const KICKED = text.kicked;
// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[\d;]*m/;

/** Raw-mode keyboard input, as readline sees a terminal. */
function fakeKeyboard(): PassThrough & { isTTY: true; setRawMode(mode: boolean): unknown } {
  return Object.assign(new PassThrough(), { isTTY: true as const, setRawMode() { return this; } });
}

/** A terminal screen: everything written, as one string; `printed` resolves once it contains `what`. */
class FakeScreen extends Writable {
  readonly isTTY = true;
  readonly columns = 80;
  readonly rows = 24;
  shown = '';
  private readonly changed = new EventTarget();

  constructor(isTTY = true) {
    super();
    if (!isTTY) Object.defineProperty(this, 'isTTY', { value: undefined });
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.shown += chunk.toString();
    this.changed.dispatchEvent(new Event('change'));
    callback();
  }

  /** Resolves once `what` has been shown `times` times. */
  printed(what: string, times = 1): Promise<void> {
    return withHangGuard(
      new Promise<void>((resolve) => {
        const check = () => {
          if (this.shown.split(what).length - 1 < times) return;
          this.changed.removeEventListener('change', check);
          resolve();
        };
        this.changed.addEventListener('change', check);
        check();
      }),
      WAIT_MS,
      `the client to print ${JSON.stringify(what)} ×${times} (it printed ${JSON.stringify(this.shown)})`,
    );
  }
}

interface Peer {
  lines: string[];
  say(...lines: string[]): void;
  /** Says these lines and hangs up. */
  end(...lines: string[]): void;
  /** Resolves once the client has sent this line `times` times. */
  received(line: string, times?: number): Promise<void>;
}

/** One connection's script: `onLine` answers each line the client sends. */
async function startServer(script: (peer: Peer, line: string | undefined) => void): Promise<number> {
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    const events = new EventTarget();
    const peer: Peer = {
      lines: [],
      say: (...lines) => void socket.write(lines.map((l) => `${l}\r\n`).join('')),
      end: (...lines) => void socket.end(lines.map((l) => `${l}\r\n`).join('')),
      received: (line, times = 1) =>
        withHangGuard(
          new Promise<void>((resolve) => {
            const check = () => {
              if (peer.lines.filter((l) => l === line).length < times) return;
              events.removeEventListener('line', check);
              resolve();
            };
            events.addEventListener('line', check);
            check();
          }),
          WAIT_MS,
          `the server to receive ${JSON.stringify(line)} ×${times} (got ${JSON.stringify(peer.lines)})`,
        ),
    };
    peers.push(peer);
    let buffer = '';
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        peer.lines.push(line);
        events.dispatchEvent(new Event('line'));
        script(peer, line);
      }
    });
    script(peer, undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return (server.address() as net.AddressInfo).port;
}

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const peers: Peer[] = [];
const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  peers.splice(0);
  await Promise.all(
    servers.splice(0).map((s) => {
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      return closed;
    }),
  );
});

/** A statechat-like sign-in: login, password (hidden), welcome; then `after` lines; /quit says Bye. */
function signInScript(after: string[] = []) {
  return (peer: Peer, line: string | undefined) => {
    if (line === undefined) return peer.say(text.loginPrompt);
    if (peer.lines.length === 1) return peer.say(text.passwordPrompt);
    if (peer.lines.length === 2) return peer.say(text.welcomeBack(peer.lines[0]!), ...after);
  };
}

function terminalSession(port: number, options: Partial<Parameters<typeof startClientSession>[0]> = {}) {
  const keyboard = fakeKeyboard();
  const screen = new FakeScreen();
  const session = startClientSession({ host: '127.0.0.1', port, input: keyboard, output: screen, terminal: true, ...options });
  cleanups.push(() => session.interrupt());
  return { keyboard, screen, session };
}

describe('the client at a terminal', () => {
  it('completes "/jo" to "/join " with Tab, and rooms after it', async () => {
    const port = await startServer((peer, line) => {
      if (line === undefined) peer.say('Welcome back, alice! Type /help for commands.', 'Rooms (1):', '  #dev  1 member');
    });
    const { keyboard, screen } = terminalSession(port);
    await screen.printed('  #dev  1 member');

    keyboard.write('/jo');
    keyboard.write('\t');
    keyboard.write('#d');
    keyboard.write('\t');
    keyboard.write('\r');

    await peers[0]!.received('/join #dev ');
  });

  it('re-sends the previous line on Up then Enter', async () => {
    const port = await startServer((peer, line) => {
      if (line === undefined) peer.say('Welcome back, alice! Type /help for commands.');
    });
    const { keyboard, screen } = terminalSession(port);
    await screen.printed('Welcome back');

    keyboard.write('first\r');
    keyboard.write('second\r');
    await peers[0]!.received('second');
    keyboard.write(UP);
    keyboard.write('\r');
    await peers[0]!.received('second', 2);
    keyboard.write(UP);
    keyboard.write(UP);
    keyboard.write('\r');

    await peers[0]!.received('first', 2);
    expect(peers[0]!.lines).toEqual(['first', 'second', 'second', 'first']);
  });

  it('never recalls a password typed at a "Password:" prompt, nor completes in it', async () => {
    const port = await startServer(signInScript());
    const { keyboard, screen } = terminalSession(port);
    await screen.printed(text.loginPrompt);
    keyboard.write('alice\r');
    await screen.printed(text.passwordPrompt);
    keyboard.write('/jo');
    keyboard.write('\t'); // Tab while hidden: nothing completed
    keyboard.write('secret\r');
    await screen.printed('Welcome back, alice!');

    keyboard.write(UP);
    keyboard.write('\r');

    await peers[0]!.received('alice', 2);
    expect(peers[0]!.lines).toEqual(['alice', '/josecret', 'alice']);
    expect(screen.shown).not.toContain('secret');
  });

  it('shows colours at a colour terminal: your login bold, others in colour, a mention highlighted', async () => {
    const port = await startServer(signInScript(['[2024-05-01 12:00:00] bob: hi ALICE']));
    const { keyboard, screen } = terminalSession(port, { colour: true });
    await screen.printed(text.loginPrompt);
    keyboard.write('alice\r');
    await screen.printed(text.passwordPrompt);
    keyboard.write('pw\r');

    await screen.printed('\x1b[1;7;33mALICE\x1b[0m');
    expect(screen.shown).toMatch(/\x1b\[\d+mbob\x1b\[0m: hi /);
    expect(screen.shown).not.toContain('\x07');
  });

  it('keeps what the user was half-way through typing while the connection drops and comes back', async () => {
    const port = await startServer((peer, line) => {
      if (peers.length === 1) return signInScript()(peer, line);
      if (line === undefined) peer.say(text.loginPrompt);
    });
    const { keyboard, screen } = terminalSession(port, { reconnect: true, backoff: { baseMs: 10, maxMs: 20 } });
    await screen.printed(text.loginPrompt);
    keyboard.write('alice\r');
    await screen.printed(text.passwordPrompt);
    keyboard.write('pw\r');
    await screen.printed('Welcome back, alice!');

    keyboard.write('half-way through');
    peers[0]!.end('The server is shutting down. Bye!');
    // The second session's login prompt (the first one's was shown once): the client is back,
    // and what was typed is still on the input line, to be finished and sent.
    await screen.printed(text.loginPrompt, 2);
    keyboard.write(' it\r');

    await peers[1]!.received('half-way through it');
  });

  it('rings the bell (--bell) when someone else mentions you, not for your own line', async () => {
    const lines = ['[2024-05-01 12:00:00] alice: alice here', '[2024-05-01 12:00:01] bob: hey alice', 'marker'];
    const port = await startServer(signInScript(lines));
    const { keyboard, screen } = terminalSession(port, { bell: true, colour: false });
    await screen.printed(text.loginPrompt);
    keyboard.write('alice\r');
    await screen.printed(text.passwordPrompt);
    keyboard.write('pw\r');

    await screen.printed('marker');
    expect(screen.shown.split('\x07')).toHaveLength(2);
    expect(screen.shown).toMatch(/\x07\[2024-05-01 \d\d:\d\d:01\] bob: hey alice/);
    expect(screen.shown).not.toMatch(SGR);
  });
});

describe('colours and runClient', () => {
  /** runClient against a server that says a chat line and kicks: resolves with what was shown. */
  async function shownBy(stdio: 'tty' | 'piped', env: Record<string, string>, flags: string[] = []): Promise<string> {
    const port = await startServer((peer, line) => {
      // the prompt establishes the session at once (a server that hangs up before that is a refusal)
      if (line === undefined) peer.end(text.loginPrompt, text.welcomeBack('alice'), '[2024-05-01 12:00:00] bob: hi alice', KICKED);
    });
    const stdin = stdio === 'tty' ? fakeKeyboard() : new PassThrough();
    const stdout = new FakeScreen(stdio === 'tty');
    const code = await withHangGuard(runClient(['--port', String(port), '--no-reconnect', ...flags], { stdin, stdout, stderr: new PassThrough(), env }), WAIT_MS, 'runClient');
    expect(code).toBe(0);
    expect(stdout.shown).toContain(KICKED);
    return stdout.shown;
  }

  it('colours at a TTY with NO_COLOR unset or empty', async () => {
    expect(await shownBy('tty', {})).toMatch(SGR);
    expect(await shownBy('tty', { NO_COLOR: '' })).toMatch(SGR);
  });

  it('does not colour with NO_COLOR set, or when piped', async () => {
    expect(await shownBy('tty', { NO_COLOR: '1' })).not.toMatch(SGR);
    expect(await shownBy('piped', {})).not.toMatch(SGR);
  });

  it('rings --bell on a mention at a terminal, never into a pipe', async () => {
    expect(await shownBy('tty', {}, ['--bell'])).toContain('\x07');
    expect(await shownBy('piped', {}, ['--bell'])).not.toContain('\x07');
  });
});
