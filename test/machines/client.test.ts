import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import {
  backoffDelay,
  clientMachine,
  endsSessionForGood,
  isLoginPrompt,
  isPasswordPrompt,
  isPrompt,
  isRetryableCode,
  linesToFlush,
  withJitter,
  type ClientEvent,
} from '../../src/machines/client.js';

type Snapshot = ReturnType<typeof initialTransition<typeof clientMachine>>[0];
type Actions = ReturnType<typeof initialTransition<typeof clientMachine>>[1];

const input = { host: '127.0.0.1', port: 9090 };

/** "connecting", "connected.chatting"… */
function statePath(snapshot: Snapshot): string {
  const walk = (value: unknown): string =>
    typeof value === 'string'
      ? value
      : Object.entries(value as Record<string, unknown>)
          .map(([key, child]) => `${key}.${walk(child)}`)
          .join(',');
  return walk(snapshot.value);
}

/** The named side effects a step asks for, in order (scheduling internals left out). */
function effects(actions: Actions): Array<{ type: string; params?: unknown }> {
  return actions
    .filter((a) => !a.type.startsWith('xstate.'))
    .map((a) => (a.params === undefined ? { type: a.type } : { type: a.type, params: a.params }));
}

/** Delayed events a step scheduled (`after`), as `{ event, delay }`. */
function scheduled(actions: Actions): Array<{ event: ClientEvent; delay: number }> {
  return actions
    .filter((a) => a.type === 'xstate.raise')
    .map((a) => a.params as { event: ClientEvent; delay: number })
    .filter((p) => typeof p.delay === 'number')
    .map(({ event, delay }) => ({ event, delay }));
}

function step(snapshot: Snapshot, event: ClientEvent): [Snapshot, Actions] {
  return transition(clientMachine, snapshot, event);
}

function run(snapshot: Snapshot, ...events: ClientEvent[]): Snapshot {
  return events.reduce((s, e) => step(s, e)[0], snapshot);
}

/** Fire the pending `after` timer of a step, as the actor's clock would. */
function fireTimer(snapshot: Snapshot, actions: Actions): [Snapshot, Actions] {
  const [timer] = scheduled(actions);
  if (!timer) throw new Error('no timer was scheduled');
  return step(snapshot, timer.event);
}

const line = (text: string): ClientEvent => ({ type: 'server.line', text });
const typed = (text: string): ClientEvent => ({ type: 'user.line', text });
const refused: ClientEvent = { type: 'socket.failed', code: 'ECONNREFUSED' };
const GREETING = 'statechat — type your login to sign in, or a new one to register.';
const connectedLine = { type: 'print', params: { text: 'connected to 127.0.0.1:9090' } };
const waitingLine = (why: string) => ({
  type: 'print',
  params: { text: `waiting for server… 127.0.0.1:9090: ${why} (Ctrl-C to give up)` },
});

// One way into each state.
const reach = {
  connecting: () => initialTransition(clientMachine, input)[0],
  waiting: () => run(reach.connecting(), refused),
  handshaking: () => run(reach.connecting(), { type: 'socket.connected' }),
  heard: () => run(reach.handshaking(), line(GREETING)),
  chatting: () => run(reach.handshaking(), line('Enter your login:')),
  closing: () => run(reach.chatting(), typed('/quit')),
  closed: () => run(reach.closing(), { type: 'socket.closed' }),
};

