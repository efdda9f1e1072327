/**
 * What the server leaves on disk is private to its user: the data dir 0700, every file in it
 * 0600 — whatever the umask — and a key file others can read is refused unless allowed.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InsecureKeyFileError } from '../../src/io/errors.js';
import { makeDataDir, register, startTestServer, type TestServer } from './harness.js';

let umask: number;
let base: string;
const running: TestServer[] = [];

beforeEach(async () => {
  // With umask 0 a file created without an explicit mode would be 0666, a dir 0777.
  umask = process.umask(0);
  base = await makeDataDir();
});
afterEach(async () => {
  process.umask(umask);
  await Promise.all(running.splice(0).map((t) => t.stop()));
  await fs.rm(base, { recursive: true, force: true });
});

const modeOf = async (file: string) => (await fs.stat(file)).mode & 0o777;

describe('files on disk', () => {
  it('creates a new data dir 0700 and clients.csv, history.csv, server.log and the key 0600', async () => {
    const dataDir = path.join(base, 'new', 'data');
    const t = await startTestServer({ dataDir });
    running.push(t);
    await register(t.port, 'alice', 'secret1');
    expect(await modeOf(dataDir)).toBe(0o700);
    for (const name of ['clients.csv', 'history.csv', 'server.log', 'statechat.key', 'statechat.pid']) {
      expect([name, await modeOf(path.join(dataDir, name))]).toEqual([name, 0o600]);
    }
  });

  it('tightens an existing data dir that others can enter to 0700, and says so', async () => {
    const dataDir = path.join(base, 'data');
    await fs.mkdir(dataDir, { mode: 0o755 });
    const t = await startTestServer({ dataDir });
    running.push(t);
    expect(await modeOf(dataDir)).toBe(0o700);
    expect(t.output()).toContain(`data dir: tightened ${dataDir} from mode 0755 to 0700`);
  });

  it('refuses to start with a key file others can read, changing nothing, and starts with --allow-insecure-key', async () => {
    const dataDir = path.join(base, 'data');
    await fs.mkdir(dataDir, { mode: 0o700 });
    const keyFile = path.join(dataDir, 'statechat.key');
    await fs.writeFile(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o644 });

    await expect(startTestServer({ dataDir })).rejects.toThrow(InsecureKeyFileError);
    expect(await fs.readdir(dataDir)).toEqual(['statechat.key']); // no lock, log or CSV left behind
    expect(await modeOf(keyFile)).toBe(0o644);

    const t = await startTestServer({ dataDir, allowInsecureKey: true });
    running.push(t);
    expect(t.output()).toMatch(/warning: the key file has mode 0644 \(readable by group or others\); used because of --allow-insecure-key/);
  });
});
