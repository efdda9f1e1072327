/**
 * Shared checks for the hostile-input suite. Every case ends by asking the same questions:
 * is the server still up, do the bystanders still chat (and how fast), is the memory bounded,
 * and is everything that was stored before the attack still there?
 */
import type { Socket } from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parse } from 'csv-parse/sync';
import { expect } from 'vitest';
import { loadKeyring } from '../../src/io/crypto.js';
import { openCsvHistoryStore } from '../../src/io/history-store-csv.js';
import { openCsvUserStore } from '../../src/io/user-store-csv.js';
import { LOBBY } from '../../src/machines/protocol.js';
import { signIn, TEST_SCRYPT, TestClient, type TestServer } from '../integration/harness.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Heap plus Buffer memory after a full garbage collection: what the process really holds. */
export function liveBytes(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

export const MiB = 1024 * 1024;

/** Two users who chat before, during and after an attack; what they said is the stored data. */
export interface Bystanders {
  alice: TestClient;
  bob: TestClient;
  /** history.csv and clients.csv as they were once the bystanders had chatted. */
  historyBefore: string;
  clientsBefore: string;
}

/** Signs alice and bob in and has them exchange two messages, all stored before the attack. */
export async function bystanders(t: TestServer): Promise<Bystanders> {
  const alice = await signIn(t.port, 'alice', 'secret1');
  const bob = await signIn(t.port, 'bob', 'secret2');
  alice.send('before the attack, from alice');
  await bob.expect('alice: before the attack, from alice');
  bob.send('before the attack, from bob');
  await alice.expect('bob: before the attack, from bob');
  return { alice, bob, historyBefore: await t.readFile('history.csv'), clientsBefore: await t.readFile('clients.csv') };
}

let probeCount = 0;

/** One round trip between two users over the chat (store, then deliver, both ways); each leg within `timeoutMs` (a hang guard). */
export async function roundTrip(from: TestClient, to: TestClient, timeoutMs?: number): Promise<void> {
  const n = ++probeCount;
  from.send(`ping ${n}`);
  await to.expect(new RegExp(`: ping ${n}$`), timeoutMs);
  to.send(`pong ${n}`);
  await from.expect(new RegExp(`: pong ${n}$`), timeoutMs);
}

/**
 * The questions every hostile case ends with: the server is running and accepts new clients,
 * the bystanders still chat (a round trip within `hangGuardMs`: a hang guard, not a benchmark),
 * and the data files still begin with everything stored before the attack — and parse.
 */
export async function expectUnharmed(t: TestServer, b: Bystanders, hangGuardMs = 5000): Promise<void> {
  expect(t.server.supervisor.getSnapshot().matches('running')).toBe(true);
  await roundTrip(b.alice, b.bob, hangGuardMs);
  const newcomer = await TestClient.connect(t.port);
  await newcomer.expect(/^Enter your login:/);
  newcomer.close();
  expect((await t.readFile('history.csv')).startsWith(b.historyBefore)).toBe(true);
  expect((await t.readFile('clients.csv')).startsWith(b.clientsBefore)).toBe(true);
  historyRecords(await t.readFile('history.csv'));
}

/** history.csv as records; throws if it does not parse. */
export function historyRecords(csv: string): Array<{ timestamp: string; room: string; login: string; text: string }> {
  return parse(csv, { columns: true, strict: true } as never);
}

export { eventually } from '../support/waiting.js';

/**
 * Opens both data files with the real stores, as the next start of the server would, and
 * returns what they hold (the messages: those of #lobby, where every test client talks). Throws
 * (CorruptFileError, KeyMismatchError…) if either does not parse.
 */
export async function reopenStores(dataDir: string, envKey?: string): Promise<{ users: number; messages: string[] }> {
  const { keyring } = await loadKeyring({ dataDir, envKey, mayCreate: false });
  const users = await openCsvUserStore({ file: path.join(dataDir, 'clients.csv'), keyring, scrypt: TEST_SCRYPT });
  const history = await openCsvHistoryStore({ file: path.join(dataDir, 'history.csv'), keep: 1_000_000 });
  try {
    const messages = (await history.recent(LOBBY, 1_000_000)).map((m) => `${m.login}: ${m.text}`);
    return { users: users.count(), messages };
  } finally {
    await users.close();
    await history.close();
  }
}

/** Every file in a directory, by name, with its bytes (hex). */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await fs.readdir(dir)).sort()) files[name] = (await fs.readFile(path.join(dir, name))).toString('hex');
  return files;
}

/** The server's end of a test client's connection (matched by port), while it is live. */
export function serverSide(t: TestServer, client: TestClient) {
  for (const connection of t.server.connections.values()) {
    if ((connection.link.socket as Socket).remotePort === client.socket.localPort) return connection;
  }
  return undefined;
}
