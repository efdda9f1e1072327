import { describe, expect, it } from 'vitest';
import {
  CHAT_COMMANDS,
  type CommandEvent,
  HELP_LINES,
  isChatMessageLine,
  isCommandLine,
  parseCommand,
  usageFor,
} from '../../src/machines/commands.js';

describe('parseCommand: the event each typed command becomes', () => {
  it.each<[string, CommandEvent]>([
    ['/who', { type: 'command.who' }],
    ['/Who  ', { type: 'command.who' }],
    ['/quit', { type: 'command.quit' }],
    ['/exit', { type: 'command.quit' }],
    ['/help', { type: 'command.help' }],
    ['/?', { type: 'command.help' }],
    ['/history', { type: 'command.history', limit: undefined }],
    ['/history 5', { type: 'command.history', limit: 5 }],
    ['/history   7  ', { type: 'command.history', limit: 7 }],
    ['/history 1', { type: 'command.history', limit: 1 }],
    ['/history 100', { type: 'command.history', limit: 100 }],
    ['/history 0', { type: 'command.usage', usage: usageFor('/history') }],
    ['/history 101', { type: 'command.usage', usage: usageFor('/history') }],
    ['/history -3', { type: 'command.usage', usage: usageFor('/history') }],
    ['/history 2.5', { type: 'command.usage', usage: usageFor('/history') }],
    ['/history abc', { type: 'command.usage', usage: usageFor('/history') }],
    ['/history 5 6', { type: 'command.usage', usage: usageFor('/history') }],
    ['/msg bob hi there', { type: 'command.msg', to: 'bob', text: 'hi there' }],
    ['/msg   bob  hi   there', { type: 'command.msg', to: 'bob', text: 'hi   there' }],
    ['/msg\tbob\thi', { type: 'command.msg', to: 'bob', text: 'hi' }],
    ['/MSG bob \u001b[5mhi', { type: 'command.msg', to: 'bob', text: '[5mhi' }],
    ['/msg bob', { type: 'command.usage', usage: usageFor('/msg') }],
    ['/msg bob \u001b', { type: 'command.usage', usage: usageFor('/msg') }],
    ['/msg', { type: 'command.usage', usage: usageFor('/msg') }],
    ['/join #dev', { type: 'command.join', room: '#dev' }],
    ['/JOIN   #Dev-Ops_2 ', { type: 'command.join', room: '#dev-ops_2' }],
    ['/join', { type: 'command.usage', usage: usageFor('/join') }],
    ['/join dev', { type: 'command.usage', usage: usageFor('/join') }],
    ['/join #dev #ops', { type: 'command.usage', usage: usageFor('/join') }],
    ['/join #dév', { type: 'command.usage', usage: usageFor('/join') }],
    [`/join #${'x'.repeat(33)}`, { type: 'command.usage', usage: usageFor('/join') }],
    ['/part', { type: 'command.part', room: undefined }],
    ['/part #Dev', { type: 'command.part', room: '#dev' }],
    ['/part dev', { type: 'command.usage', usage: usageFor('/part') }],
    ['/rooms', { type: 'command.rooms' }],
    ['/rooms extra', { type: 'command.usage', usage: usageFor('/rooms') }],
    ['/names', { type: 'command.names', room: undefined }],
    ['/names #DEV', { type: 'command.names', room: '#dev' }],
    ['/topic', { type: 'command.topic', text: undefined }],
    ['/topic   ', { type: 'command.topic', text: undefined }],
    ['/topic cats \u001b[2J and  dogs', { type: 'command.topic', text: 'cats [2J and  dogs' }],
    ['/me waves', { type: 'command.me', text: 'waves' }],
    ['/me', { type: 'command.usage', usage: usageFor('/me') }],
    ['/me \u0007', { type: 'command.usage', usage: usageFor('/me') }],
    ['/passwd', { type: 'command.passwd' }],
    ['/PASSWD  ', { type: 'command.passwd' }],
    ['/passwd hunter22', { type: 'command.usage', usage: usageFor('/passwd') }],
    ['/deleteaccount', { type: 'command.deleteAccount' }],
    ['/deleteaccount yes', { type: 'command.usage', usage: usageFor('/deleteaccount') }],
    ['/away', { type: 'command.away', text: undefined }],
    ['/away   ', { type: 'command.away', text: undefined }],
    ['/AWAY  at lunch \u001b[5m', { type: 'command.away', text: 'at lunch [5m' }],
    [`/away ${'z'.repeat(150)}`, { type: 'command.away', text: 'z'.repeat(100) }],
    ['/nope', { type: 'command.unknown', command: '/nope' }],
    ['/NOPE with args', { type: 'command.unknown', command: '/NOPE' }],
    ['/', { type: 'command.unknown', command: '/' }],
    [`/${'x'.repeat(100)}`, { type: 'command.unknown', command: `/${'x'.repeat(39)}` }],
    ['  /who', { type: 'command.who' }],
    [' /msg bob psst', { type: 'command.msg', to: 'bob', text: 'psst' }],
  ])('reads %j as %j', (line, expected) => {
    expect(parseCommand(line)).toEqual(expected);
  });
});

