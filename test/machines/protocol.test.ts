import { describe, expect, it } from 'vitest';
import {
  type ChatInput,
  type ChatMessage,
  clockTime,
  formatChatLine,
  formatHistoryLine,
  formatPrivateLine,
  loginKey,
  loginNameProblem,
  parseChatInput,
  sanitizeChatText,
  text,
} from '../../src/machines/protocol.js';

const EMPTY = 'A login cannot be empty.';
const TOO_LONG = 'A login is at most 32 characters.';
const BAD_CHARS = 'A login may contain only letters, digits, "_", "-" and ".".';

describe('loginNameProblem', () => {
  it.each([['a'], ['Z'], ['7'], ['A'.repeat(32)], ['bob_smith'], ['x-y.z'], ['...'], ['__init__']])(
    'accepts %j',
    (name) => {
      expect(loginNameProblem(name)).toBeUndefined();
    },
  );

  it.each([
    ['', EMPTY],
    ['A'.repeat(33), TOO_LONG],
    ['é'.repeat(33), TOO_LONG],
    ['bob smith', BAD_CHARS],
    [' bob', BAD_CHARS],
    ['josé', BAD_CHARS],
    ['名前', BAD_CHARS],
    ['bob!', BAD_CHARS],
    ['a/b', BAD_CHARS],
    ['tab\there', BAD_CHARS],
    ['esc\u001b', BAD_CHARS],
    ['bob\n', BAD_CHARS],
  ])('refuses %j: %s', (name, reason) => {
    expect(loginNameProblem(name)).toBe(reason);
  });
});

describe('loginKey', () => {
  it('makes logins that differ only in case the same key', () => {
    expect(loginKey('Alice')).toBe(loginKey('aLICE'));
    expect(loginKey('alice')).not.toBe(loginKey('alice2'));
  });
});

describe('sanitizeChatText', () => {
  it.each([
    ['plain text', 'plain text'],
    ['\u001b[31mred\u001b[0m', '[31mred[0m'],
    ['\u001b]0;pwned\u0007title', ']0;pwnedtitle'],
    ['bell\u0007 and null\u0000', 'bell and null'],
    ['one\ntwo\rthree', 'onetwothree'],
    ['del\u007f and c1\u009b2J', 'del and c12J'],
    ['keeps\ttabs\tinside', 'keeps\ttabs\tinside'],
    ['ünïcödé, 日本語 and 👋🏽', 'ünïcödé, 日本語 and 👋🏽'],
    ['  trimmed  ', 'trimmed'],
    ['\u001b\u001b', ''],
  ])('turns %j into %j', (input, expected) => {
    expect(sanitizeChatText(input)).toBe(expected);
  });

  it('leaves no C0 or C1 control character but tab, whatever it is given', () => {
    const everyControl = Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join('');

    const clean = sanitizeChatText(`x${everyControl}x`);

    expect([...clean].filter((c) => c !== '\t' && (c < ' ' || (c >= '\u007f' && c <= '\u009f')))).toEqual([]);
    expect(clean).toContain('\t');
  });
});

describe('parseChatInput', () => {
  it.each<[string, ChatInput]>([
    ['hello', { kind: 'message', text: 'hello' }],
    ['  hello \u001b[2J ', { kind: 'message', text: 'hello [2J' }],
    ['', { kind: 'empty' }],
    ['   ', { kind: 'empty' }],
    ['\u001b\u0007', { kind: 'empty' }],
    ['/who', { kind: 'who' }],
    ['/Who  ', { kind: 'who' }],
    ['/quit', { kind: 'quit' }],
    ['/exit', { kind: 'quit' }],
    ['/help', { kind: 'help' }],
    ['/?', { kind: 'help' }],
    ['/history', { kind: 'history', limit: 20 }],
    ['/history 5', { kind: 'history', limit: 5 }],
    ['/history   7  ', { kind: 'history', limit: 7 }],
    ['/history 1', { kind: 'history', limit: 1 }],
    ['/history 100', { kind: 'history', limit: 100 }],
    ['/history 0', { kind: 'usage', text: text.historyUsage }],
    ['/history 101', { kind: 'usage', text: text.historyUsage }],
    ['/history -3', { kind: 'usage', text: text.historyUsage }],
    ['/history 2.5', { kind: 'usage', text: text.historyUsage }],
    ['/history abc', { kind: 'usage', text: text.historyUsage }],
    ['/history 5 6', { kind: 'usage', text: text.historyUsage }],
    ['/msg bob hi there', { kind: 'msg', to: 'bob', text: 'hi there' }],
    ['/MSG bob \u001b[5mhi', { kind: 'msg', to: 'bob', text: '[5mhi' }],
    ['/msg bob', { kind: 'usage', text: text.msgUsage }],
    ['/msg bob \u001b', { kind: 'usage', text: text.msgUsage }],
    ['/msg', { kind: 'usage', text: text.msgUsage }],
    ['/nope', { kind: 'unknown', command: '/nope' }],
    ['/NOPE with args', { kind: 'unknown', command: '/NOPE' }],
    ['/', { kind: 'unknown', command: '/' }],
    [`/${'x'.repeat(100)}`, { kind: 'unknown', command: `/${'x'.repeat(39)}` }],
    ['  /who', { kind: 'who' }],
    [' /msg bob psst', { kind: 'msg', to: 'bob', text: 'psst' }],
  ])('reads %j as %j', (line, expected) => {
    expect(parseChatInput(line, 20)).toEqual(expected);
  });

  it('replays the configured default when /history has no count', () => {
    expect(parseChatInput('/history', 7)).toEqual({ kind: 'history', limit: 7 });
  });
});

describe('formatting chat lines', () => {
  const message: ChatMessage = { at: '2024-05-01T09:08:07.123Z', login: 'alice', text: 'hi\tthere' };

  it('shows the clock time (UTC) of an ISO timestamp', () => {
    expect(clockTime(message.at)).toBe('09:08:07');
  });

  it('shows a live chat line with the time and the sender', () => {
    expect(formatChatLine(message)).toBe('[09:08:07] alice: hi\tthere');
  });

  it('shows a replayed line with the full date', () => {
    expect(formatHistoryLine(message)).toBe('[2024-05-01 09:08:07] alice: hi\tthere');
  });

  it('marks a private line as private', () => {
    expect(formatPrivateLine(message.at, 'bob', 'psst')).toBe('[09:08:07] (private) bob: psst');
  });

  it('counts the attempts left as "attempts", then "attempt"', () => {
    expect(text.wrongPassword(2)).toBe('Wrong password. 2 attempts left.');
    expect(text.wrongPassword(1)).toBe('Wrong password. 1 attempt left.');
  });

  it('says "message" for a history of one and "messages" otherwise', () => {
    expect(text.historyHeader(1)).toBe('--- last 1 message ---');
    expect(text.historyHeader(3)).toBe('--- last 3 messages ---');
  });
});
