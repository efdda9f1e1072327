/**
 * parseServerArgs (src/io/config.ts): every flag's default, its accepted range at both ends, the
 * refusals one step outside it, and the readable message of each refusal. The rate-limit and TLS
 * flags in more detail: config-hostile.test.ts; the inspector flags: test/inspector/inspector-args.test.ts.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLUSTER_PREFIX, DEFAULT_CLUSTER_RETAIN, DEFAULT_INSPECT_PORT, DEFAULTS, dataFiles, parseServerArgs, type ServerConfig } from '../../src/io/config.js';
import { ConfigError } from '../../src/io/errors.js';

const config = (argv: string[], mode: 'chat' | 'echo' = 'chat', env: NodeJS.ProcessEnv = {}): ServerConfig => {
  const parsed = parseServerArgs(argv, mode, env);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.config;
};

/** The ConfigError that parsing `argv` throws (fails the test if it does not throw one). */
const refusal = (argv: string[], mode: 'chat' | 'echo' = 'chat'): ConfigError => {
  try {
    parseServerArgs(argv, mode, {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`${JSON.stringify(argv)} was accepted`);
};

describe('parseServerArgs defaults', () => {
  it('gives the embedded defaults with no flags, in the mode asked for', () => {
    const chat = config([]);
    expect(chat).toEqual({ ...DEFAULTS, mode: 'chat', envKey: undefined, inspector: undefined });
    expect(chat).toMatchObject({
      host: '127.0.0.1',
      port: 9090,
      dataDir: 'data',
      loginTimeoutMs: 60_000,
      historyReplay: 20,
      maxLineBytes: 4096,
      maxWaiting: 128,
      allowInsecureKey: false,
      noCreate: false,
      scrypt: { N: 2 ** 17, r: 8, p: 1 },
    });
    expect(config([], 'echo').mode).toBe('echo');
  });

  it('answers --help and -h with help instead of a config', () => {
    expect(parseServerArgs(['--help'], 'chat', {})).toEqual({ help: true });
    expect(parseServerArgs(['-h'], 'echo', {})).toEqual({ help: true });
    expect(parseServerArgs(['--port', '1', '-h'], 'chat', {})).toEqual({ help: true });
  });

  it('names the data files inside the data dir', () => {
    expect(dataFiles('d')).toEqual({
      clients: path.join('d', 'clients.csv'),
      history: path.join('d', 'history.csv'),
      topics: path.join('d', 'topics.csv'),
      offline: path.join('d', 'offline.csv'),
      log: path.join('d', 'server.log'),
    });
  });
});

describe('parseServerArgs flags', () => {
  it('takes --host, --port and --data-dir', () => {
    expect(config(['--host', '0.0.0.0', '--port', '7000', '--data-dir', '/tmp/x'])).toMatchObject({
      host: '0.0.0.0',
      port: 7000,
      dataDir: '/tmp/x',
    });
  });

  it('sets --allow-insecure-key and --no-create only when given', () => {
    expect(config(['--allow-insecure-key'])).toMatchObject({ allowInsecureKey: true, noCreate: false });
    expect(config(['--no-create'], 'echo')).toMatchObject({ allowInsecureKey: false, noCreate: true });
  });

  it('takes --login-timeout in seconds, fractions rounded to the millisecond', () => {
    expect(config(['--login-timeout', '0.1']).loginTimeoutMs).toBe(100);
    expect(config(['--login-timeout', '86400']).loginTimeoutMs).toBe(86_400_000);
    expect(config(['--login-timeout', '1.2345']).loginTimeoutMs).toBe(1235);
    expect(config(['--login-timeout', '2.0004']).loginTimeoutMs).toBe(2000);
  });

  it('takes --scrypt-cost as a power of two from 2 to 2^20, keeping r and p', () => {
    expect(config(['--scrypt-cost', '2']).scrypt).toEqual({ N: 2, r: 8, p: 1 });
    expect(config(['--scrypt-cost', '1024']).scrypt).toEqual({ N: 1024, r: 8, p: 1 });
    expect(config(['--scrypt-cost', String(2 ** 20)]).scrypt.N).toBe(2 ** 20);
  });

  it.each([['3'], ['1000'], ['6'], [String(2 ** 19 + 2 ** 18)]])('refuses --scrypt-cost %s, not a power of two', (n) => {
    expect(refusal(['--scrypt-cost', n]).message).toBe('--scrypt-cost must be a power of two.');
  });

  it.each([
    // flag, lowest accepted, highest accepted
    ['--port', '0', '65535', 'port'],
    ['--history', '0', '100', 'historyReplay'],
    ['--max-line', '64', String(1 << 20), 'maxLineBytes'],
    ['--max-waiting', '0', '100000', 'maxWaiting'],
    ['--rate-limit', '0', '1000000', 'rateLimitPerSecond'],
    ['--rate-burst', '1', '1000000', 'rateLimitBurst'],
  ] as const)('takes %s from %s to %s, and nothing outside', (flag, min, max, field) => {
    expect(config([flag, min])[field]).toBe(Number(min));
    expect(config([flag, max])[field]).toBe(Number(max));
    const range = `${flag} must be a number from ${min} to ${max}`;
    // `--flag=-1`: parseArgs takes a value that starts with a dash only after '='.
    expect(refusal([`${flag}=${Number(min) - 1}`]).message).toBe(`${range} (got "${Number(min) - 1}").`);
    expect(refusal([`${flag}=${Number(max) + 1}`]).message).toBe(`${range} (got "${Number(max) + 1}").`);
  });

  it.each([
    ['--login-timeout', '0.09', '0.1', '86400'],
    ['--login-timeout', '86400.5', '0.1', '86400'],
    ['--scrypt-cost', '1', '2', String(2 ** 20)],
    ['--scrypt-cost', String(2 ** 21), '2', String(2 ** 20)],
    ['--inspect', '65536', '0', '65535'],
  ])('refuses %s %s, outside %s to %s', (flag, raw, min, max) => {
    expect(refusal([flag, raw]).message).toBe(`${flag} must be a number from ${min} to ${max} (got "${raw}").`);
  });

  it.each([[''], [' '], ['\t'], ['abc'], ['NaN'], ['Infinity'], ['0x'], ['1 2']])('refuses %j as a number', (raw) => {
    expect(refusal(['--port', raw]).message).toMatch(/^--port must be a number from 0 to 65535/);
    expect(refusal(['--rate-limit', raw]).message).toMatch(/^--rate-limit must be a number from 0 to 1000000/);
  });

  it('takes a number in any form Number() reads, if it is whole where a whole one is wanted', () => {
    expect(config(['--port', ' 80 ']).port).toBe(80);
    expect(config(['--port', '1e3']).port).toBe(1000);
    expect(config(['--port', '0x10']).port).toBe(16);
    expect(refusal(['--port', '80.5']).message).toBe('--port must be a whole number (got "80.5").');
    expect(refusal(['--history', '1.5']).message).toBe('--history must be a whole number (got "1.5").');
  });

  it('refuses --tls-cert without --tls-key, and the other way round', () => {
    const message = '--tls-cert and --tls-key go together: pass both, or neither for plain TCP.';
    expect(refusal(['--tls-cert', 'c.pem']).message).toBe(message);
    expect(refusal(['--tls-key', 'k.pem'], 'echo').message).toBe(message);
    expect(config(['--tls-cert', 'c.pem', '--tls-key', 'k.pem']).tls).toEqual({ certFile: 'c.pem', keyFile: 'k.pem' });
  });

  it('refuses an unknown flag, a positional argument and a flag without its value, pointing at --help', () => {
    expect(refusal(['--bogus']).message).toMatch(/^Unknown option '--bogus'.*\. See --help\.$/s);
    expect(refusal(['extra']).message).toMatch(/extra.*\. See --help\.$/s);
    expect(refusal(['--port']).message).toMatch(/--port.*\. See --help\.$/s);
  });

  it.each([['--login-timeout', '5'], ['--history', '5'], ['--scrypt-cost', '1024'], ['--rate-burst', '5']])(
    'takes %s only for the chat server, not the echo server',
    (flag, value) => {
      expect(() => config([flag, value])).not.toThrow();
      expect(refusal([flag, value], 'echo').message).toMatch(new RegExp(`^Unknown option '${flag}'`));
    },
  );
});

describe('STATECHAT_KEY', () => {
  it('is passed through when set, and is no key when empty or unset', () => {
    expect(config([], 'chat', { STATECHAT_KEY: 'ab'.repeat(32) }).envKey).toBe('ab'.repeat(32));
    expect(config([], 'chat', { STATECHAT_KEY: '' }).envKey).toBeUndefined();
    expect(config([], 'chat', {}).envKey).toBeUndefined();
  });
});

describe('--cluster, STATECHAT_REDIS_URL and --node-id', () => {
  it('run the server on the CSV files without them', () => {
    expect(config([]).cluster).toBeUndefined();
  });

  it('make the server a node of a cluster on that Redis, the flag winning over the environment', () => {
    const cluster = config(['--cluster', 'redis://10.0.0.5:6380/2', '--node-id', 'chat-a'], 'chat', { STATECHAT_REDIS_URL: 'redis://other:1' }).cluster;
    expect(cluster).toEqual({ url: 'redis://10.0.0.5:6380/2', prefix: DEFAULT_CLUSTER_PREFIX, nodeId: 'chat-a', retain: DEFAULT_CLUSTER_RETAIN });
    expect(config(['--cluster', 'redis://h:1', '--cluster-retain', '500']).cluster?.retain).toBe(500);
    expect(config([], 'chat', { STATECHAT_REDIS_URL: 'redis://other:1' }).cluster?.url).toBe('redis://other:1');
    expect(config([], 'chat', { STATECHAT_REDIS_URL: '' }).cluster).toBeUndefined();
  });

  it('name the node by its host and process when --node-id is not given: two nodes on one machine differ', () => {
    const { nodeId } = config(['--cluster', 'redis://127.0.0.1:6379']).cluster!;
    expect(nodeId).toMatch(new RegExp(`-${process.pid}$`));
    expect(nodeId).toMatch(/^[A-Za-z0-9._:-]+$/);
  });

  it.each([
    [['--cluster', 'http://example.com'], /--cluster: .*is not a redis:\/\/ or rediss:\/\/ URL/],
    [['--cluster', 'not a url'], /--cluster: .*is not a URL; expected redis:\/\/host:port/],
    [['--cluster', 'redis://h:1/x'], /the database must be a number/],
    [['--node-id', 'a'], /--node-id names a node of a cluster: it goes with --cluster/],
    [['--cluster-retain', '500'], /--cluster-retain is about a cluster's streams: it goes with --cluster/],
    [['--cluster', 'redis://h:1', '--cluster-retain', '5'], /--cluster-retain must be a number from 100/],
    [['--cluster', 'redis://h:1', '--node-id', 'two words'], /--node-id must be 1–64 letters/],
  ])('refuse %j with a clear line', (args, message) => {
    expect(refusal(args).message).toMatch(message);
  });

  it('belong to the chat server only', () => {
    expect(refusal(['--cluster', 'redis://h:1'], 'echo').message).toMatch(/^Unknown option '--cluster'/);
  });
});

describe('inspector flags', () => {
  it('give --inspect as the last flag, or before another flag, the default port', () => {
    expect(config(['--port', '1', '--inspect']).inspector).toEqual({ kind: 'page', host: '127.0.0.1', port: DEFAULT_INSPECT_PORT, showContent: false });
    expect(config(['--inspect', '--host', '::1']).inspector).toEqual({ kind: 'page', host: '::1', port: DEFAULT_INSPECT_PORT, showContent: false });
    expect(config(['--inspect', '--host', '::1']).host).toBe('::1');
  });

  it('take the value after --inspect as its port', () => {
    expect(config(['--inspect', '9300', '--port', '1'])).toMatchObject({ port: 1, inspector: { kind: 'page', port: 9300 } });
    expect(refusal(['--inspect', 'x']).message).toBe('--inspect must be a number from 0 to 65535 (got "x").');
  });

  it.each([['ws://h'], ['wss://h:1/path'], ['ws://127.0.0.1:8080']])('take --inspect-ws %s', (url) => {
    expect(config(['--inspect-ws', url]).inspector).toEqual({ kind: 'forward', url, showContent: false });
  });

  it.each([['ws://'], ['ws:///path'], ['ws:// h'], ['wss:/h'], ['xws://h'], [' ws://h'], ['wsx://h'], ['http://h']])(
    'refuse --inspect-ws %j, naming it',
    (url) => {
      expect(refusal(['--inspect-ws', url]).message).toBe(`--inspect-ws wants a ws:// or wss:// URL (got "${url}").`);
    },
  );

  it('refuse --inspect with --inspect-ws, in either order', () => {
    const message = '--inspect and --inspect-ws exclude each other: pick one.';
    expect(refusal(['--inspect', '9000', '--inspect-ws', 'ws://h']).message).toBe(message);
    expect(refusal(['--inspect-ws', 'ws://h', '--inspect']).message).toBe(message);
  });
});
