/**
 * Who may reach the inspector at all: its WebSocket and every HTTP path. The stream shows logins
 * and chat text, and a browser lets any web site send requests to 127.0.0.1 — so a request from a
 * browser must come from the inspector's own page (its Origin is this server), and every request
 * must name this server in its Host header: a DNS-rebinding site, whose own name now resolves to
 * 127.0.0.1, is "same origin" with what it loads and would name itself. Tools that are not
 * browsers send no Origin.
 */
import type { IncomingHttpHeaders } from 'node:http';

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** `bindHost` is the address the inspector listens on (`--host`). */
export function mayReachInspector(headers: IncomingHttpHeaders, bindHost: string): boolean {
  const host = headers.host;
  if (!host) return false;
  // Bound to every interface, the names people reach it by cannot be known; bound to one
  // address, that address or a loopback name.
  if (!WILDCARD_HOSTS.has(bindHost) && !allowedHostname(hostnameOf(host), bindHost)) return false;
  const origin = headers.origin;
  return origin === undefined || origin === `http://${host}`;
}

function allowedHostname(hostname: string, bindHost: string): boolean {
  return LOOPBACK_NAMES.has(hostname) || hostname === bindHost || hostname === `[${bindHost}]`;
}

/** `127.0.0.1:9091` → `127.0.0.1`, `[::1]:9091` → `[::1]`. */
function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const colon = hostHeader.lastIndexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}
