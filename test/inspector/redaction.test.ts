/**
 * The redactor on its own: secret-named properties anywhere, typed lines by the receiver's
 * state, errors without their messages, and what users wrote reduced to its size unless shown.
 */
import { describe, expect, it } from 'vitest';
import { mayShowTypedLine, REDACTED, redactEvent, toRedactedJson } from '../../src/inspector/redaction.js';

const snapshotTagged = (...tags: string[]) => ({
  getSnapshot: () => ({ status: 'active', hasTag: (tag: string) => tags.includes(tag) }),
});

describe('toRedactedJson', () => {
  it('replaces every secret-named property, at any depth, and keeps the rest', () => {
    const json = toRedactedJson({
      context: { login: 'alice', pendingPassword: 'hunter22', wrongPasswords: 1 },
      children: { verifyPassword: { input: { login: 'alice', password: 'hunter22' } } },
      event: { type: 'xstate.init', input: { password: 'hunter22', key: 'ab'.repeat(32), hash: 'scrypt$x' } },
      list: [{ passwordHash: 'scrypt$1$2$3$salt$hash', salt: 'salt', envKey: 'k' }],
    });

    expect(json).not.toMatch(/hunter22|scrypt|abab|:"salt"|:"k"/);
    expect(JSON.parse(json)).toEqual({
      context: { login: 'alice', pendingPassword: REDACTED, wrongPasswords: 1 },
      children: { verifyPassword: { input: { login: 'alice', password: REDACTED } } },
      event: { type: 'xstate.init', input: { password: REDACTED, key: REDACTED, hash: REDACTED } },
      list: [{ passwordHash: REDACTED, salt: REDACTED, envKey: REDACTED }],
    });
  });

  it('leaves an absent secret absent (nothing to hide, nothing invented)', () => {
    expect(JSON.parse(toRedactedJson({ pendingPassword: undefined, login: 'bob' }))).toEqual({ login: 'bob' });
  });

  it('reduces an error to its class name and code: its message is free text', () => {
    const err = Object.assign(new Error('bad password hunter22 for alice'), { code: 'STATECHAT_ERR_STORAGE' });

    const json = toRedactedJson({ type: 'xstate.error.actor.registerUser', error: err });

    expect(JSON.parse(json)).toEqual({ type: 'xstate.error.actor.registerUser', error: { name: 'Error', code: 'STATECHAT_ERR_STORAGE' } });
  });

  it('reduces what users wrote to its size, at any depth, unless content is shown', () => {
    const value = {
      event: { type: 'room.post', connectionId: 'c1', texts: ['hi', 'there'] },
      context: { login: 'alice', away: 'at lunch', room: '#dev', topic: { text: 'plans', by: 'bob' } },
      input: { to: 'bob', text: 'psst' },
      recalled: { recent: [{ login: 'bob', text: 'x' }], messages: [], lines: ['a'], line: '[12:00] bob: x', body: 'b' },
      numbers: { line: 12, text: 3 }, // a line number is no content
      password: 'hunter22',
    };

    expect(JSON.parse(toRedactedJson(value))).toEqual({
      event: { type: 'room.post', connectionId: 'c1', texts: `${REDACTED} 2 items` },
      context: { login: 'alice', away: `${REDACTED} 8 chars`, room: '#dev', topic: { text: `${REDACTED} 5 chars`, by: 'bob' } },
      input: { to: 'bob', text: `${REDACTED} 4 chars` },
      recalled: {
        recent: `${REDACTED} 1 item`,
        messages: `${REDACTED} 0 items`,
        lines: `${REDACTED} 1 item`,
        line: `${REDACTED} 14 chars`,
        body: `${REDACTED} 1 char`,
      },
      numbers: { line: 12, text: 3 },
      password: REDACTED,
    });
    const shown = JSON.parse(toRedactedJson(value, { showContent: true }));
    expect(shown).toEqual({ ...value, password: REDACTED }); // secrets stay hidden either way
  });

  it('keeps a typed line already hidden as it is: a password shows no length', () => {
    expect(JSON.parse(toRedactedJson({ type: 'client.line', text: REDACTED }))).toEqual({ type: 'client.line', text: REDACTED });
  });

  it('throws on what JSON cannot hold, so the caller can skip it', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toRedactedJson(cyclic)).toThrow();
  });
});

describe('typed lines', () => {
  it('are shown only to a receiver waiting for input in a state that is not secret', () => {
    expect(mayShowTypedLine(snapshotTagged('input'))).toBe(true);
    expect(mayShowTypedLine(snapshotTagged('input', 'secret'))).toBe(false);
    expect(mayShowTypedLine(snapshotTagged())).toBe(false); // busy: the next state is unknown
    expect(mayShowTypedLine(undefined)).toBe(false);
    expect(mayShowTypedLine({ getSnapshot: () => ({ status: 'done', hasTag: () => true }) })).toBe(false);
  });

  it('lose their text, and only their text, when hidden', () => {
    const line = { type: 'client.line', text: 'hunter22' };

    expect(redactEvent(line, false)).toEqual({ type: 'client.line', text: REDACTED });
    expect(redactEvent(line, true)).toBe(line);
    expect(line.text).toBe('hunter22'); // the machine's own event is not touched
    const other = { type: 'chat.posted', text: 'hello' };
    expect(redactEvent(other, false)).toBe(other);
  });
});
