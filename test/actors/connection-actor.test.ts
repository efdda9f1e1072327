/**
 * One-for-one supervision: a connection actor whose action throws is stopped, its socket is
 * closed and the failure logged, while other connections carry on.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientLink } from '../../src/actors/client-link.js';
import { startConnectionActor } from '../../src/actors/connection-actor.js';
import { createConnectionsRoot } from '../../src/actors/connection-system.js';
import { LoginThrottle } from '../../src/actors/login-throttle.js';
import { Presence } from '../../src/actors/presence.js';
import { RoomDirectory } from '../../src/actors/room-actor.js';
import type { ServerLog } from '../../src/actors/server-log.js';
import { supervisorWithEffects } from '../../src/actors/supervisor-actor.js';
import { type AnyActorRef, createActor } from 'xstate';
import { DEFAULTS } from '../../src/io/config.js';
import type { ChatMessage, HistoryStore, OfflineMessageStore, UserStore } from '../../src/io/stores.js';
import { TestClient } from '../integration/harness.js';

const users: UserStore = {
  isRegistered: async (login) => login === 'alice' || login === 'bob',
  registeredLogin: async (login) => (login === 'alice' || login === 'bob' ? login : undefined),
  verifyPassword: async (_login, password) => password === 'right',
  register: async () => 'registered',
  // Not used by these tests: the accounts' own tests (test/integration/accounts.test.ts) cover them.
  changePassword: async () => 'wrong',
  deleteUser: async () => false,
  clear: async () => {},
  count: () => 2,
  close: async () => {},
};
const history: HistoryStore = {
  append: async () => {},
  recent: async () => [] as ChatMessage[],
  flush: async () => {},
  close: async () => {},
};

/** Nobody is offline in these tests (the offline messages' own tests: test/integration/offline-messages.test.ts). */
const offline: OfflineMessageStore = {
  leave: async () => 'stored',
  deliver: async () => {},
  forget: async () => {},
  clear: async () => {},
  close: async () => {},
};

let server: net.Server | undefined;
afterEach(() => server?.close());

function startServer(logLine: (line: string) => void) {
  const presence = new Presence();
  const ended: string[] = [];
  const log = { info: logLine, reply: logLine, pseudonym: (login: string) => login } as unknown as ServerLog;
  const config = { ...DEFAULTS, envKey: undefined };
  const rooms: RoomDirectory = new RoomDirectory({ history, topics: undefined, writer: (): AnyActorRef | undefined => supervisor.system.get('historyWriter'), keep: 100, log });
  const supervisor = createActor(
    supervisorWithEffects({
      config,
      log,
      chat: { users, offline, history, presence, rooms },
      listener: () => {
        throw new Error('no listener here');
      },
      connectionCount: () => 0,
      verifyLock: async () => {},
      shutDown: async () => {},
    }),
    { input: { mode: 'chat', roomIdleMs: 60_000, maxRooms: 10 } },
  ).start();
  let nextId = 1;
  // One actor system for every connection, as in the server: a failing child must not take it down.
  const root = createConnectionsRoot().start();
  server = net.createServer((socket) => {
    const link = new ClientLink(`c${nextId++}`, socket, '127.0.0.1', 1 << 20, (l) => l.destroy());
    startConnectionActor(link, {
      config,
      users,
      offline,
      presence,
      rooms,
      supervisor: () => supervisor,
      writer: () => supervisor.system.get('historyWriter'),
      throttle: new LoginThrottle(),
      log,
      root,
      onEnded: (id) => ended.push(id),
    });
  });
  return new Promise<{ port: number; presence: Presence; ended: string[] }>((resolve) =>
    server!.listen(0, '127.0.0.1', () => resolve({ port: (server!.address() as net.AddressInfo).port, presence, ended })),
  );
}

describe('connection actor supervision', () => {
  it('stops a connection whose action throws, closes its socket, and leaves others running', async () => {
    const logged: string[] = [];
    const { port, presence, ended } = await startServer((line) => {
      logged.push(line);
      // alice's successful login makes the `log` action throw inside her actor.
      if (line.startsWith('login.succeeded alice')) throw new Error('boom');
    });
    const bob = await TestClient.connect(port);
    await bob.expect(/login/i);
    bob.send('bob', 'right');
    await bob.expect(/welcome/i);

    const alice = await TestClient.connect(port);
    await alice.expect(/login/i);
    alice.send('alice', 'right');
    await alice.expectClosed();

    expect(ended).toEqual(['c2']);
    expect(logged.some((l) => /^error conn=c2: connection actor failed: .*boom/.test(l))).toBe(true);
    expect(presence.logins()).toEqual(['bob']);
    bob.send('/who');
    expect(await bob.expect(/^Online/)).toBe('Online (1): bob');
    bob.close();
  });
});
