import { describe, expect, it } from 'vitest';
import {
  actionMessageText,
  type ChatMessage,
  formatChatLine,
  formatHistoryLine,
  formatPrivateLine,
  loginKey,
  LOBBY,
  loginNameProblem,
  normalizeLogin,
  roomKey,
  roomNameProblem,
  roomNotice,
  sanitizeChatText,
  text,
  timeStamp,
} from '../../src/machines/protocol.js';

const EMPTY = 'A login cannot be empty.';
const TOO_LONG = 'A login is at most 32 characters.';
const BAD = 'A login may contain only letters, digits, "_", "-" and "." (no spaces, symbols, emoji or invisible characters).';
/** The character a case is about, for the table's titles: the reason itself names none. */
const BAD_CHARS = (_codePoint: string) => BAD;
const MIXED = (a: string, b: string) => `A login may not mix scripts (${a} and ${b}).`;

describe('loginNameProblem', () => {
  it.each([
    ['a'], ['Z'], ['7'], ['A'.repeat(32)], ['bob_smith'], ['x-y.z'], ['...'], ['__init__'],
    ['élodie'], ['josé'], ['名前'], ['日本語'], ['ひらがなと漢字'], ['Ελένη'], ['Олег'], ['한국어'], ['שרה'], ['محمد'],
    ['हिन्दी'], ['Tiếng_Việt'], ['Олег_2'], ['é'.repeat(32)],
  ])(
    'accepts %j',
    (name) => {
      expect(loginNameProblem(name)).toBeUndefined();
    },
  );

  it.each([
    ['', EMPTY],
    ['A'.repeat(33), TOO_LONG],
    ['é'.repeat(33), TOO_LONG],
    ['e\u0301'.repeat(33), TOO_LONG],
    ['bob smith', BAD_CHARS('U+0020')],
    [' bob', BAD_CHARS('U+0020')],
    ['bob!', BAD_CHARS('U+0021')],
    ['a/b', BAD_CHARS('U+002F')],
    ['tab\there', BAD_CHARS('U+0009')],
    ['esc\u001b', BAD_CHARS('U+001B')],
    ['bob\n', BAD_CHARS('U+000A')],
    ['nul\u0000', BAD_CHARS('U+0000')],
    ['c1\u009b', BAD_CHARS('U+009B')],
    ['bob\u200e', BAD_CHARS('U+200E')],
    ['bob\u200f', BAD_CHARS('U+200F')],
    ['a\u202eb', BAD_CHARS('U+202E')],
    ['a\u2066b', BAD_CHARS('U+2066')],
    ['zero\u200bwidth', BAD_CHARS('U+200B')],
    ['join\u200dme', BAD_CHARS('U+200D')],
    ['\u3164', BAD_CHARS('U+3164')],
    ['bob\u{1F600}', BAD_CHARS('U+1F600')],
    ['\u2764\ufe0f', BAD_CHARS('U+2764')],
    ['a+b', BAD_CHARS('U+002B')],
    ['€uro', BAD_CHARS('U+20AC')],
    ['\u0301bob', 'A combining mark (U+0301) must follow a letter.'],
    ['7\u0301', 'A combining mark (U+0301) must follow a letter.'],
    ['ｂｏｂ', 'A login may not use a styled or compatibility form (U+FF42): type the plain letter or digit.'],
    ['\u{1D41B}ob', 'A login may not use a styled or compatibility form (U+1D41B): type the plain letter or digit.'],
    // The styled character is named where it is, not the first character of the login.
    ['bo\uFF42', 'A login may not use a styled or compatibility form (U+FF42): type the plain letter or digit.'],
    ['p\u0430ypal', MIXED('Latin', 'Cyrillic')],
    ['\u0440aypal', MIXED('Cyrillic', 'Latin')],
    ['Ελένa', MIXED('Greek', 'Latin')],
    ['abc\u0661', MIXED('Latin', 'Arabic')],
  ])('refuses %j: %s', (name, reason) => {
    expect(loginNameProblem(name)).toBe(reason);
  });

  it('counts code points after NFC: 32 letters with their accents typed apart (NFD) are 32', () => {
    const nfd = 'e\u0301'.repeat(32);

    expect(nfd.length).toBe(64);
    expect(loginNameProblem(nfd)).toBeUndefined();
  });

  it('counts a letter outside the BMP as one character', () => {
    expect(loginNameProblem('\u{20000}'.repeat(32))).toBeUndefined();
    expect(loginNameProblem('\u{20000}'.repeat(33))).toBe(TOO_LONG);
  });

  it('keeps a combining mark after a letter, or after another mark on it', () => {
    expect(loginNameProblem('a\u0301\u0323')).toBeUndefined();
  });
});

describe('normalizeLogin and loginKey (Unicode)', () => {
  it('stores a login typed in NFD as NFC', () => {
    expect(normalizeLogin('E\u0301lodie')).toBe('\u00c9lodie');
  });

  it.each([
    ['NFC and NFD', '\u00e9lodie', 'e\u0301lodie'],
    ['lower and upper case', 'élodie', 'ÉLODIE'],
    ['upper case NFD and lower case NFC', 'E\u0301LODIE', 'élodie'],
    ['Greek, with and without a final sigma', 'ΟΔΟΣ', 'οδοσ'],
    ['Cyrillic cases', 'Олег', 'олег'],
    ['ß and SS (full case folding)', 'straße', 'STRASSE'],
  ])('gives the same key to %s', (_, a, b) => {
    expect(loginKey(a)).toBe(loginKey(b));
  });

  it('keys every ASCII login as its toLowerCase(), as before Unicode logins', () => {
    expect(loginKey('Alice_Smith-2.0')).toBe('alice_smith-2.0');
  });

  it('keeps different letters apart', () => {
    expect(loginKey('élodie')).not.toBe(loginKey('elodie'));
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

  it('stamps a line with the date and time (UTC) of an ISO timestamp, to the second', () => {
    expect(timeStamp(message.at)).toBe('[2024-05-01 09:08:07]');
    expect(timeStamp('2024-12-31T23:59:59.999Z')).toBe('[2024-12-31 23:59:59]');
  });

  it('shows a live chat line with the time and the sender', () => {
    expect(formatChatLine(message)).toBe('[2024-05-01 09:08:07] alice: hi\tthere');
  });

  it('shows a replayed line as it was shown live: one stamp for both', () => {
    expect(formatHistoryLine(message)).toBe(formatChatLine(message));
  });

  it('names the room of a line from any room but #lobby, which reads as it always did', () => {
    expect(formatChatLine(inDev)).toBe('[2024-05-01 09:08:07] #dev <alice> hi\tthere');
    expect(formatHistoryLine(inDev)).toBe('[2024-05-01 09:08:07] #dev <alice> hi\tthere');
  });

  it('shows an action line as "* login action", with the room outside #lobby', () => {
    const waves = { ...message, text: actionMessageText('waves') };

    expect(formatChatLine(waves)).toBe('[2024-05-01 09:08:07] * alice waves');
    expect(formatChatLine({ ...waves, room: '#dev' })).toBe('[2024-05-01 09:08:07] #dev * alice waves');
  });

  it('puts the room before a notice of any room but #lobby', () => {
    expect(roomNotice(LOBBY, 'alice joined the chat')).toBe('* alice joined the chat');
    expect(roomNotice('#dev', 'alice joined #dev')).toBe('#dev * alice joined #dev');
  });

  it('marks a private line as private', () => {
    expect(formatPrivateLine(message.at, 'bob', 'psst')).toBe('[2024-05-01 09:08:07] (private) bob: psst');
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
