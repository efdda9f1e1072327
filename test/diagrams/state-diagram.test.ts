/**
 * The Mermaid generator on small machines built for the purpose: each test names one thing a
 * reader must be able to see in a diagram, and the exact line that shows it.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, fromPromise, not, setup } from 'xstate';
import { delayLabel, toStateDiagram } from '../../src/diagrams/state-diagram.js';

const lines = (machine: Parameters<typeof toStateDiagram>[0]) =>
  toStateDiagram(machine).mermaid.split('\n').map((line) => line.trim());

describe('toStateDiagram', () => {
  it('declares every state under an id made of its path, and maps paths to those ids', () => {
    const machine = createMachine({
      id: 'm',
      initial: 'a',
      states: { a: { initial: 'idle', states: { idle: {} } }, b: { initial: 'idle', states: { idle: {} } } },
    });

    const { mermaid, nodeIds } = toStateDiagram(machine);

    expect(mermaid.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(nodeIds).toEqual({ a: 'a', 'a.idle': 'a_idle', b: 'b', 'b.idle': 'b_idle' });
    expect(lines(machine)).toEqual(expect.arrayContaining(['state "idle" as a_idle', 'state "idle" as b_idle', 'state a {', '[*] --> a_idle', '[*] --> a']));
  });

  it('labels guards by name, and the unguarded fallback as [else]', () => {
    const machine = setup({ guards: { isReady: () => true } }).createMachine({
      id: 'm',
      initial: 'a',
      states: { a: { on: { go: [{ guard: 'isReady', target: 'b' }, { guard: not('isReady'), target: 'c' }, { target: 'a' }] } }, b: {}, c: {} },
    });

    expect(lines(machine)).toEqual(
      expect.arrayContaining(['a --> b : go [isReady]', 'a --> c : go [!isReady]', 'a --> a : go [else]']),
    );
  });

  it('refuses an inline guard, which would show as an unreadable [guard]', () => {
    const machine = createMachine({ id: 'm', initial: 'a', states: { a: { on: { go: { guard: () => true, target: 'b' } } }, b: {} } });

    expect(() => toStateDiagram(machine)).toThrow(/inline function; name it in setup/);
  });

  it('writes timers as "after 60s" or "after <delay name>", never as xstate.after ids', () => {
    const machine = setup({ delays: { loginTimeout: 1000 } }).createMachine({
      id: 'm',
      initial: 'a',
      states: { a: { after: { 60_000: 'b', loginTimeout: 'c' } }, b: {}, c: {} },
    });

    const text = toStateDiagram(machine).mermaid;

    expect(text).toContain('a --> b : after 60s');
    expect(text).toContain('a --> c : after loginTimeout');
    expect(text).not.toContain('xstate.');
  });

  it('writes an invoked service’s outcomes as "done: id" and "error: id"', () => {
    const machine = setup({ actors: { load: fromPromise(async () => 1) } }).createMachine({
      id: 'm',
      initial: 'loading',
      states: { loading: { invoke: { id: 'load', src: 'load', onDone: 'ready', onError: 'failed' } }, ready: {}, failed: {} },
    });

    expect(lines(machine)).toEqual(expect.arrayContaining(['loading --> ready : done: load', 'loading --> failed : error: load']));
  });

  it('separates the regions of a parallel state with --, each a named box', () => {
    const machine = createMachine({
      id: 'm',
      type: 'parallel',
      states: { left: { initial: 'x', states: { x: {} } }, right: { initial: 'y', states: { y: {} } } },
    });

    const text = lines(machine);
    const [left, separator, right] = [text.indexOf('state left {'), text.indexOf('--'), text.indexOf('state right {')];

    expect(left).toBeGreaterThan(0);
    expect(separator).toBeGreaterThan(left);
    expect(right).toBeGreaterThan(separator);
  });

  it('lists a targetless transition inside its state (on a composite: in a note), with its actions', () => {
    const machine = setup({ actions: { say: () => {} } }).createMachine({
      id: 'm',
      initial: 'a',
      states: {
        a: { on: { ping: { actions: 'say' } } },
        b: { initial: 'x', on: { poke: { actions: 'say' } }, states: { x: {} } },
      },
    });

    const text = lines(machine);

    expect(text).toContain('a : ping / say');
    expect(text.slice(text.indexOf('note right of b'))).toEqual(expect.arrayContaining(['in b:', 'poke / say', 'end note']));
  });

  it('lists a state’s tags, entry actions, invoked actors and exit actions in it — but not the timers of `after`', () => {
    const machine = setup({
      actions: { greet: () => {}, log: () => {}, bye: () => {} },
      actors: { check: fromPromise(async () => true) },
    }).createMachine({
      id: 'm',
      initial: 'a',
      states: {
        a: {
          tags: ['input', 'secret'],
          entry: ['greet', 'log'],
          exit: 'bye',
          invoke: { id: 'checking', src: 'check' },
          after: { 1000: 'b' },
          on: { ping: { actions: 'log' } },
        },
        b: { initial: 'x', entry: 'greet', states: { x: {} } },
      },
    });

    const text = lines(machine);

    // In UML's order, before the internal transitions; xstate's raise/cancel of the timer is no line.
    expect(text.filter((line) => line.startsWith('a : '))).toEqual([
      'a : tags: input, secret',
      'a : entry / greet, log',
      'a : do / check',
      'a : exit / bye',
      'a : ping / log',
    ]);
    expect(text).toContain('a --> b : after 1s');
    expect(text.slice(text.indexOf('note right of b'))).toEqual(expect.arrayContaining(['in b:', 'entry / greet', 'end note']));
  });

  it('lists, per state path, what the page shows for a click: its lines, its arrows, then the machine’s own handlers', () => {
    const machine = setup({ actions: { say: () => {}, note: () => {} } }).createMachine({
      id: 'm',
      initial: 'a',
      on: { ping: { actions: 'note' } },
      states: {
        a: { entry: 'say', on: { go: 'b', poke: { actions: 'say' } } },
        b: { initial: 'x', states: { x: { on: { back: '#m.a', done: '#m.a' } } } },
      },
    });

    const { transitions } = toStateDiagram(machine);

    expect(transitions).toEqual({
      a: ['entry / say', 'poke / say', 'go → b', 'ping / note (in every state)'],
      b: ['ping / note (in every state)'],
      'b.x': ['back → a', 'done → a', 'ping / note (in every state)'],
    });
  });

  it('draws the machine’s own handlers from every top-level state that does not handle the event itself', () => {
    const machine = createMachine({
      id: 'm',
      initial: 'a',
      on: { quit: '.done' },
      states: { a: {}, b: { on: { quit: 'a' } }, done: { type: 'final' } },
    });

    const text = lines(machine);

    expect(text).toContain('a --> done : quit');
    expect(text).toContain('b --> a : quit');
    expect(text).not.toContain('b --> done : quit');
    expect(text).toContain('done --> [*]');
  });

  it('puts the labels of parallel arrows on one arrow, a line each', () => {
    const machine = createMachine({ id: 'm', initial: 'a', states: { a: { on: { x: 'b', y: 'b' } }, b: {} } });

    expect(lines(machine)).toContain('a --> b : x<br/>y');
  });

  it('formats delays for people', () => {
    expect([delayLabel(250), delayLabel(1500), delayLabel(60_000), delayLabel('quiet')]).toEqual(['250ms', '1.5s', '60s', 'quiet']);
  });
});
