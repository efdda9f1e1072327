import { describe, expect, it } from 'vitest';
import {
  colourLine,
  localizeStamp,
  mentionsSelf,
  parseChatLine,
  senderColour,
  SENDER_COLOURS,
  UTC_ZONE,
  wantsColour,
  welcomedLogin,
  type ZoneOffset,
} from '../../src/machines/client-display.js';
import { text } from '../../src/machines/protocol.js';

/** A fixed zone, minutes east of UTC. */
const offset = (minutes: number): ZoneOffset => () => minutes;
const KOLKATA = offset(330);
const NEW_YORK = offset(-300);
const NOW = new Date('2026-12-07T09:00:00Z');

describe('localizeStamp', () => {
  it.each([
    ['a full UTC stamp of today, in UTC+5:30', '[2026-12-07 08:59:00] alice: hi', KOLKATA, '[14:29:00] alice: hi'],
    ['a stamp that is tomorrow in the zone is dated', '[2026-12-07 20:00:00] alice: hi', KOLKATA, '[2026-12-08 01:30:00] alice: hi'],
    ['a stamp that is yesterday in the zone is dated', '[2026-12-07 03:00:00] bob: yo', NEW_YORK, '[2026-12-06 22:00:00] bob: yo'],
    ['history days old keeps its date, in the zone', '[2024-05-01 12:00:00] old: x', KOLKATA, '[2024-05-01 17:30:00] old: x'],
    ['--utc: today in UTC is the time alone', '[2026-12-07 08:59:00] alice: hi', UTC_ZONE, '[08:59:00] alice: hi'],
    ['--utc: another UTC day keeps its date', '[2026-12-06 23:59:59] alice: hi', UTC_ZONE, '[2026-12-06 23:59:59] alice: hi'],
    ['an older server\'s short stamp is UTC today', '[08:30:00] (private) bob: psst', KOLKATA, '[14:00:00] (private) bob: psst'],
    ['a short stamp far in the future was yesterday', '[23:00:00] bob: late', UTC_ZONE, '[2026-12-06 23:00:00] bob: late'],
    ['a short stamp a minute ahead is today (clock skew)', '[09:01:00] bob: skew', UTC_ZONE, '[09:01:00] bob: skew'],
  ])('%s', (_, line, zone, shown) => {
    expect(localizeStamp(line, NOW, zone)).toBe(shown);
  });

  it('judges "today" in the zone, not in UTC', () => {
    // 23:30 UTC on the 6th is already the 7th in Kolkata (05:00): today there.
    const lateNow = new Date('2026-12-07T00:10:00Z');
    expect(localizeStamp('[2026-12-06 23:30:00] a: b', lateNow, KOLKATA)).toBe('[05:00:00] a: b');
    expect(localizeStamp('[2026-12-06 23:30:00] a: b', lateNow, UTC_ZONE)).toBe('[2026-12-06 23:30:00] a: b');
  });

  // The edges of a valid stamp: each bound exactly, on both sides.
  it.each([
    ['January', '[2026-01-15 10:00:00] a: b', '[2026-01-15 10:00:00] a: b'],
    ['the 31st', '[2026-10-31 10:00:00] a: b', '[2026-10-31 10:00:00] a: b'],
    ['second 59', '[2026-12-07 08:00:59] a: b', '[08:00:59] a: b'],
    ['a short stamp at second 59', '[08:00:59] a: b', '[08:00:59] a: b'],
    ['a short stamp exactly the slack (5 min) ahead is still today', '[09:05:00] a: b', '[09:05:00] a: b'],
    ['a short stamp just past the slack ahead was yesterday', '[09:05:01] a: b', '[2026-12-06 09:05:01] a: b'],
  ])('a valid stamp at its edge: %s', (_, line, shown) => {
    expect(localizeStamp(line, NOW, UTC_ZONE)).toBe(shown);
  });

  it.each(['[2026-00-07 08:00:00] x', '[2026-12-07 08:60:00] x', '[2026-12-07 08:00:60] x', '[12:60:00] x', '[12:00:60] x', '[24:00:00] x'])(
    'leaves a stamp with a field out of range as it is: %s',
    (line) => {
      expect(localizeStamp(line, NOW, KOLKATA)).toBe(line);
    },
  );

  it('passes anything else through untouched', () => {
    for (const line of ['Enter your login:', '* alice joined the chat', '[2026-13-07 08:00:00] x', '[25:00:00] x', '[12:00] x', '[2026-02-30 10:00:00] x', ' [12:00:00] x', '[12:00:00]x']) {
      expect(localizeStamp(line, NOW, KOLKATA)).toBe(line);
    }
  });

});

