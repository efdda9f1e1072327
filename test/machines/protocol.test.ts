import { describe, expect, it } from 'vitest';
import {
  actionMessageText,
  type ChatMessage,
  clockTime,
  formatChatLine,
  formatHistoryLine,
  formatPrivateLine,
  loginKey,
  LOBBY,
  loginNameProblem,
  roomKey,
  roomNameProblem,
  roomNotice,
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

describe('room names', () => {
  it.each([['#a'], ['#lobby'], [`#${'x'.repeat(32)}`], ['#Dev_ops-2']])('accepts %j', (name) => {
    expect(roomNameProblem(name)).toBeUndefined();
  });

  it.each([[''], ['#'], ['dev'], [`#${'x'.repeat(33)}`], ['#a b'], ['#dév'], ['##dev'], ['#dev\u001b']])('refuses %j with a reason', (name) => {
    expect(roomNameProblem(name)).toMatch(/room/i);
  });

  it('makes names that differ only in case the same room', () => {
    expect(roomKey('#Dev')).toBe(roomKey('#dEV'));
    expect(roomKey('#Dev')).toBe('#dev');
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

describe('formatting chat lines', () => {
  const message: ChatMessage = { at: '2024-05-01T09:08:07.123Z', room: LOBBY, login: 'alice', text: 'hi\tthere' };
  const inDev: ChatMessage = { ...message, room: '#dev' };

  it('shows the clock time (UTC) of an ISO timestamp', () => {
    expect(clockTime(message.at)).toBe('09:08:07');
  });

  it('shows a live chat line with the time and the sender', () => {
    expect(formatChatLine(message)).toBe('[09:08:07] alice: hi\tthere');
  });

  it('shows a replayed line with the full date', () => {
    expect(formatHistoryLine(message)).toBe('[2024-05-01 09:08:07] alice: hi\tthere');
  });

  it('names the room of a line from any room but #lobby, which reads as it always did', () => {
    expect(formatChatLine(inDev)).toBe('[09:08:07] #dev <alice> hi\tthere');
    expect(formatHistoryLine(inDev)).toBe('[2024-05-01 09:08:07] #dev <alice> hi\tthere');
  });

  it('shows an action line as "* login action", with the room outside #lobby', () => {
    const waves = { ...message, text: actionMessageText('waves') };

    expect(formatChatLine(waves)).toBe('[09:08:07] * alice waves');
    expect(formatChatLine({ ...waves, room: '#dev' })).toBe('[09:08:07] #dev * alice waves');
  });

  it('puts the room before a notice of any room but #lobby', () => {
    expect(roomNotice(LOBBY, 'alice joined the chat')).toBe('* alice joined the chat');
    expect(roomNotice('#dev', 'alice joined #dev')).toBe('#dev * alice joined #dev');
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