describe('client machine — state × event', () => {
  it('starts by connecting to the configured address', () => {
    const [snapshot, actions] = initialTransition(clientMachine, input);

    expect(statePath(snapshot)).toBe('connecting');
    expect(effects(actions)).toEqual([{ type: 'connect', params: { host: '127.0.0.1', port: 9090 } }]);
  });

  it.each<[keyof typeof reach, ClientEvent, string, Array<{ type: string; params?: unknown }>]>([
    // connecting
    ['connecting', { type: 'socket.connected' }, 'connected.handshaking.silent', []],
    ['connecting', refused, 'waiting', [waitingLine('ECONNREFUSED')]],
    ['connecting', { type: 'socket.failed', code: 'ENOTFOUND' }, 'closed', [
      { type: 'print', params: { text: 'cannot connect to 127.0.0.1:9090: ENOTFOUND' } },
      { type: 'disconnect' },
    ]],
    ['connecting', typed('alice'), 'connecting', []],
    ['connecting', typed('/quit'), 'closed', [{ type: 'disconnect' }]],
    ['connecting', { type: 'user.interrupt' }, 'closed', [{ type: 'disconnect' }]],
    ['connecting', line('stray'), 'connecting', []], // ignored: no connection yet
    // waiting
    ['waiting', { type: 'socket.connected' }, 'waiting', []], // ignored: stale socket
    ['waiting', refused, 'waiting', []], // ignored
    ['waiting', typed('alice'), 'waiting', []],
    ['waiting', typed('/quit'), 'closed', [{ type: 'disconnect' }]],
    ['waiting', { type: 'user.interrupt' }, 'closed', [{ type: 'disconnect' }]],
    // connected, the server has not said a word yet
    ['handshaking', line('Enter your login:'), 'connected.chatting', [
      connectedLine,
      { type: 'print', params: { text: 'Enter your login:' } },
      { type: 'showPrompt' },
    ]],
    ['handshaking', line(GREETING), 'connected.handshaking.heard', []], // held back for now
    ['handshaking', typed('alice'), 'connected.handshaking.silent', []],
    ['handshaking', { type: 'socket.closed' }, 'waiting', [waitingLine('ECONNCLOSED')]],
    ['handshaking', { type: 'socket.closed', code: 'ECONNRESET' }, 'waiting', [waitingLine('ECONNRESET')]],
    ['handshaking', { type: 'user.interrupt' }, 'closed', [{ type: 'disconnect' }]],
    ['handshaking', refused, 'connected.handshaking.silent', []], // ignored: only for attempts
    // connected, the server greeted but has not prompted yet
    ['heard', line('Enter your login:'), 'connected.chatting', [
      connectedLine,
      { type: 'print', params: { text: GREETING } },
      { type: 'print', params: { text: 'Enter your login:' } },
      { type: 'showPrompt' },
    ]],
    ['heard', line('Server busy, try again later.'), 'connected.handshaking.heard', []],
    ['heard', { type: 'socket.closed' }, 'waiting', [waitingLine(GREETING)]], // refused, in its words
    ['heard', typed('alice'), 'connected.handshaking.heard', []],
    ['heard', { type: 'user.interrupt' }, 'closed', [{ type: 'disconnect' }]],
    // chatting
    ['chatting', line('[12:34:56] bob: hi'), 'connected.chatting', [
      { type: 'print', params: { text: '[12:34:56] bob: hi' } },
    ]],
    ['chatting', typed('hello'), 'connected.chatting', [{ type: 'writeLine', params: { text: 'hello' } }]],
    ['chatting', typed('/quit'), 'closing', [{ type: 'writeLine', params: { text: '/quit' } }]],
    ['chatting', typed('  /quit '), 'closing', [{ type: 'writeLine', params: { text: '/quit' } }]],
    ['chatting', { type: 'user.interrupt' }, 'closing', [{ type: 'writeLine', params: { text: '/quit' } }]],
    ['chatting', { type: 'user.eof' }, 'connected.chatting', []], // keep listening, no half-close
    ['chatting', { type: 'socket.closed' }, 'closed', [
      { type: 'print', params: { text: 'connection closed by server' } },
      { type: 'disconnect' },
    ]],
    ['chatting', { type: 'socket.closed', code: 'ECONNRESET' }, 'closed', [
      { type: 'print', params: { text: 'connection lost (ECONNRESET)' } },
      { type: 'disconnect' },
    ]],
    ['chatting', { type: 'socket.connected' }, 'connected.chatting', []], // ignored
    ['chatting', refused, 'connected.chatting', []], // ignored
    // closing
    ['closing', line('Bye'), 'closing', [{ type: 'print', params: { text: 'Bye' } }]],
    ['closing', typed('too late'), 'closing', []], // ignored: nothing more is sent
    ['closing', { type: 'socket.closed' }, 'closed', [{ type: 'disconnect' }]],
    ['closing', { type: 'socket.closed', code: 'ECONNRESET' }, 'closed', [{ type: 'disconnect' }]],
    ['closing', { type: 'user.interrupt' }, 'closed', [{ type: 'disconnect' }]],
    // closed is final: everything is ignored
    ['closed', line('late'), 'closed', []],
    ['closed', typed('late'), 'closed', []],
    ['closed', { type: 'socket.connected' }, 'closed', []],
  ])('in %s, %o → %s', (from, event, to, expected) => {
    const [snapshot, actions] = step(reach[from](), event);

    expect(statePath(snapshot)).toBe(to);
    expect(effects(actions)).toEqual(expected);
  });
});

