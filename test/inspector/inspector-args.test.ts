/** `--inspect [port]` and `--inspect-ws <url>` on `statechat server` (and `echo`). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_INSPECT_PORT, type ParsedServerArgs, parseServerArgs } from '../../src/io/config.js';

const inspectorOf = (parsed: ParsedServerArgs) => (parsed.help ? undefined : parsed.config.inspector);

describe('inspector flags', () => {
  it('leave the inspector off when absent', () => {
    expect(inspectorOf(parseServerArgs([], 'chat', {}))).toBeUndefined();
  });

  it('take --inspect alone as the default port on the server’s host', () => {
    expect(inspectorOf(parseServerArgs(['--inspect'], 'chat', {}))).toEqual({ kind: 'page', host: '127.0.0.1', port: DEFAULT_INSPECT_PORT, showContent: false });
    expect(inspectorOf(parseServerArgs(['--inspect', '--port', '0'], 'chat', {}))).toEqual({ kind: 'page', host: '127.0.0.1', port: 9091, showContent: false });
    expect(inspectorOf(parseServerArgs(['--host', '0.0.0.0', '--inspect'], 'echo', {}))).toEqual({ kind: 'page', host: '0.0.0.0', port: 9091, showContent: false });
  });

  it('take a port, 0 included', () => {
    expect(inspectorOf(parseServerArgs(['--inspect', '0'], 'chat', {}))).toEqual({ kind: 'page', host: '127.0.0.1', port: 0, showContent: false });
    expect(inspectorOf(parseServerArgs(['--inspect=9300'], 'chat', {}))).toEqual({ kind: 'page', host: '127.0.0.1', port: 9300, showContent: false });
    expect(() => parseServerArgs(['--inspect', '70000'], 'chat', {})).toThrow(/--inspect/);
  });

  it('send the stream elsewhere with --inspect-ws, which excludes --inspect', () => {
    expect(inspectorOf(parseServerArgs(['--inspect-ws', 'ws://127.0.0.1:8080'], 'chat', {}))).toEqual({ kind: 'forward', url: 'ws://127.0.0.1:8080', showContent: false });
    expect(() => parseServerArgs(['--inspect-ws', 'http://x'], 'chat', {})).toThrow(/ws:\/\//);
    expect(() => parseServerArgs(['--inspect', '--inspect-ws', 'ws://x:1'], 'chat', {})).toThrow(/exclude each other/);
  });

  it('carry what users wrote only with --inspect-content, which needs an inspector', () => {
    expect(inspectorOf(parseServerArgs(['--inspect', '--inspect-content'], 'chat', {}))).toEqual({ kind: 'page', host: '127.0.0.1', port: 9091, showContent: true });
    expect(inspectorOf(parseServerArgs(['--inspect-content', '--inspect-ws', 'ws://x:1'], 'chat', {}))).toEqual({ kind: 'forward', url: 'ws://x:1', showContent: true });
    expect(() => parseServerArgs(['--inspect-content'], 'chat', {})).toThrow(/--inspect-content goes with --inspect or --inspect-ws/);
  });
});