describe('the command table', () => {
  it('names every command once (aliases included)', () => {
    const names = CHAT_COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]);

    expect(new Set(names).size).toBe(names.length);
  });

  it('gives each command a usage line that names it', () => {
    for (const command of CHAT_COMMANDS) expect(usageFor(command.name)).toMatch(new RegExp(`^Usage: ${command.name}\\b`));
  });

  it('spells out what the arguments must be where the usage alone does not say', () => {
    expect(usageFor('/history')).toBe('Usage: /history [n] (n from 1 to 100)');
    expect(usageFor('/passwd')).toBe('Usage: /passwd — no arguments: the password is asked for, hidden');
    expect(usageFor('/who')).toBe('Usage: /who');
  });

  it('says what a room name is in the usage of each command that takes one', () => {
    expect(usageFor('/join')).toContain('"#" then 1 to 32 letters, digits, "-" or "_"');
    expect(usageFor('/part')).toContain('"#" then 1 to 32');
  });

  it('says in the usage of /passwd and /deleteaccount that they take no arguments (the password is asked for)', () => {
    expect(usageFor('/passwd')).toMatch(/^Usage: \/passwd — no arguments/);
    expect(usageFor('/deleteaccount')).toMatch(/^Usage: \/deleteaccount — no arguments/);
  });

  it('lists /passwd and /deleteaccount in /help', () => {
    expect(HELP_LINES.some((l) => /^ {2}\/passwd +change your password$/.test(l))).toBe(true);
    expect(HELP_LINES.some((l) => /^ {2}\/deleteaccount +delete your account/.test(l))).toBe(true);
  });

  it('lists every command in /help, its description in one column', () => {
    const rows = HELP_LINES.slice(1, -1);

    expect(rows).toHaveLength(CHAT_COMMANDS.length);
    CHAT_COMMANDS.forEach((command, i) => {
      expect(rows[i]).toMatch(new RegExp(`^  ${command.name.replace('?', '\\?')}\\b`));
      expect(rows[i]!.indexOf(command.help)).toBe(rows[0]!.indexOf(CHAT_COMMANDS[0]!.help));
    });
  });
});

describe('command or chat message', () => {
  it.each([['/who', true], ['  /msg bob hi', true], ['hello', false], ['', false], ['a /who', false]])('%j is a command: %s', (line, expected) => {
    expect(isCommandLine(line)).toBe(expected);
  });

  it.each([['hello', true], ['  hi  ', true], ['/who', false], [' /quit', false], ['   ', false], ['\u001b\u0007', false]])(
    '%j is a chat message: %s',
    (line, expected) => {
      expect(isChatMessageLine(line)).toBe(expected);
    },
  );
});

describe('usageFor', () => {
  it('names a command the table does not have instead of answering undefined', () => {
    expect(() => usageFor('/nope')).toThrow('no command /nope');
  });
});