describe('client machine — waiting and backoff', () => {
  it('retries after a delay that doubles with each failure and is capped', () => {
    let [snapshot, actions] = initialTransition(clientMachine, input);
    const delays: number[] = [];

    for (let i = 0; i < 7; i++) {
      [snapshot, actions] = step(snapshot, refused);
      delays.push(scheduled(actions)[0]!.delay);
      [snapshot, actions] = fireTimer(snapshot, actions);
      expect(statePath(snapshot)).toBe('connecting');
      expect(effects(actions)).toEqual([{ type: 'connect', params: { host: '127.0.0.1', port: 9090 } }]);
    }

    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });

  it('says "waiting for server…" once per outage, not once per retry', () => {
    let [snapshot, actions] = initialTransition(clientMachine, input);
    const printed: unknown[] = [];

    for (let i = 0; i < 3; i++) {
      [snapshot, actions] = step(snapshot, { type: 'socket.failed', code: i === 1 ? 'ETIMEDOUT' : 'ECONNREFUSED' });
      printed.push(...effects(actions).filter((a) => a.type === 'print'));
      [snapshot, actions] = fireTimer(snapshot, actions);
    }

    expect(printed).toHaveLength(1);
  });

  it('starts the backoff over after a successful connect', () => {
    let [snapshot, actions] = step(reach.connecting(), refused);
    [snapshot, actions] = fireTimer(snapshot, actions);
    [snapshot, actions] = step(snapshot, refused);
    expect(scheduled(actions)[0]!.delay).toBe(500);
    [snapshot, actions] = fireTimer(snapshot, actions);

    snapshot = run(snapshot, { type: 'socket.connected' });
    expect(snapshot.context.attempt).toBe(2); // TCP accepting is not yet the server accepting us

    snapshot = run(snapshot, line('Enter your login:'));
    expect(snapshot.context).toMatchObject({ attempt: 0, retryDelay: 0, lastFailure: null, waitingAnnounced: false });
  });

  it('honours a custom backoff policy from its input', () => {
    const [start] = initialTransition(clientMachine, { ...input, backoff: { baseMs: 10, maxMs: 30 } });
    const [, first] = step(start, refused);

    expect(scheduled(first)[0]!.delay).toBe(10);
  });

  it('gives up with exit code 1 on a failure that retrying cannot fix', () => {
    const [snapshot] = step(reach.connecting(), { type: 'socket.failed', code: 'ENOTFOUND' });

    expect(snapshot.status).toBe('done');
    expect(snapshot.output).toEqual({ exitCode: 1 });
  });
});