describe('parseChatLine', () => {
  it.each([
    ['[12:00:00] alice: hi', { before: '[12:00:00] ', sender: 'alice', separator: ': ', text: 'hi' }],
    ['[2026-12-07 12:00:00] #dev <bob> hi: there', { before: '[2026-12-07 12:00:00] #dev <', sender: 'bob', separator: '> ', text: 'hi: there' }],
    ['[12:00:00] * alice waves', { before: '[12:00:00] * ', sender: 'alice', separator: ' ', text: 'waves' }],
    ['[12:00:00] #dev * alice waves', { before: '[12:00:00] #dev * ', sender: 'alice', separator: ' ', text: 'waves' }],
    ['[12:00:00] (private) élodie: psst', { before: '[12:00:00] (private) ', sender: 'élodie', separator: ': ', text: 'psst' }],
  ])('%s', (line, parts) => {
    expect(parseChatLine(line)).toEqual(parts);
  });

  it('is undefined for notices and other lines', () => {
    for (const line of ['* alice joined the chat', '#dev * bob left #dev', 'Enter your login:', 'Online (2): a, b', '[12:00:00] not a chat line']) {
      expect(parseChatLine(line)).toBeUndefined();
    }
  });
});

describe('colours', () => {
  const ESC = '\x1b';

  it('colours a sender with its own colour, the same for every spelling and every line', () => {
    const colour = senderColour('bob');
    expect(SENDER_COLOURS).toContain(colour);
    expect(senderColour('BOB')).toBe(colour);
    expect(colourLine('[12:00:00] bob: hi', null)).toBe(`[12:00:00] ${ESC}[${colour}mbob${ESC}[0m: hi`);
    expect(colourLine('[12:00:00] #dev <bob> hi', null)).toBe(`[12:00:00] #dev <${ESC}[${colour}mbob${ESC}[0m> hi`);
  });

  it('spreads logins over the palette', () => {
    const used = new Set(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar'].map(senderColour));
    expect(used.size).toBeGreaterThanOrEqual(4);
  });

  it('shows your own login in bold, and does not highlight your own words', () => {
    expect(colourLine('[12:00:00] * alice waves at alice', 'Alice')).toBe(`[12:00:00] * ${ESC}[1malice${ESC}[0m waves at alice`);
  });

  it('highlights whole-word, case-insensitive mentions of you in others\' lines', () => {
    const bob = `${ESC}[${senderColour('bob')}mbob${ESC}[0m`;
    const hl = (m: string) => `${ESC}[1;7;33m${m}${ESC}[0m`;
    expect(colourLine('[12:00:00] bob: @Alice, alice_2 and malice: alice.', 'alice')).toBe(
      `[12:00:00] ${bob}: @${hl('Alice')}, alice_2 and malice: ${hl('alice')}.`,
    );
  });

  it('dims the server\'s notices and the markers around a replay; leaves an empty line alone', () => {
    expect(colourLine('* bob joined the chat', 'alice')).toBe(`${ESC}[2m* bob joined the chat${ESC}[0m`);
    expect(colourLine('#dev * bob left #dev', null)).toBe(`${ESC}[2m#dev * bob left #dev${ESC}[0m`);
    expect(colourLine('--- last 2 messages ---', null)).toBe(`${ESC}[2m--- last 2 messages ---${ESC}[0m`);
    expect(colourLine('', null)).toBe('');
  });

  it('leaves prompts, answers and errors as they are: they are what the user must read', () => {
    for (const line of ['Enter your login:', 'Password:', 'Wrong password. 2 attempts left.', '(private to bob) psst', 'Online (2): alice, bob']) {
      expect(colourLine(line, 'alice')).toBe(line);
    }
  });

  it('mentionsSelf: only someone else\'s chat line naming you', () => {
    expect(mentionsSelf('[12:00:00] bob: hi ALICE', 'alice')).toBe(true);
    expect(mentionsSelf('[12:00:00] (private) bob: alice?', 'alice')).toBe(true);
    expect(mentionsSelf('[12:00:00] alice: I am alice', 'alice')).toBe(false);
    expect(mentionsSelf('[12:00:00] bob: malice', 'alice')).toBe(false);
    expect(mentionsSelf('* alice joined the chat', 'alice')).toBe(false);
    expect(mentionsSelf('[12:00:00] bob: hi alice', null)).toBe(false);
  });

  it('wantsColour: a TTY, and NO_COLOR unset or empty', () => {
    expect(wantsColour(true, undefined)).toBe(true);
    expect(wantsColour(true, '')).toBe(true);
    expect(wantsColour(true, '0')).toBe(false);
    expect(wantsColour(false, undefined)).toBe(false);
    expect(wantsColour(undefined, undefined)).toBe(false);
  });
});

describe('welcomedLogin', () => {
  it('reads the login from either welcome, as protocol.ts words it', () => {
    expect(welcomedLogin(text.welcomeBack('alice'))).toBe('alice');
    expect(welcomedLogin(text.welcomeNew('Ünal'))).toBe('Ünal');
    expect(welcomedLogin('Welcome back, alice')).toBeUndefined();
    expect(welcomedLogin(`[12:00:00] bob: ${text.welcomeBack('bob')}`)).toBeUndefined();
  });
});

describe('mentionsSelf with a login holding regex characters', () => {
  it('matches the login literally, not as a pattern', () => {
    expect(mentionsSelf('[2026-12-07 08:00:00] bob: hi a.b', 'a.b')).toBe(true);
    expect(mentionsSelf('[2026-12-07 08:00:00] bob: hi axb', 'a.b')).toBe(false);
  });
});
