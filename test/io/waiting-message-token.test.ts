/**
 * The token of a waiting private message: what seals, what opens, and why anything else is not one.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyringFromKey } from '../../src/io/crypto.js';
import { sealWaiting, unsealWaiting } from '../../src/io/waiting-message-token.js';

const keyring = keyringFromKey(randomBytes(32));
const toKey = keyring.loginKey('bob');
const message = { from: 'alice', at: '2026-12-07T10:00:00.000Z', text: 'hi, "bob"' };

describe('waiting message tokens', () => {
  it('opens what it sealed, for the recipient it was sealed for only', () => {
    const token = sealWaiting(keyring, toKey, message);

    expect(unsealWaiting(keyring, token, toKey)).toEqual(message);
    expect(unsealWaiting(keyring, token, keyring.loginKey('carol'))).toBe('the message was left for another user than its to_key');
    expect(unsealWaiting(keyringFromKey(randomBytes(32)), token, toKey)).toBe('the message does not decrypt with this key');
  });

  it.each([
    ['not JSON', 'hello', 'the message is not the JSON object it should be'],
    ['JSON null', 'null', 'the message is not the JSON object it should be'],
    ['a JSON number', '42', 'the message is not the JSON object it should be'],
    ['no sender', JSON.stringify({ to: toKey, at: message.at, text: 'x' }), 'the message has no sender'],
    ['an empty sender', JSON.stringify({ to: toKey, from: '', at: message.at, text: 'x' }), 'the message has no sender'],
    ['a sender that is no string', JSON.stringify({ to: toKey, from: 7, at: message.at, text: 'x' }), 'the message has no sender'],
    ['a time that is no ISO date-time', JSON.stringify({ to: toKey, from: 'alice', at: 'yesterday', text: 'x' }), 'the message time is not an ISO 8601 date-time'],
    ['no time', JSON.stringify({ to: toKey, from: 'alice', text: 'x' }), 'the message time is not an ISO 8601 date-time'],
    ['no text', JSON.stringify({ to: toKey, from: 'alice', at: message.at }), 'the message has no text'],
    ['a text that is no string', JSON.stringify({ to: toKey, from: 'alice', at: message.at, text: 1 }), 'the message has no text'],
  ])('refuses a token holding %s, and says why', (_, plain, reason) => {
    expect(unsealWaiting(keyring, keyring.encrypt(plain), toKey)).toBe(reason);
  });

  it('keeps an empty text (it is the sender who decided)', () => {
    expect(unsealWaiting(keyring, sealWaiting(keyring, toKey, { ...message, text: '' }), toKey)).toEqual({ ...message, text: '' });
  });
});