describe('client machine — refusal and acceptance', () => {
  it('treats a server that says something and hangs up as refusing: waits, quoting it, and retries', () => {
    const snapshot = run(reach.handshaking(), line('Server busy, try again later.'));

    const [next, actions] = step(snapshot, { type: 'socket.closed' });

    expect(statePath(next)).toBe('waiting');
    expect(effects(actions)).toEqual([waitingLine('Server busy, try again later.')]);
    expect(scheduled(actions)[0]!.delay).toBe(250);
    expect(next.context.preamble).toEqual([]);
  });

  it('says nothing more while the refusals go on, and "connected" once the server accepts', () => {
    let [snapshot, actions] = step(reach.heard(), { type: 'socket.closed' });
    const printed: unknown[] = [...effects(actions)];
    for (let i = 0; i < 3; i++) {
      [snapshot, actions] = fireTimer(snapshot, actions);
      snapshot = run(snapshot, { type: 'socket.connected' }, line('Server busy, try again later.'));
      [snapshot, actions] = step(snapshot, { type: 'socket.closed' });
      printed.push(...effects(actions));
    }
    expect(printed).toEqual([waitingLine(GREETING)]);

    [snapshot, actions] = fireTimer(snapshot, actions);
    snapshot = run(snapshot, { type: 'socket.connected' }, line(GREETING));
    [snapshot, actions] = step(snapshot, line('Enter your login:'));
    expect(effects(actions).slice(0, 3)).toEqual([
      connectedLine,
      { type: 'print', params: { text: GREETING } },
      { type: 'print', params: { text: 'Enter your login:' } },
    ]);
  });

  it('takes a greeting followed by an open connection as acceptance, even without a prompt', () => {
    const [heard, onGreeting] = step(reach.handshaking(), line('statechat echo — every line you send comes back.'));
    expect(scheduled(onGreeting)).toEqual([expect.objectContaining({ delay: 500 })]);

    const [next, actions] = fireTimer(heard, onGreeting);

    expect(statePath(next)).toBe('connected.chatting');
    expect(effects(actions)).toEqual([
      connectedLine,
      { type: 'print', params: { text: 'statechat echo — every line you send comes back.' } },
      { type: 'showPrompt' },
    ]);
  });

  it('takes a long preamble as acceptance without waiting', () => {
    let snapshot = reach.handshaking();
    for (let i = 1; i < 20; i++) snapshot = run(snapshot, line(`news ${i}`));
    expect(statePath(snapshot)).toBe('connected.handshaking.heard');

    const [next, actions] = step(snapshot, line('news 20'));

    expect(statePath(next)).toBe('connected.chatting');
    expect(effects(actions).filter((a) => a.type === 'print')).toHaveLength(21);
  });

  it('says "waiting for server…" when connected but the server stays silent', () => {
    const [silent, onConnect] = transition(clientMachine, reach.connecting(), { type: 'socket.connected' });
    expect(scheduled(onConnect)).toEqual([expect.objectContaining({ delay: 3000 })]);

    const [next, actions] = fireTimer(silent, onConnect);

    expect(statePath(next)).toBe('connected.handshaking.silent');
    expect(effects(actions)).toEqual([waitingLine('connected, no answer yet')]);
  });
});

describe('client machine — typeahead', () => {
  it('queues lines typed before the server accepts us and sends them, in order, after its prompt', () => {
    let [snapshot, actions] = step(reach.connecting(), typed('alice'));
    [snapshot, actions] = step(snapshot, refused);
    const timer = actions;
    [snapshot] = step(snapshot, typed('secret'));
    [snapshot] = fireTimer(snapshot, timer);
    snapshot = run(snapshot, { type: 'socket.connected' }, typed('again'));
    expect(snapshot.context.pending).toEqual(['alice', 'secret', 'again']);

    const [next, onGreeting] = step(snapshot, line('Enter your login:'));
    actions = onGreeting;

    expect(effects(actions)).toEqual([
      connectedLine,
      { type: 'print', params: { text: 'Enter your login:' } },
      { type: 'writeLine', params: { text: 'alice' } },
      { type: 'writeLine', params: { text: 'secret' } },
      { type: 'writeLine', params: { text: 'again' } },
      { type: 'showPrompt' },
    ]);
    expect(next.context.pending).toEqual([]);
  });

  it('keeps the queue when the server hangs up before accepting us', () => {
    const snapshot = run(reach.handshaking(), typed('alice'), { type: 'socket.closed' });
    expect(statePath(snapshot)).toBe('waiting');

    const again = run(snapshot, { type: 'socket.connected' }); // ignored while waiting
    expect(again.context.pending).toEqual(['alice']);
  });

  it('sends a queued /quit after the lines ahead of it, drops what follows, and closes', () => {
    const snapshot = run(reach.connecting(), typed('alice'), typed('/quit'), typed('after'), { type: 'socket.connected' });

    const [next, actions] = step(snapshot, line('Enter your login:'));

    expect(statePath(next)).toBe('closing');
    expect(effects(actions)).toEqual([
      connectedLine,
      { type: 'print', params: { text: 'Enter your login:' } },
      { type: 'writeLine', params: { text: 'alice' } },
      { type: 'writeLine', params: { text: '/quit' } },
    ]);
  });

  it('quits at once on /quit with nothing queued, even before connecting', () => {
    const [snapshot, actions] = step(reach.waiting(), typed('/quit'));

    expect(snapshot.status).toBe('done');
    expect(snapshot.output).toEqual({ exitCode: 0 });
    expect(effects(actions).some((a) => a.type === 'writeLine')).toBe(false);
  });

  it('remembers that piped input ended, and keeps going', () => {
    const snapshot = run(reach.waiting(), { type: 'user.eof' });

    expect(statePath(snapshot)).toBe('waiting');
    expect(snapshot.context.inputEnded).toBe(true);
  });
});

