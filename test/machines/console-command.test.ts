import { describe, expect, it } from 'vitest';
import { CONSOLE_HELP, type ConsoleEvent, parseConsoleLine } from '../../src/machines/console-command.js';

describe('parseConsoleLine', () => {
  it.each<[string, ConsoleEvent]>([
    ['shutdown', { type: 'console.shutdown' }],
    ['SHUTDOWN', { type: 'console.shutdown' }],
    ['stop listen', { type: 'console.stopListen' }],
    ['  STOP   Listen ', { type: 'console.stopListen' }],
    ['start listen', { type: 'console.startListen' }],
    ['start\tlisten', { type: 'console.startListen' }],
    ['stop log', { type: 'console.stopLog' }],
    ['Start Log', { type: 'console.startLog' }],
    ['clear log', { type: 'console.clearLog' }],
    ['clear file', { type: 'console.clearFile' }],
    ['help', { type: 'console.help' }],
    ['?', { type: 'console.help' }],
    ['status', { type: 'console.status' }],
    ['who', { type: 'console.who' }],
    ['Kick Bob', { type: 'console.kick', login: 'Bob' }],
    ['  kick   alice  ', { type: 'console.kick', login: 'alice' }],
    ['say hello', { type: 'console.say', room: undefined, text: 'hello' }],
    ['say  hello   world', { type: 'console.say', room: undefined, text: 'hello   world' }],
    ['SAY\tback in five ', { type: 'console.say', room: undefined, text: 'back in five' }],
    ['say who', { type: 'console.say', room: undefined, text: 'who' }],
    ['say #Dev  deploy at  five', { type: 'console.say', room: '#dev', text: 'deploy at  five' }],
    ['say #dev? no', { type: 'console.say', room: undefined, text: '#dev? no' }],
    ['rooms', { type: 'console.rooms' }],
    ['close #Dev', { type: 'console.close', room: '#dev' }],
  ])('parses %j', (line, expected) => {
    expect(parseConsoleLine(line)).toEqual(expected);
  });

  it.each<[string, string]>([
    ['frobnicate', 'frobnicate'],
    ['  stop   everything ', 'stop   everything'],
    ['stop', 'stop'],
    ['shutdown now', 'shutdown now'],
  ])('calls %j an unknown command, quoting it trimmed', (line, input) => {
    expect(parseConsoleLine(line)).toEqual({ type: 'console.unknown', input });
  });

  it.each<[string, string]>([
    ['kick', 'Usage: kick <login>'],
    ['KICK bob carol', 'Usage: kick <login>'],
    ['say', 'Usage: say <text> | say #room <text>'],
    ['say #dev', 'Usage: say <text> | say #room <text>'],
    ['close', 'Usage: close #room'],
    ['close dev', 'Usage: close #room'],
    ['close #dev #ops', 'Usage: close #room'],
  ])('answers %j, a known command with the wrong arguments, with its usage', (line, usage) => {
    expect(parseConsoleLine(line)).toEqual({ type: 'console.usage', usage, chatOnly: true });
  });

  it.each([[''], ['   '], ['\t \t']])('has nothing to do for the blank line %j', (line) => {
    expect(parseConsoleLine(line)).toBeUndefined();
  });

  it('documents in its help every command it understands', () => {
    const parsed = CONSOLE_HELP.map((entry) => parseConsoleLine(entry.usage.replace('<login>', 'bob').replace('<text>', 'hi').replace('#room', '#dev')));

    expect(parsed.filter((event) => event === undefined || event.type === 'console.unknown')).toEqual([]);
  });
});
