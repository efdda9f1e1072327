/** Who may reach the inspector (its WebSocket and its HTTP paths): its own page, or a tool that is not a browser. */
import { describe, expect, it } from 'vitest';
import { mayReachInspector } from '../../src/inspector/upgrade-guard.js';

describe('mayReachInspector', () => {
  it('lets in the inspector’s own page and tools without an Origin', () => {
    expect(mayReachInspector({ host: '127.0.0.1:9091', origin: 'http://127.0.0.1:9091' }, '127.0.0.1')).toBe(true);
    expect(mayReachInspector({ host: 'localhost:9091', origin: 'http://localhost:9091' }, '127.0.0.1')).toBe(true);
    expect(mayReachInspector({ host: '127.0.0.1:9091' }, '127.0.0.1')).toBe(true);
  });

  it('keeps out other web sites and DNS-rebinding names', () => {
    expect(mayReachInspector({ host: '127.0.0.1:9091', origin: 'http://evil.example' }, '127.0.0.1')).toBe(false);
    expect(mayReachInspector({ host: 'evil.example:9091', origin: 'http://evil.example:9091' }, '127.0.0.1')).toBe(false);
    expect(mayReachInspector({}, '127.0.0.1')).toBe(false);
  });

  it('accepts the address it is bound to, and any name when bound to every interface', () => {
    expect(mayReachInspector({ host: '192.0.2.5:9091', origin: 'http://192.0.2.5:9091' }, '192.0.2.5')).toBe(true);
    expect(mayReachInspector({ host: 'chat.lan:9091', origin: 'http://chat.lan:9091' }, '0.0.0.0')).toBe(true);
    expect(mayReachInspector({ host: 'chat.lan:9091', origin: 'http://elsewhere:80' }, '0.0.0.0')).toBe(false);
  });
});