describe('client machine — password prompts', () => {
  it('hides exactly the one line typed after a password prompt', () => {
    const [prompted, onPrompt] = step(reach.chatting(), line('Password:'));
    expect(effects(onPrompt)).toEqual([
      { type: 'print', params: { text: 'Password:' } },
      { type: 'setEchoHidden', params: { hidden: true } },
    ]);
    expect(prompted.context.nextInputHidden).toBe(true);

    const [answered, onPassword] = step(prompted, typed('hunter2'));
    expect(effects(onPassword)).toEqual([
      { type: 'writeLine', params: { text: 'hunter2' } },
      { type: 'setEchoHidden', params: { hidden: false } },
    ]);

    const [, onNext] = step(answered, typed('hello'));
    expect(effects(onNext)).toEqual([{ type: 'writeLine', params: { text: 'hello' } }]);
  });

  it('stays hidden when other lines arrive before the password is typed', () => {
    const snapshot = run(reach.chatting(), line('Password:'));

    const [next, actions] = step(snapshot, line('Repeat the password:'));

    expect(next.context.nextInputHidden).toBe(true);
    expect(effects(actions)).toEqual([{ type: 'print', params: { text: 'Repeat the password:' } }]);
  });

  it('shows the input again when leaving in the middle of a password', () => {
    const snapshot = run(reach.chatting(), line('Password:'));

    const [next, actions] = step(snapshot, { type: 'user.interrupt' });

    expect(statePath(next)).toBe('closing');
    expect(effects(actions)).toEqual([
      { type: 'writeLine', params: { text: '/quit' } },
      { type: 'setEchoHidden', params: { hidden: false } },
    ]);
  });

  it('does not hide input because of a chat message that mentions a password', () => {
    const [snapshot, actions] = step(reach.chatting(), line('[12:34:56] bob: what is the wifi password:'));

    expect(snapshot.context.nextInputHidden).toBe(false);
    expect(effects(actions).map((a) => a.type)).toEqual(['print']);
  });

  it('detects the server prompts for passwords, and only those', () => {
    expect(isPasswordPrompt('Password:')).toBe(true);
    expect(isPasswordPrompt('Choose a password (at least 4 characters):')).toBe(true);
    expect(isPasswordPrompt('Repeat the password: ')).toBe(true);
    expect(isPasswordPrompt('PASSWORD:')).toBe(true);
    expect(isPasswordPrompt('Enter your login:')).toBe(false);
    expect(isPasswordPrompt('Wrong password, try again.')).toBe(false);
    expect(isPasswordPrompt('[12:34:56] alice: my password:')).toBe(false);
  });
});

describe('client machine — closing', () => {
  it('hangs up after the quit timeout if the server never closes', () => {
    const [closing, actions] = step(reach.chatting(), typed('/quit'));
    expect(scheduled(actions)).toEqual([{ event: expect.objectContaining({ type: expect.any(String) }), delay: 2000 }]);

    const [closed, onTimeout] = fireTimer(closing, actions);

    expect(closed.status).toBe('done');
    expect(closed.output).toEqual({ exitCode: 0 });
    expect(effects(onTimeout)).toEqual([{ type: 'disconnect' }]);
  });

  it('exits 0 when the server closes normally, 1 when the connection is lost', () => {
    expect(run(reach.chatting(), { type: 'socket.closed' }).output).toEqual({ exitCode: 0 });
    expect(run(reach.chatting(), { type: 'socket.closed', code: 'ECONNRESET' }).output).toEqual({ exitCode: 1 });
    expect(run(reach.closing(), { type: 'socket.closed', code: 'ECONNRESET' }).output).toEqual({ exitCode: 0 });
  });
});

