/**
 * Every command in a shell block of README.md and docs/*.md is run, so that the docs cannot rot:
 * here, as written, in a copy of the repository (its own `data/`, the node_modules linked), or —
 * for the installs and the suites themselves — by `.ci/run`, which this test reads. A command
 * that a doc shows and that neither runs fails the first test: a new one needs a runner below.
 *
 * The servers run on their documented default ports (9090, the inspector 9091), since that is
 * what the README's client commands connect to. No other test binds them; a developer's own
 * server on them makes this test fail with a line saying so.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, REPO } from '../support/cli-process.js';
import { REDIS_INSTALLED } from '../support/redis-server.js';
import { copyRepository } from '../support/repo-copy.js';
import { text } from '../../src/machines/protocol.js';

const DOCS = ['README.md', ...(await fs.readdir(path.join(REPO, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The commands of a doc's ```sh blocks: continuations joined, comments dropped (but for `# or: …`), `a && b` split. */
async function documentedCommands(): Promise<Map<string, string[]>> {
  const commands = new Map<string, string[]>();
  for (const doc of DOCS) {
    const text = await fs.readFile(path.join(REPO, doc), 'utf8');
    for (const [, block] of text.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
      for (const line of block!.replace(/\\\n\s*/g, '').split('\n')) {
        // A comment "# or: <command>" shows a second way: a command too.
        const alternative = line.match(/#\s*or:\s*(.+)$/)?.[1]?.trim();
        const command = line.replace(/(^|\s)#.*$/, '').trim();
        for (const part of [...command.split('&&'), alternative ?? ''].map((p) => p.trim()).filter(Boolean)) {
          commands.set(part, [...(commands.get(part) ?? []), doc]);
        }
      }
    }
  }
  return commands;
}

/** What `.ci/run` runs (its lines, comments dropped). */
async function ciCommands(): Promise<string[]> {
  const script = await fs.readFile(path.join(REPO, '.ci', 'run'), 'utf8');
  return script.split('\n').map((l) => l.replace(/(^|\s)#.*$/, '').trim()).filter(Boolean);
}

/** Commands `.ci/run` runs for the docs (an install, the suites): `npm ci` is run with flags there. */
const BY_CI: Record<string, RegExp> = {
  'npm ci': /^npm ci\b/,
  'npm test': /^npm test$/,
  'npm run typecheck': /^npm run typecheck$/,
  'npm run test:e2e': /^npm run test:e2e$/,
};

/** Commands this file runs (the tests below), as the docs write them. */
const RUN_HERE = {
  start: 'npm start',
  client: 'npm run client',
  nc: 'nc 127.0.0.1 9090',
  certificate:
    'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout data/tls-key.pem -out data/tls-cert.pem',
  startTls: 'npm start -- --tls-cert data/tls-cert.pem --tls-key data/tls-key.pem',
  clientTls: 'npm run client -- --tls --ca data/tls-cert.pem',
  startInspect: 'npm start -- --inspect',
  diagrams: 'npm run diagrams',
  // docs/cluster.md: three nodes and a Redis on one machine.
  redisDir: 'mkdir -p data-redis',
  redis: 'redis-server --port 6380 --dir data-redis --appendonly yes --appendfsync always',
  clusterKey: 'openssl rand -hex 32 > cluster.key',
  clusterKeyMode: 'chmod 600 cluster.key',
  nodeA: 'STATECHAT_KEY=$(cat cluster.key) npm start -- --cluster redis://127.0.0.1:6380 --node-id a --port 9090 --data-dir data-a',
  nodeB: 'STATECHAT_KEY=$(cat cluster.key) npm start -- --cluster redis://127.0.0.1:6380 --node-id b --port 9092 --data-dir data-b',
  nodeC: 'STATECHAT_KEY=$(cat cluster.key) npm start -- --cluster redis://127.0.0.1:6380 --node-id c --port 9093 --data-dir data-c',
  ncNodeB: 'nc 127.0.0.1 9092',
  migrate: 'npx statechat migrate --from data --to redis://127.0.0.1:6380',
  migratedNode: 'STATECHAT_KEY=$(cat data/statechat.key) npm start -- --cluster redis://127.0.0.1:6380 --node-id a --port 9090 --data-dir data-a',
} as const;
const HERE = new Set<string>(Object.values(RUN_HERE));

let copy: string;
const running = new Set<CliProcess>();

/** `command` run by sh in the copy of the repository, in a process group of its own (npm has children). */
function run(command: string): CliProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.STATECHAT_KEY;
  const child = spawn('sh', ['-c', command], { cwd: copy, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const proc = new CliProcess(child, true);
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  return proc;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Starts a documented server command and waits for its banner. */
async function startServer(command: string): Promise<CliProcess> {
  for (const port of [9090, 9091]) {
    expect(await portIsFree(port), `port ${port} is in use: this test runs the docs' commands on their default ports; stop what holds it`).toBe(true);
  }
  const server = run(command);
  await server.waitForStdout(/server listening on 127\.0\.0\.1:9090/);
  return server;
}

/** Types `shutdown` on the server's console: it must end by itself, with status 0. */
async function shutDown(server: CliProcess): Promise<void> {
  server.type('shutdown');
  expect((await server.exited).code).toBe(0);
}

/** A documented client command reaches the server: the server's login prompt is shown. */
async function expectLoginPrompt(command: string): Promise<void> {
  const client = run(command);
  await client.waitForStdout(new RegExp(text.loginPrompt));
  client.child.stdin!.end();
  await client.kill('SIGTERM');
}

beforeAll(async () => {
  copy = await copyRepository();
});

afterAll(async () => {
  await Promise.all([...running].map((p) => p.kill()));
  await fs.rm(copy, { recursive: true, force: true });
});

describe('the commands the docs show', () => {
  it('are each run: by a test of this file, or by .ci/run', async () => {
    const ci = await ciCommands();
    const documented = await documentedCommands();
    const unrun: string[] = [];
    for (const [command, docs] of documented) {
      if (HERE.has(command)) continue;
      const ciPattern = BY_CI[command];
      if (ciPattern && ci.some((line) => ciPattern.test(line))) continue;
      unrun.push(`${command}  (${docs.join(', ')})`);
    }
    expect(unrun, 'documented commands that nothing runs').toEqual([]);
    // And the runners here are not stale: each is still shown by a doc.
    expect([...HERE].filter((c) => !documented.has(c)), 'commands run here that no doc shows any more').toEqual([]);
  });

  it('npm start serves; npm run client and nc reach it on 127.0.0.1:9090; shutdown ends it', { timeout: 60_000 }, async () => {
    const server = await startServer(RUN_HERE.start);
    await expectLoginPrompt(RUN_HERE.client);
    // nc is Debian's netcat-openbsd, which .ci/run installs.
    await expectLoginPrompt(RUN_HERE.nc);
    await shutDown(server);
  });

  it('the TLS recipe: openssl makes the certificate, the server serves TLS, the client trusts it', { timeout: 60_000 }, async () => {
    const openssl = run(RUN_HERE.certificate);
    expect((await openssl.exited).code, openssl.stderr).toBe(0);
    const server = await startServer(RUN_HERE.startTls);
    await expectLoginPrompt(RUN_HERE.clientTls);
    await shutDown(server);
  });

  it('npm start -- --inspect prints the inspector address, and the page is served there', { timeout: 60_000 }, async () => {
    const server = await startServer(RUN_HERE.startInspect);
    const [, address] = await server.waitForStdout(/inspector on (http:\/\/127\.0\.0\.1:9091\/)/);
    const page = await fetch(address!);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    await shutDown(server);
  });

  // Where redis-server is not installed this is skipped with the warning of test/support/redis-server.ts; .ci/run installs it.
  it.skipIf(!REDIS_INSTALLED)('the cluster recipe: a Redis, one key, three nodes on it, nc reaching the second', { timeout: 90_000 }, async () => {
    for (const port of [6380, 9092, 9093]) expect(await portIsFree(port), `port ${port} is in use: the cluster recipe runs on its documented ports`).toBe(true);
    const done = async (command: string) => {
      const step = run(command);
      expect((await step.exited).code, `${command}: ${step.stderr}`).toBe(0);
    };
    await done(RUN_HERE.redisDir);
    const redis = run(RUN_HERE.redis);
    await redis.waitForStdout(/Ready to accept connections/);
    await done(RUN_HERE.clusterKey);
    await done(RUN_HERE.clusterKeyMode);
    const a = await startServer(RUN_HERE.nodeA);
    const b = run(RUN_HERE.nodeB);
    await b.waitForStdout(/server listening on 127\.0\.0\.1:9092/);
    const c = run(RUN_HERE.nodeC);
    await c.waitForStdout(/server listening on 127\.0\.0\.1:9093/);
    expect(b.stdout).toMatch(/cluster: node b joined the cluster at redis:\/\/127\.0\.0\.1:6380/);
    await expectLoginPrompt(RUN_HERE.ncNodeB);
    for (const node of [a, b, c]) await shutDown(node);
    await redis.kill('SIGTERM');
    // Not the doc's: the next recipe starts from a Redis no chat uses.
    await fs.rm(path.join(copy, 'data-redis'), { recursive: true, force: true });
  });

  it.skipIf(!REDIS_INSTALLED)('the migration recipe: a server\'s data dir copied into a new Redis, and a node going on from it', { timeout: 90_000 }, async () => {
    // The data dir `npm start` makes (the first test's, or made here).
    if (!(await fs.stat(path.join(copy, 'data', 'statechat.key')).catch(() => undefined))) await shutDown(await startServer(RUN_HERE.start));
    const redisDir = run(RUN_HERE.redisDir);
    expect((await redisDir.exited).code).toBe(0);
    const redis = run(RUN_HERE.redis);
    await redis.waitForStdout(/Ready to accept connections/);
    const migrate = run(RUN_HERE.migrate);
    expect((await migrate.exited).code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/^copied \d+ registered users?, \d+ messages? in \d+ rooms?/m);
    const node = await startServer(RUN_HERE.migratedNode);
    await expectLoginPrompt(RUN_HERE.nc);
    await shutDown(node);
    await redis.kill('SIGTERM');
    await fs.rm(path.join(copy, 'data-redis'), { recursive: true, force: true });
  });

  it('npm run diagrams finds the generated docs up to date', { timeout: 60_000 }, async () => {
    const diagrams = run(RUN_HERE.diagrams);
    expect((await diagrams.exited).code, diagrams.stderr).toBe(0);
    expect(diagrams.stdout).toMatch(/docs\/machines\.md is up to date/);
  });
});
