import { transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { type SupervisorInput, supervisorMachine } from '../../src/machines/supervisor.js';
import { type AnyEventOf, doneActor, drive, errorActor, linesOf, spawned, steps, summary } from './helpers.js';

type Event = AnyEventOf<typeof supervisorMachine>;

const CHAT_ONLY = 'That command belongs to the chat server; this is the echo server.';
const BUSY = 'Busy clearing; try again in a moment.';
const RUNNING = { running: { logDisplay: 'shown', maintenance: 'idle' } };

function at(mode: SupervisorInput['mode'], path: Event[] = []) {
  const [snapshot] = drive(supervisorMachine, { mode, roomIdleMs: 60_000, maxRooms: 10 }, path);
  return snapshot;
}

function send(snapshot: ReturnType<typeof at>, ...events: Event[]) {
  return steps(supervisorMachine, snapshot, events);
}

describe('supervisor machine: console commands', () => {
  it('starts running, the log shown and no maintenance under way, with the history writer and #lobby', () => {
    const [snapshot, actions] = drive(supervisorMachine, { mode: 'chat', roomIdleMs: 60_000, maxRooms: 10 }, []);

    expect(snapshot.value).toEqual(RUNNING);
    expect(summary(actions)).toEqual([]);
    expect(Object.keys(snapshot.children).sort()).toEqual(['historyWriter', 'room:#lobby']);
    expect(Object.keys(snapshot.context.rooms)).toEqual(['#lobby']);
  });

  it('in echo mode, starts no room and no history writer', () => {
    const [snapshot] = drive(supervisorMachine, { mode: 'echo', roomIdleMs: 60_000, maxRooms: 10 }, []);

    expect(Object.keys(snapshot.children)).toEqual([]);
  });

  it.each([
    [{ type: 'console.stopListen' }, [{ type: 'pauseListener' }]],
    [{ type: 'console.startListen' }, [{ type: 'resumeListener' }]],
    [{ type: 'console.help' }, [{ type: 'showHelp' }]],
    [{ type: 'console.status' }, [{ type: 'showStatus' }]],
    [{ type: 'console.who' }, [{ type: 'showWho' }]],
    [{ type: 'console.kick', login: 'bob' }, [{ type: 'kick', params: { login: 'bob' } }]],
    [{ type: 'console.say', room: undefined, text: 'back in   5' }, [{ type: 'say', params: { room: undefined, text: 'back in   5' } }]],
    [
      { type: 'console.unknown', input: 'frobnicate now' },
      [{ type: 'reply', params: { lines: ['Unknown command "frobnicate now". Type "help" for the list.'] } }],
    ],
    [{ type: 'console.usage', usage: 'Usage: kick <login>', chatOnly: true }, [{ type: 'reply', params: { lines: ['Usage: kick <login>'] } }]],
  ] as [Event, unknown[]][])('in chat mode, answers %j with %j and keeps running', (event, expected) => {
    const [after, actions] = send(at('chat'), event);

    expect(after.value).toEqual(RUNNING);
    expect(summary(actions)).toEqual(expected);
  });

  it.each([
    [{ type: 'console.who' }],
    [{ type: 'console.kick', login: 'bob' }],
    [{ type: 'console.say', room: undefined, text: 'hello' }],
    [{ type: 'console.clearFile' }],
    [{ type: 'console.usage', usage: 'Usage: kick <login>', chatOnly: true }],
  ] as [Event][])('in echo mode, answers %j with the chat-only reply and does nothing else', (event) => {
    const [after, actions] = send(at('echo'), event);

    expect(after.value).toEqual(RUNNING);
    expect(summary(actions)).toEqual([{ type: 'reply', params: { lines: [CHAT_ONLY] } }]);
    expect(spawned(actions)).toEqual([]);
  });

  it.each([
    [{ type: 'console.stopListen' }, 'pauseListener'],
    [{ type: 'console.startListen' }, 'resumeListener'],
    [{ type: 'console.help' }, 'showHelp'],
    [{ type: 'console.status' }, 'showStatus'],
  ] as [Event, string][])('in echo mode, still answers %j with %s', (event, action) => {
    const [, actions] = send(at('echo'), event);

    expect(summary(actions)).toEqual([{ type: action }]);
  });

  it('clears the log in echo mode too', () => {
    const [after, actions] = send(at('echo'), { type: 'console.clearLog' });

    expect(after.value).toEqual({ running: { logDisplay: 'shown', maintenance: 'clearingLog' } });
    expect(spawned(actions).map((s) => s.id)).toEqual(['clearLogFile']);
  });
});

describe('supervisor machine: the log display', () => {
  it('hides the log display on "stop log"', () => {
    const [after, actions] = send(at('chat'), { type: 'console.stopLog' });

    expect(after.value).toEqual({ running: { logDisplay: 'hidden', maintenance: 'idle' } });
    expect(summary(actions)).toEqual([
      { type: 'setLogDisplay', params: { shown: false } },
      { type: 'reply', params: { lines: ['Log display stopped (the log file is still written). "start log" resumes it.'] } },
    ]);
  });

  it('shows the log display again on "start log"', () => {
    const [after, actions] = send(at('chat', [{ type: 'console.stopLog' }]), { type: 'console.startLog' });

    expect(after.value).toEqual(RUNNING);
    expect(summary(actions)).toEqual([
      { type: 'setLogDisplay', params: { shown: true } },
      { type: 'reply', params: { lines: ['Log display resumed.'] } },
    ]);
  });

  it('only says so on "start log" when the log is already shown', () => {
    const [after, actions] = send(at('chat'), { type: 'console.startLog' });

    expect(after.value).toEqual(RUNNING);
    expect(summary(actions)).toEqual([{ type: 'reply', params: { lines: ['The log is already shown.'] } }]);
  });

  it('only says so on "stop log" when the log display is already stopped', () => {
    const hidden = at('chat', [{ type: 'console.stopLog' }]);

    const [after, actions] = send(hidden, { type: 'console.stopLog' });

    expect(after.value).toEqual(hidden.value);
    expect(summary(actions)).toEqual([{ type: 'reply', params: { lines: ['The log display is already stopped.'] } }]);
  });

  it('toggles the display while a clear is under way, without disturbing it', () => {
    const clearing = at('chat', [{ type: 'console.clearLog' }]);

    const [after, actions] = send(clearing, { type: 'console.stopLog' });

    expect(after.value).toEqual({ running: { logDisplay: 'hidden', maintenance: 'clearingLog' } });
    expect(actions.some((a) => a.type.startsWith('xstate.'))).toBe(false);
  });
});

describe('supervisor machine: clearing the log and the clients file', () => {
  it('clears the log file, then the screen, and says so', () => {
    const [clearing, startActions] = send(at('chat'), { type: 'console.clearLog' });
    const [after, doneActions] = send(clearing, doneActor('clearLogFile'));

    expect(clearing.value).toEqual({ running: { logDisplay: 'shown', maintenance: 'clearingLog' } });
    expect(spawned(startActions)).toEqual([{ id: 'clearLogFile', src: 'clearLogFile', input: undefined }]);
    expect(after.value).toEqual(RUNNING);
    expect(summary(doneActions)).toEqual([{ type: 'clearScreen' }, { type: 'reply', params: { lines: ['Log cleared.'] } }]);
  });

  it('reports a log file that could not be cleared, and is ready again', () => {
    const [after, actions] = send(at('chat', [{ type: 'console.clearLog' }]), errorActor('clearLogFile', new Error('EACCES')));

    expect(after.value).toEqual(RUNNING);
    expect(summary(actions)).toEqual([{ type: 'reportFailure', params: { what: 'clear log' } }]);
  });

  it('empties clients.csv and says what that means', () => {
    const [clearing, startActions] = send(at('chat'), { type: 'console.clearFile' });
    const [after, doneActions] = send(clearing, doneActor('clearClientsFile'));

    expect(clearing.value).toEqual({ running: { logDisplay: 'shown', maintenance: 'clearingFile' } });
    expect(spawned(startActions).map((s) => s.id)).toEqual(['clearClientsFile']);
    expect(after.value).toEqual(RUNNING);
    expect(linesOf(doneActions, 'reply')).toEqual([
      'clients.csv emptied: every registration is gone; users online stay online.',
    ]);
  });

  it('reports a clients file that could not be emptied, and is ready again', () => {
    const [after, actions] = send(at('chat', [{ type: 'console.clearFile' }]), errorActor('clearClientsFile', new Error('EROFS')));

    expect(after.value).toEqual(RUNNING);
    expect(summary(actions)).toEqual([{ type: 'reportFailure', params: { what: 'clear file' } }]);
  });

  it.each([
    ['clearLog', { type: 'console.clearLog' }, 'clearingLog'],
    ['clearLog', { type: 'console.clearFile' }, 'clearingLog'],
    ['clearFile', { type: 'console.clearLog' }, 'clearingFile'],
    ['clearFile', { type: 'console.clearFile' }, 'clearingFile'],
  ] as const)('answers busy to a second clear (%s running, then %j)', (first, second, busyState) => {
    const busy = at('chat', [{ type: `console.${first}` }]);

    const [after, actions] = send(busy, second);

    expect(after.value).toEqual({ running: { logDisplay: 'shown', maintenance: busyState } });
    expect(summary(actions)).toEqual([{ type: 'reply', params: { lines: [BUSY] } }]);
    expect(spawned(actions)).toEqual([]);
  });

  it('can clear again once the first clear is done', () => {
    const [, actions] = send(at('chat'), { type: 'console.clearLog' }, doneActor('clearLogFile'), { type: 'console.clearLog' });

    expect(spawned(actions).map((s) => s.id)).toEqual(['clearLogFile', 'clearLogFile']);
    expect(linesOf(actions, 'reply')).not.toContain(BUSY);
  });
});

describe('supervisor machine: shutting down', () => {
  it.each([
    [{ type: 'console.shutdown' }],
    [{ type: 'process.signal', signal: 'SIGTERM' }],
  ] as [Event][])('shuts down on %j: says so and runs the shutdown', (event) => {
    const [after, actions] = send(at('chat'), event);

    expect(after.value).toBe('shuttingDown');
    expect(summary(actions)).toEqual([{ type: 'reply', params: { lines: ['Shutting down…'] } }]);
    expect(spawned(actions)).toEqual([{ id: 'shutDown', src: 'shutDown', input: undefined }]);
  });

  it('stops, for good, once the shutdown is done', () => {
    const [after, actions] = send(at('chat', [{ type: 'console.shutdown' }]), doneActor('shutDown'));

    expect(after.value).toBe('stopped');
    expect(after.status).toBe('done');
    expect(summary(actions)).toEqual([]);
  });

  it('still stops when the shutdown fails, and reports the failure', () => {
    const [after, actions] = send(at('chat', [{ type: 'console.shutdown' }]), errorActor('shutDown', new Error('flush failed')));

    expect(after.value).toBe('stopped');
    expect(after.status).toBe('done');
    expect(summary(actions)).toEqual([{ type: 'reportFailure', params: { what: 'shutdown' } }]);
  });

  it('abandons a clear under way when shutting down', () => {
    const [after, actions] = send(at('chat', [{ type: 'console.clearFile' }]), { type: 'console.shutdown' });

    expect(after.value).toBe('shuttingDown');
    expect(actions.filter((a) => a.type === 'xstate.stopChild')).toHaveLength(1);
  });

  const everyEvent: Event[] = [
    { type: 'console.shutdown' },
    { type: 'process.signal', signal: 'SIGINT' },
    { type: 'console.stopListen' },
    { type: 'console.startListen' },
    { type: 'console.stopLog' },
    { type: 'console.startLog' },
    { type: 'console.clearLog' },
    { type: 'console.clearFile' },
    { type: 'console.help' },
    { type: 'console.status' },
    { type: 'console.who' },
    { type: 'console.kick', login: 'bob' },
    { type: 'console.say', room: undefined, text: 'hello' },
    { type: 'console.rooms' },
    { type: 'console.close', room: '#dev' },
    { type: 'console.unknown', input: 'x' },
    { type: 'console.usage', usage: 'Usage: kick <login>', chatOnly: true },
  ];

  it.each(everyEvent)('ignores $type while shutting down (the shutdown happens once)', (event) => {
    const shuttingDown = at('chat', [{ type: 'console.shutdown' }]);

    const [after, actions] = send(shuttingDown, event);

    expect(after.value).toBe('shuttingDown');
    expect(actions).toEqual([]);
  });

  it.each(everyEvent)('ignores $type once stopped', (event) => {
    const stopped = at('chat', [{ type: 'console.shutdown' }, doneActor('shutDown')]);

    // The pure function, not the `send` helper, which refuses a machine that is done.
    const [after, actions] = transition(supervisorMachine, stopped, event as never);

    expect(after.value).toBe('stopped');
    expect(after.status).toBe('done');
    // (A done machine's pure transition re-emits the stop of its children; nothing else.)
    expect(actions.filter((a) => (a.type as string) !== 'xstate.stopChild')).toEqual([]);
  });
});