describe('client helpers', () => {
  it('backoffDelay doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 100].map((n) => backoffDelay(n))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(backoffDelay(3, { baseMs: 100, maxMs: 1000 })).toBe(400);
    expect(Number.isFinite(backoffDelay(10_000))).toBe(true);
  });

  it('withJitter spreads a delay by ±20 %', () => {
    expect(withJitter(1000, 0)).toBe(800);
    expect(withJitter(1000, 0.5)).toBe(1000);
    expect(withJitter(1000, 0.999999)).toBe(1200);
  });

  it('retries refusals, timeouts and resets, not a host that does not exist', () => {
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']) expect(isRetryableCode(code)).toBe(true);
    expect(isRetryableCode('ENOTFOUND')).toBe(false);
  });

  it('isPrompt: a complete line ending in ":" that is not a chat line', () => {
    expect(isPrompt('Enter your login:')).toBe(true);
    expect(isPrompt('statechat — type your login to sign in, or a new one to register.')).toBe(false);
    expect(isPrompt('[12:34:56] bob: note:')).toBe(false);
    expect(isPrompt('[2024-05-01 12:34:56] bob: note:')).toBe(false);
  });

  it('linesToFlush stops after the first /quit', () => {
    expect(linesToFlush(['a', '/quit', 'b'])).toEqual(['a', '/quit']);
    expect(linesToFlush(['a', 'b'])).toEqual(['a', 'b']);
  });
});

