import { describe, expect, it } from 'vitest';
import { echoMachine, echoText } from '../../src/machines/echo.js';
import { type AnyEventOf, drive, step, summary } from './helpers.js';

type Event = AnyEventOf<typeof echoMachine>;

const line = (text: string): Event => ({ type: 'client.line', text });

function echoing() {
  const [snapshot] = drive(echoMachine, undefined, []);
  return snapshot;
}

describe('echo machine', () => {
  it('greets the client and waits for lines', () => {
    const [snapshot, actions] = drive(echoMachine, undefined, []);

    expect(snapshot.value).toBe('echoing');
    expect(snapshot.hasTag('input')).toBe(true);
    expect(summary(actions)).toEqual([{ type: 'send', params: { lines: [echoText.greeting] } }]);
  });

  it.each([['hello'], [''], ['  spaced  out  '], ['/help'], ['ünïcödé 👋'], ['/quit please']])(
    'sends %j straight back',
    (text) => {
      const [after, actions] = step(echoMachine, echoing(), line(text));

      expect(after.value).toBe('echoing');
      expect(summary(actions)).toEqual([{ type: 'send', params: { lines: [text] } }]);
    },
  );

  it.each([['/quit'], ['/QUIT'], ['  /quit  ']])('says Bye and closes on %j', (text) => {
    const [after, actions] = step(echoMachine, echoing(), line(text));

    expect(after.value).toBe('closed');
    expect(after.status).toBe('done');
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: [echoText.bye] } },
      { type: 'closeConnection' },
    ]);
  });

  it('says a line was too long, with its size, and goes on echoing', () => {
    const [after, actions] = step(echoMachine, echoing(), { type: 'client.lineTooLong', bytes: 70_000 });

    expect(after.value).toBe('echoing');
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: ['Line too long (70000 bytes); it was ignored.'] } },
    ]);
  });

  it('closes quietly when the client hangs up', () => {
    const [after, actions] = step(echoMachine, echoing(), { type: 'client.closed' });

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([{ type: 'closeConnection' }]);
  });

  it('says the server is shutting down, then closes', () => {
    const [after, actions] = step(echoMachine, echoing(), { type: 'server.shutdown' });

    expect(after.value).toBe('closed');
    expect(summary(actions)).toEqual([
      { type: 'send', params: { lines: [echoText.shuttingDown] } },
      { type: 'closeConnection' },
    ]);
  });
});
