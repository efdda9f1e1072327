/**
 * `statechat server --inspect` as a user starts it: the inspector's address is printed (the real
 * port for `--inspect 0`), every asset comes from the server itself, and a port already taken is
 * a clear error with exit code 1 rather than a server running without its inspector.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../e2e/server-process.js';
import { makeDataDir } from '../integration/harness.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const started: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

describe('statechat server --inspect', () => {
  it('prints the inspector’s address and serves the page and everything it loads', async () => {
    const server = await startServerProcess();
    started.push(server);
    expect(server.inspectorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const page = await fetch(server.inspectorUrl);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/mermaid.min.js', '/inspector.js', '/inspector.css']));
    for (const asset of [...assets, '/diagrams.json']) {
      expect(asset.startsWith('/'), `${asset} is local`).toBe(true);
      const response = await fetch(new URL(asset, server.inspectorUrl));
      expect(response.status, asset).toBe(200);
      expect((await response.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
    const diagrams = (await (await fetch(new URL('/diagrams.json', server.inspectorUrl))).json()) as Record<string, { mermaid: string }>;
    expect(Object.keys(diagrams)).toEqual(['connection', 'listener', 'supervisor', 'room', 'clusterLink', 'echo', 'client']);
    expect((await fetch(new URL('/../package.json', server.inspectorUrl))).status).toBe(404);
  });

  it('refuses to start when the inspector’s port is taken, and says which', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const { port } = blocker.address() as AddressInfo;
    const dataDir = await makeDataDir();
    try {
      const child = spawn(process.execPath, [path.join(REPO, 'bin/statechat.js'), 'server', '--port', '0', '--inspect', String(port), '--data-dir', dataDir], {
        cwd: REPO,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      clearTimeout(killer);

      expect(code).toBe(1);
      expect(stderr).toContain(`inspector: 127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