describe('client machine — reconnecting after a lost session', () => {
  const reconnecting = { ...input, reconnect: true };
  const withLogin = { ...reconnecting, login: 'alice' };
  const chattingWith = (machineInput: typeof reconnecting & { login?: string }) =>
    run(initialTransition(clientMachine, machineInput)[0], { type: 'socket.connected' }, line(GREETING), line('Enter your login:'));
  const lostLine = { type: 'print', params: { text: 'connection to the server lost — reconnecting… (Ctrl-C to give up)' } };
  const notSent = { type: 'print', params: { text: 'not connected yet — that line was not sent' } };

  it('says once that the connection was lost, retries after one backoff step, and is connected again as a new session', () => {
    const signedIn = run(chattingWith(reconnecting), typed('alice'), line('Password:'), typed('secret'), line('Welcome back, alice!'));

    const [lost, onDrop] = step(signedIn, { type: 'socket.closed' });
    expect(statePath(lost)).toBe('reconnecting');
    expect(effects(onDrop)).toEqual([lostLine]);
    expect(scheduled(onDrop)).toEqual([expect.objectContaining({ delay: 250 })]);

    // the server is still down: the usual backoff, and no "waiting for server…" on top
    let [snapshot, actions] = fireTimer(lost, onDrop);
    expect(statePath(snapshot)).toBe('connecting');
    expect(effects(actions)).toEqual([{ type: 'connect', params: { host: '127.0.0.1', port: 9090 } }]);
    [snapshot, actions] = step(snapshot, refused);
    expect(statePath(snapshot)).toBe('waiting');
    expect(effects(actions)).toEqual([]);
    expect(scheduled(actions)[0]!.delay).toBe(500);

    // it is back: the login prompt again, shown like the first time
    [snapshot, actions] = fireTimer(snapshot, actions);
    snapshot = run(snapshot, { type: 'socket.connected' }, line(GREETING));
    [snapshot, actions] = step(snapshot, line('Enter your login:'));
    expect(statePath(snapshot)).toBe('connected.chatting');
    expect(effects(actions)).toEqual([
      connectedLine,
      { type: 'print', params: { text: GREETING } },
      { type: 'print', params: { text: 'Enter your login:' } },
      { type: 'showPrompt' },
    ]);
    expect(snapshot.context).toMatchObject({ sessionLost: false, attempt: 0, waitingAnnounced: false });
  });

  it('names the error when the connection was lost with one', () => {
    const [, actions] = step(chattingWith(reconnecting), { type: 'socket.closed', code: 'ECONNRESET' });

    expect(effects(actions)).toEqual([
      { type: 'print', params: { text: 'connection to the server lost (ECONNRESET) — reconnecting… (Ctrl-C to give up)' } },
    ]);
  });

  it('reconnects after "The server is shutting down. Bye!": a restart, typically', () => {
    const snapshot = run(chattingWith(reconnecting), line('The server is shutting down. Bye!'), { type: 'socket.closed' });

    expect(statePath(snapshot)).toBe('reconnecting');
  });

  it('shows the input again when the connection drops in the middle of a password', () => {
    const [, actions] = step(run(chattingWith(reconnecting), line('Password:')), { type: 'socket.closed' });

    expect(effects(actions)).toEqual([{ type: 'setEchoHidden', params: { hidden: false } }, lostLine]);
  });

  it.each([
    ['a kick by the operator', 'You were disconnected by the server operator.'],
    ['a login timeout', 'Login timed out. Disconnecting.'],
    ['too many wrong passwords', 'Too many wrong passwords. Disconnecting.'],
  ])('exits as before, without reconnecting, after %s', (_, last) => {
    const [snapshot, actions] = step(run(chattingWith(reconnecting), line(last)), { type: 'socket.closed' });

    expect(snapshot.status).toBe('done');
    expect(snapshot.output).toEqual({ exitCode: 0 });
    expect(effects(actions)).toEqual([{ type: 'print', params: { text: 'connection closed by server' } }, { type: 'disconnect' }]);
  });

  it('does not take a chat line that reads like a kick for one', () => {
    const snapshot = run(chattingWith(reconnecting), line('[12:34:56] bob: Disconnecting.'), { type: 'socket.closed' });

    expect(statePath(snapshot)).toBe('reconnecting');
  });

  it('exits as before with reconnecting off (--no-reconnect): 0 when closed, 1 when lost with an error', () => {
    const off = { ...input, reconnect: false };

    const closed = run(chattingWith(off), { type: 'socket.closed' });
    const lost = run(chattingWith(off), { type: 'socket.closed', code: 'ECONNRESET' });

    expect(closed.status).toBe('done');
    expect(closed.output).toEqual({ exitCode: 0 });
    expect(lost.output).toEqual({ exitCode: 1 });
  });

  it('does not reconnect once piped input has ended: nothing more could be sent', () => {
    const snapshot = run(chattingWith(reconnecting), { type: 'user.eof' }, { type: 'socket.closed' });

    expect(snapshot.status).toBe('done');
    expect(snapshot.output).toEqual({ exitCode: 0 });
  });

  /** The states between a lost session and the next one. */
  const between = {
    reconnecting: () => run(chattingWith(reconnecting), { type: 'socket.closed' }),
    connecting: () => {
      const [lost, onDrop] = step(chattingWith(reconnecting), { type: 'socket.closed' });
      return fireTimer(lost, onDrop)[0];
    },
    waiting: () => run(between.connecting(), refused),
    handshaking: () => run(between.connecting(), { type: 'socket.connected' }),
  };

  it.each(Object.keys(between) as Array<keyof typeof between>)(
    'exits at once, code 0, on /quit, Ctrl-C or the end of input while %s',
    (state) => {
      const there = between[state]();
      expect(statePath(there)).toMatch(new RegExp(`^(connected\\.)?${state}`));

      for (const leave of [typed('/quit'), { type: 'user.interrupt' } as const, { type: 'user.eof' } as const]) {
        const [gone, actions] = step(there, leave);
        expect(gone.status).toBe('done');
        expect(gone.output).toEqual({ exitCode: 0 });
        expect(effects(actions)).toEqual([{ type: 'disconnect' }]); // no session: nobody to say /quit to
      }
    },
  );

  it('hands back a line typed between sessions instead of sending it as the next login', () => {
    const lost = run(chattingWith(reconnecting), { type: 'socket.closed' });

    const [snapshot, actions] = step(lost, typed('hello all'));

    expect(statePath(snapshot)).toBe('reconnecting');
    expect(effects(actions)).toEqual([notSent, { type: 'restoreInput', params: { text: 'hello all' } }]);
    expect(snapshot.context.pending).toEqual([]);
  });

  it('--login answers the login prompt by itself, then sends the typeahead', () => {
    const snapshot = run(initialTransition(clientMachine, withLogin)[0], typed('secret'), { type: 'socket.connected' });

    const [next, actions] = step(snapshot, line('Enter your login:'));

    expect(effects(actions)).toEqual([
      connectedLine,
      { type: 'print', params: { text: 'Enter your login:' } },
      { type: 'print', params: { text: 'alice (--login)' } },
      { type: 'writeLine', params: { text: 'alice' } },
      { type: 'writeLine', params: { text: 'secret' } },
      { type: 'showPrompt' },
    ]);
    expect(next.context.loginSent).toBe(true);
  });

  it('--login answers a login prompt that comes after a greeting, once per session, and again after a reconnect', () => {
    const [prompted, onPrompt] = step(run(initialTransition(clientMachine, withLogin)[0], { type: 'socket.connected' }, line(GREETING)), line('Enter your login:'));
    expect(effects(onPrompt).filter((a) => a.type === 'writeLine')).toEqual([{ type: 'writeLine', params: { text: 'alice' } }]);

    // asked again in the same session (alice is online elsewhere): the user answers this one
    const [, again] = step(run(prompted, line('alice is already logged in from another connection. Choose another login.')), line('Enter your login:'));
    expect(effects(again)).toEqual([{ type: 'print', params: { text: 'Enter your login:' } }]);
    // a password prompt is never answered
    const [, password] = step(prompted, line('Password:'));
    expect(effects(password).some((a) => a.type === 'writeLine')).toBe(false);

    // the next session
    const [lost, onDrop] = step(prompted, { type: 'socket.closed' });
    const back = run(fireTimer(lost, onDrop)[0], { type: 'socket.connected' }, line(GREETING));
    const [, onNewPrompt] = step(back, line('Enter your login:'));
    expect(effects(onNewPrompt).filter((a) => a.type === 'writeLine')).toEqual([{ type: 'writeLine', params: { text: 'alice' } }]);
  });

  it('ignores a stale socket event while reconnecting', () => {
    const lost = run(chattingWith(reconnecting), { type: 'socket.closed' });

    for (const event of [line('late'), { type: 'socket.connected' } as const, refused]) {
      const [snapshot, actions] = step(lost, event);
      expect(statePath(snapshot)).toBe('reconnecting');
      expect(effects(actions)).toEqual([]);
    }
  });
});

