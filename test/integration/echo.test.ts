/**
 * The echo server (config mode 'echo'): every line comes back to the connection that sent it,
 * and only to it; the console works, minus the chat-only commands.
 */
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { echoText } from '../../src/machines/echo.js';
import { TestClient, useTestServers } from './harness.js';

const start = useTestServers();

async function connectEcho(port: number): Promise<TestClient> {
  const client = await TestClient.connect(port);
  expect(await client.expect(/echo/)).toBe(echoText.greeting);
  return client;
}

describe('echo server', () => {
  it('echoes each client its own lines, and only its own', async () => {
    const t = await start({ mode: 'echo' });
    const clients = await Promise.all(['a', 'b', 'c'].map(() => connectEcho(t.port)));

    clients.forEach((client, i) => client.send(`from ${i} one`, `from ${i} two`));
    await Promise.all(clients.map((client, i) => client.expect(`from ${i} two`)));

    clients.forEach((client, i) => {
      expect(client.lines.slice(1)).toEqual([`from ${i} one`, `from ${i} two`]);
    });
  });

  it('says Bye to /quit and closes the connection', async () => {
    const t = await start({ mode: 'echo' });
    const client = await connectEcho(t.port);

    client.send('/quit');

    expect(await client.expect(/bye/i)).toBe(echoText.bye);
    await client.expectClosed();
  });

  it('answers status on the console, without chat figures', async () => {
    const t = await start({ mode: 'echo' });
    await connectEcho(t.port);

    const output = await t.ask('status', /log display/);

    expect(output).toContain(`listener: accepting on 127.0.0.1:${t.port}`);
    expect(output).toContain('connections: 1');
    expect(output).not.toContain('users online');
  });

  it('says who is a chat-only command', async () => {
    const t = await start({ mode: 'echo' });

    expect(await t.ask('who', /chat server/)).toMatch(/belongs to the chat server; this is the echo server/);
  });

  it('creates no user or history file', async () => {
    const t = await start({ mode: 'echo' });
    await connectEcho(t.port);

    // The lock (statechat.pid) is there while it runs, as for the chat server.
    expect((await fs.readdir(t.dataDir)).sort()).toEqual(['server.log', 'statechat.pid']);
  });
});
