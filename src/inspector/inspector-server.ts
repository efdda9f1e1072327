/**
 * The inspector's web server (`--inspect [port]`): the page and its assets over HTTP, the
 * inspection stream over a WebSocket at `/ws`, both on one port, bound to the server's `--host`
 * (127.0.0.1 unless told otherwise). Every asset is served from here — the page from
 * src/inspector/page/, Mermaid from node_modules — so it works with no internet at all.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { StatechatError } from '../io/errors.js';
import { PACKAGE_ROOT } from '../io/package-root.js';
import { MACHINE_CATALOG } from '../diagrams/machine-catalog.js';
import { toStateDiagram } from '../diagrams/state-diagram.js';
import type { InspectionHub } from './inspection-hub.js';
import { DEFAULT_MAX_BUFFERED_BYTES, PageSink } from './page-sink.js';
import { mayReachInspector } from './upgrade-guard.js';

export interface InspectorServerOptions {
  host: string;
  /** 0 picks a free port (see `port` on the result). */
  port: number;
  hub: InspectionHub;
  /** A page further behind than this is disconnected. */
  maxBufferedBytes?: number;
  /** A line for the server log. */
  log(line: string): void;
}

export interface InspectorServer {
  readonly url: string;
  readonly port: number;
  /** Pages connected now. */
  readonly pageCount: number;
  close(): Promise<void>;
}

interface Asset {
  file: string;
  type: string;
}

const pageDir = `${path.join(PACKAGE_ROOT, 'src', 'inspector', 'page')}${path.sep}`;
const ASSETS: Record<string, Asset> = {
  '/': { file: `${pageDir}index.html`, type: 'text/html; charset=utf-8' },
  '/inspector.js': { file: `${pageDir}inspector.js`, type: 'text/javascript; charset=utf-8' },
  '/inspector.css': { file: `${pageDir}inspector.css`, type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: `${pageDir}favicon.svg`, type: 'image/svg+xml' },
  '/mermaid.min.js': {
    file: createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

/** Nothing but this server: no CDN, no inline script; Mermaid writes inline styles into its SVG. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export async function startInspectorServer(options: InspectorServerOptions): Promise<InspectorServer> {
  const { hub, log } = options;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const diagramsJson = JSON.stringify(
    Object.fromEntries(MACHINE_CATALOG.map(({ machine }) => [machine.id, toStateDiagram(machine)])),
  );
  const cache = new Map<string, Buffer>();
  const read = async (asset: Asset) => {
    let body = cache.get(asset.file);
    if (!body) cache.set(asset.file, (body = await fs.readFile(asset.file)));
    return body;
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const headers = {
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    };
    // Before anything else, the page and the diagrams included: see upgrade-guard.ts.
    if (!mayReachInspector(req.headers, options.host)) {
      res.writeHead(403, { ...headers, 'Content-Type': 'text/plain' }).end('forbidden\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/diagrams.json') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' }).end(req.method === 'HEAD' ? undefined : diagramsJson);
      return;
    }
    const asset = ASSETS[path];
    if (!asset) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    read(asset).then(
      (body) => res.writeHead(200, { ...headers, 'Content-Type': asset.type }).end(req.method === 'HEAD' ? undefined : body),
      (err: unknown) => {
        log(`inspector: cannot read ${asset.file}: ${(err as Error).message}`);
        res.writeHead(500, headers).end();
      },
    );
  });

  // The page only listens; it has nothing to say beyond a ping.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  const pages = new Set<() => void>();
  server.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== '/ws' || !mayReachInspector(req.headers, options.host)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const sink = new PageSink(ws, maxBufferedBytes, () =>
        log(`inspector: a page fell more than ${maxBufferedBytes} bytes behind and was disconnected`),
      );
      const unsubscribe = hub.subscribe(sink);
      pages.add(unsubscribe);
      ws.on('error', () => {});
      ws.once('close', () => {
        pages.delete(unsubscribe);
        unsubscribe();
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new StatechatError('STATECHAT_ERR_PORT_IN_USE', `inspector: ${options.host}:${options.port} is already in use; pass another --inspect <port> (0 picks a free one).`)
          : new StatechatError('STATECHAT_ERR_LISTEN', `inspector: cannot listen on ${options.host}:${options.port}: ${err.message}`),
      );
    };
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = options.host.includes(':') ? `[${options.host}]` : options.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    get pageCount() {
      return pages.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.close(1001, 'server stopped');
        for (const unsubscribe of pages) unsubscribe();
        pages.clear();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
        // Pages that do not answer the close handshake are cut off.
        setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 500).unref();
      });
      return closing;
    },
  };
}