describe('client helpers — reconnecting', () => {
  it('isLoginPrompt: the login prompt, not a password prompt or a chat line', () => {
    expect(isLoginPrompt('Enter your login:')).toBe(true);
    expect(isLoginPrompt('Password:')).toBe(false);
    expect(isLoginPrompt('statechat — type your login to sign in, or a new one to register.')).toBe(false);
    expect(isLoginPrompt('[12:34:56] bob: my login:')).toBe(false);
    expect(isLoginPrompt('Type your login again to confirm:')).toBe(false); // never answered by --login
    expect(isLoginPrompt('  Enter your login:  ')).toBe(true); // the spacing around it does not matter
  });

  it('endsSessionForGood: a kick, a deleted account and "… Disconnecting.", not a shutdown', () => {
    expect(endsSessionForGood('You were disconnected by the server operator.')).toBe(true);
    expect(endsSessionForGood('Login timed out. Disconnecting.')).toBe(true);
    expect(endsSessionForGood('Your account was deleted. Bye!')).toBe(true);
    expect(endsSessionForGood('The server is shutting down. Bye!')).toBe(false);
    expect(endsSessionForGood(null)).toBe(false);
    // "Disconnecting." must end the line (trailing spaces aside), and a user cannot end another's
    // session by typing it: a chat line is never the server's last word.
    expect(endsSessionForGood('Too many wrong passwords. Disconnecting.  ')).toBe(true);
    expect(endsSessionForGood('Disconnecting. Just kidding')).toBe(false);
    expect(endsSessionForGood('[2026-12-07 10:00:00] mallory: Flood. Disconnecting.')).toBe(false);
  });
});
