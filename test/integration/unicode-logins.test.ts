/**
 * Unicode logins over real TCP (issue 15): a login in any script is registered in NFC, signed in
 * to typed in another case or normalisation form, and a login that looks like a registered one
 * (UTS #39 confusables) is refused at registration with the reason and the prompt again.
 */
import { describe, expect, it } from 'vitest';
import { loginNameProblem, text } from '../../src/machines/protocol.js';
import { register, signIn, TestClient, useTestServers } from './harness.js';

const start = useTestServers();
const PASSWORD = 'élodie-secret';

describe('Unicode logins over TCP', () => {
  it.each([
    ['in upper case', 'ÉLODIE'],
    ['in NFD', 'e\u0301lodie'],
    ['in upper case NFD', 'E\u0301LODIE'],
  ])('signs "élodie" in when the login is typed %s, under the name as registered', async (_, typed) => {
    const t = await start();
    await register(t.port, 'élodie', PASSWORD);

    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);
    client.send(typed);
    await client.expect(/^Password:$/);
    client.send(PASSWORD);

    expect(await client.expect(/^Welcome back/)).toBe(text.welcomeBack('élodie'));
  });

  it('registers a login typed in NFD under its NFC spelling', async () => {
    const t = await start();

    const client = await signIn(t.port, 'E\u0301lodie', PASSWORD);

    expect(client.lines).toContain(text.welcomeNew('\u00c9lodie'));
  });

  it('refuses a look-alike of a registered login with the reason, asks again, and takes another', async () => {
    const t = await start();
    await register(t.port, 'paypal', 'paypal-secret');
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);

    client.send('paypa1');
    await client.expect(/choose a password/i);
    client.send('mallory-secret');
    await client.expect(/repeat/i);
    client.send('mallory-secret');

    expect(await client.expect(/looks too much like/)).toBe(text.loginLooksTaken('paypa1'));
    await client.expect(/^Enter your login:/);
    client.send('mallory');
    await client.expect(/choose a password/i);
  });

  it('refuses a login mixing Latin and Cyrillic before asking for a password', async () => {
    const t = await start();
    const client = await TestClient.connect(t.port);
    await client.expect(/^Enter your login:/);

    client.send('p\u0430ypal');

    expect(await client.expect(/^A login /)).toBe(loginNameProblem('p\u0430ypal'));
    expect(loginNameProblem('p\u0430ypal')).toBe('A login may not mix scripts (Latin and Cyrillic).');
    await client.expect(/^Enter your login:/);
  });

  it('registers single-script logins in other scripts side by side', async () => {
    const t = await start();

    for (const login of ['日本語', 'Ελένη', 'Олег']) {
      const client = await signIn(t.port, login, 'some-secret');
      expect(client.lines).toContain(text.welcomeNew(login));
    }
  });
});
