/**
 * The inspector's port against a web page from elsewhere. A browser lets any site send requests
 * to 127.0.0.1, and DNS rebinding lets a site's own name resolve to 127.0.0.1 — then its page is
 * "same origin" with the inspector and could read whatever it serves. So every request, the
 * WebSocket upgrade and plain HTTP alike, must name this server in `Host` and, if it comes from a
 * page (`Origin`), come from the inspector's own. Real HTTP and WebSocket requests on 127.0.0.1.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { InspectionHub } from '../../src/inspector/inspection-hub.js';
import { type InspectorServer, startInspectorServer } from '../../src/inspector/inspector-server.js';

const servers: InspectorServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startInspector(): Promise<{ inspector: InspectorServer; hub: InspectionHub; own: string }> {
  const hub = new InspectionHub();
  const inspector = await startInspectorServer({ host: '127.0.0.1', port: 0, hub, log: () => {} });
  servers.push(inspector);
  return { inspector, hub, own: `127.0.0.1:${inspector.port}` };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A GET to the inspector on 127.0.0.1 with these headers, whatever they claim. */
function get(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** Opens the stream with these headers: 'open', or the HTTP status it was refused with. */
function openStream(port: number, options: { host?: string; origin?: string }): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.host ? { headers: { Host: options.host } } : {}),
    });
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode!);
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

const PATHS = ['/', '/inspector.js', '/inspector.css', '/favicon.svg', '/mermaid.min.js', '/diagrams.json', '/no-such-page'];

describe('the inspector against other web sites (DNS rebinding)', () => {
  it('serves its page, assets and diagrams to a request naming it, with or without its own Origin', async () => {
    const { inspector, own } = await startInspector();
    for (const path of PATHS.slice(0, -1)) {
      expect((await get(inspector.port, path, { Host: own })).status, path).toBe(200);
      expect((await get(inspector.port, path, { Host: `localhost:${inspector.port}`, Origin: `http://localhost:${inspector.port}` })).status, path).toBe(200);
    }
    expect(await openStream(inspector.port, { origin: `http://${own}` })).toBe('open');
    expect(await openStream(inspector.port, {})).toBe('open'); // a tool: no Origin
  });

  it('refuses every HTTP path to a request that names another host, and tells it nothing', async () => {
    const { inspector } = await startInspector();
    for (const path of PATHS) {
      const answer = await get(inspector.port, path, { Host: `rebound.example:${inspector.port}` });
      expect(answer.status, path).toBe(403);
      expect(answer.body, path).not.toMatch(/mermaid|stateDiagram|<html/i);
      expect(answer.headers['access-control-allow-origin'], path).toBeUndefined();
    }
  });

  it('refuses every HTTP path to a request from another site’s page (a foreign Origin)', async () => {
    const { inspector, own } = await startInspector();
    for (const origin of ['http://evil.example', `http://rebound.example:${inspector.port}`, 'null']) {
      for (const path of PATHS) {
        const answer = await get(inspector.port, path, { Host: own, Origin: origin });
        expect(answer.status, `${origin} ${path}`).toBe(403);
        expect(answer.headers['access-control-allow-origin'], path).toBeUndefined();
      }
    }
  });

  it('refuses the WebSocket to a foreign Origin or a foreign Host, and no page is subscribed', async () => {
    const { inspector, hub, own } = await startInspector();

    expect(await openStream(inspector.port, { origin: 'http://evil.example' })).toBe(403);
    expect(await openStream(inspector.port, { origin: 'null' })).toBe(403);
    expect(await openStream(inspector.port, { host: `rebound.example:${inspector.port}`, origin: `http://rebound.example:${inspector.port}` })).toBe(403);
    expect(await openStream(inspector.port, { host: `rebound.example:${inspector.port}` })).toBe(403);

    expect(inspector.pageCount).toBe(0);
    expect(hub.subscriberCount).toBe(0);
    expect(await openStream(inspector.port, { origin: `http://${own}` })).toBe('open'); // still serving
  });
});
