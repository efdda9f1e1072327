/**
 * Server configuration: the embedded defaults and the command-line flags that override them
 * (node:util parseArgs). `npm start` with no flags runs on these defaults.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OWASP_SCRYPT, type ScryptParams } from './crypto.js';
import { ConfigError } from './errors.js';
import { redisUrlProblem } from './redis-connection.js';

export interface ServerConfig {
  mode: 'chat' | 'echo';
  host: string;
  port: number;
  dataDir: string;
  /** A login not completed within this time is closed. */
  loginTimeoutMs: number;
  /** History messages replayed on login. */
  historyReplay: number;
  /** Longest accepted line in bytes; longer ones are refused without being buffered whole. */
  maxLineBytes: number;
  /** Connections held while listening is paused; beyond it, "server busy". */
  maxWaiting: number;
  minPasswordLength: number;
  maxPasswordAttempts: number;
  /** Bytes a client may leave unread before it is disconnected as a slow consumer. */
  maxSendBufferBytes: number;
  /**
   * Lines a connection may send per second, on average (a token bucket); faster lines wait, and
   * the client is told once. 0 turns the limit off.
   */
  rateLimitPerSecond: number;
  /** Lines a connection may send at once (the bucket's size) before the rate limit applies. */
  rateLimitBurst: number;
  /** A connection that keeps sending faster than the rate for this long is disconnected. */
  maxFloodMs: number;
  /** Brute force: the delay after the free wrong passwords on a login, doubling up to the max. */
  loginDelayBaseMs: number;
  loginDelayMaxMs: number;
  /** TLS: the PEM certificate (chain) and private key files. Plain TCP when undefined. */
  tls: { certFile: string; keyFile: string } | undefined;
  scrypt: ScryptParams;
  /** Use a key file (the master key, the TLS key) that group or others can read, instead of refusing it. */
  allowInsecureKey: boolean;
  /** `--no-create`: refuse a data dir that does not exist or is empty, instead of starting a new one. */
  noCreate: boolean;
  /** STATECHAT_KEY: the master key, instead of the key file. */
  envKey: string | undefined;
  /** `--inspect [port]` / `--inspect-ws <url>`: the live inspector; off when absent. */
  inspector?: InspectorConfig;
  /** `--cluster redis://…` (or STATECHAT_REDIS_URL): a node of a cluster on that Redis (docs/cluster.md); the CSV files when absent. */
  cluster?: ClusterConfig;
}

export interface ClusterConfig {
  /** redis://host:port[/db], a password allowed (never logged). */
  url: string;
  /** Prefix of every key the cluster keeps (one Redis can hold several chats). */
  prefix: string;
  /** This node's name, unique in the cluster (`--node-id`; default: host name and process id). */
  nodeId: string;
  /** `--cluster-retain`: the fewest posts each room's stream keeps (history-store-redis.ts). */
  retain: number;
}

export const DEFAULT_CLUSTER_PREFIX = 'statechat:';
/** Posts a room's stream keeps (the same figure as history-store-redis.ts's DEFAULT_RETAINED_POSTS). */
export const DEFAULT_CLUSTER_RETAIN = 10_000;

/**
 * Our inspector page on `host:port`, or the stream sent to an external inspector at `url`;
 * `showContent` (`--inspect-content`): the stream carries what users wrote, not only its size.
 */
export type InspectorConfig = ({ kind: 'page'; host: string; port: number } | { kind: 'forward'; url: string }) & { showContent: boolean };

export const DEFAULT_INSPECT_PORT = 9091;

export const DEFAULTS: Omit<ServerConfig, 'envKey'> = {
  mode: 'chat',
  host: '127.0.0.1',
  port: 9090,
  dataDir: 'data',
  loginTimeoutMs: 60_000,
  historyReplay: 20,
  maxLineBytes: 4096,
  maxWaiting: 128,
  minPasswordLength: 4,
  maxPasswordAttempts: 3,
  maxSendBufferBytes: 1 << 20,
  rateLimitPerSecond: 20,
  rateLimitBurst: 40,
  maxFloodMs: 30_000,
  loginDelayBaseMs: 1000,
  loginDelayMaxMs: 30_000,
  tls: undefined,
  allowInsecureKey: false,
  noCreate: false,
  scrypt: OWASP_SCRYPT,
};

export const dataFiles = (dataDir: string) => ({
  clients: path.join(dataDir, 'clients.csv'),
  history: path.join(dataDir, 'history.csv'),
  topics: path.join(dataDir, 'topics.csv'),
  offline: path.join(dataDir, 'offline.csv'),
  log: path.join(dataDir, 'server.log'),
});

export const SERVER_USAGE = `Usage: statechat server [options]      (npm start -- [options])

Options:
  --host <addr>            address to listen on (default ${DEFAULTS.host})
  --port <n>               port, 0 picks a free one and prints it (default ${DEFAULTS.port})
  --data-dir <dir>         clients.csv, history.csv, topics.csv, server.log and the key (default ./${DEFAULTS.dataDir})
  --no-create              refuse a data dir that does not exist or is empty (a typo in --data-dir)
  --login-timeout <s>      close a login not completed in time (default ${DEFAULTS.loginTimeoutMs / 1000})
  --history <n>            messages replayed on login (default ${DEFAULTS.historyReplay})
  --max-line <bytes>       longest accepted line (default ${DEFAULTS.maxLineBytes})
  --max-waiting <n>        connections held while listening is stopped (default ${DEFAULTS.maxWaiting})
  --rate-limit <n>         lines a client may send per second; faster ones wait (default ${DEFAULTS.rateLimitPerSecond};
                           0 = no limit)
  --rate-burst <n>         lines a client may send at once before the limit applies (default ${DEFAULTS.rateLimitBurst})
  --tls-cert <file>        speak TLS, with this PEM certificate (chain); needs --tls-key
  --tls-key <file>         the PEM private key of --tls-cert (refused if group or others can read it)
  --allow-insecure-key     use a key file (statechat.key, --tls-key) that group or others can read
  --scrypt-cost <N>        scrypt N, a power of two (default ${DEFAULTS.scrypt.N}, OWASP's minimum;
                           lower it only for tests and benchmarks)
  --inspect [port]         serve the live inspector page on <host>:<port> (default ${DEFAULT_INSPECT_PORT};
                           0 picks a free port and prints it)
  --inspect-ws <url>       send the inspection stream to an external inspector (ws://host:port) instead
  --inspect-content        let the inspection stream carry chat text, /msg text and replayed history
                           (by default it shows only their sizes)
  --cluster <url>          run as a node of a cluster on this Redis (redis://host:port[/db]): users,
                           history, topics and who is online live there, shared by every node
                           (docs/cluster.md); without it, the CSV files of --data-dir
  --node-id <name>         this node's name in the cluster, unique (default: host name and process id)
  --cluster-retain <n>     posts each room's stream in Redis keeps at least (default ${DEFAULT_CLUSTER_RETAIN};
                           a node that falls further behind than that loses lines)
  -h, --help               this text

Environment:
  STATECHAT_KEY            the 32-byte master key (64 hex chars), instead of <data-dir>/statechat.key
                           (every node of a cluster must have the same key)
  STATECHAT_REDIS_URL      the same as --cluster <url> (the flag wins)
`;

export const ECHO_USAGE = `Usage: statechat echo [options]        (npm run echo -- [options])

Options:
  --host <addr>            address to listen on (default ${DEFAULTS.host})
  --port <n>               port, 0 picks a free one and prints it (default ${DEFAULTS.port})
  --data-dir <dir>         where server.log goes (default ./${DEFAULTS.dataDir})
  --no-create              refuse a data dir that does not exist or is empty
  --max-line <bytes>       longest accepted line (default ${DEFAULTS.maxLineBytes})
  --max-waiting <n>        connections held while listening is stopped (default ${DEFAULTS.maxWaiting})
  --tls-cert <file>        speak TLS, with this PEM certificate (chain); needs --tls-key
  --tls-key <file>         the PEM private key of --tls-cert (refused if group or others can read it)
  --allow-insecure-key     use a --tls-key file that group or others can read
  --inspect [port]         serve the live inspector page (default port ${DEFAULT_INSPECT_PORT}; 0 picks a free one)
  --inspect-ws <url>       send the inspection stream to an external inspector instead
  --inspect-content        let the inspection stream carry chat text, /msg text and replayed history
                           (by default it shows only their sizes)
  -h, --help               this text
`;

export type ParsedServerArgs = { help: true } | { help: false; config: ServerConfig };

/** Parses server or echo flags; throws ConfigError with a readable message on a bad one. */
export function parseServerArgs(
  argv: readonly string[],
  mode: 'chat' | 'echo',
  env: NodeJS.ProcessEnv = process.env,
): ParsedServerArgs {
  const chatOnly = {
    'login-timeout': { type: 'string' },
    history: { type: 'string' },
    'scrypt-cost': { type: 'string' },
    'rate-limit': { type: 'string' },
    'rate-burst': { type: 'string' },
    cluster: { type: 'string' },
    'node-id': { type: 'string' },
    'cluster-retain': { type: 'string' },
  } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: withDefaultInspectPort(argv),
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        'max-line': { type: 'string' },
        'max-waiting': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'allow-insecure-key': { type: 'boolean' },
        'no-create': { type: 'boolean' },
        inspect: { type: 'string' },
        'inspect-ws': { type: 'string' },
        'inspect-content': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        ...(mode === 'chat' ? chatOnly : {}),
      },
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}. See --help.`);
  }
  if (values.help) return { help: true };

  const str = (name: string) => values[name] as string | undefined;
  const scryptN = integer('--scrypt-cost', str('scrypt-cost'), DEFAULTS.scrypt.N, 2, 2 ** 20);
  if ((scryptN & (scryptN - 1)) !== 0) throw new ConfigError('--scrypt-cost must be a power of two.');
  const loginTimeoutS = number('--login-timeout', str('login-timeout'), DEFAULTS.loginTimeoutMs / 1000, 0.1, 86_400);
  const certFile = str('tls-cert');
  const keyFile = str('tls-key');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key go together: pass both, or neither for plain TCP.');
  }

  return {
    help: false,
    config: {
      ...DEFAULTS,
      mode,
      host: str('host') ?? DEFAULTS.host,
      port: integer('--port', str('port'), DEFAULTS.port, 0, 65_535),
      dataDir: str('data-dir') ?? DEFAULTS.dataDir,
      loginTimeoutMs: Math.round(loginTimeoutS * 1000),
      historyReplay: integer('--history', str('history'), DEFAULTS.historyReplay, 0, 100),
      maxLineBytes: integer('--max-line', str('max-line'), DEFAULTS.maxLineBytes, 64, 1 << 20),
      maxWaiting: integer('--max-waiting', str('max-waiting'), DEFAULTS.maxWaiting, 0, 100_000),
      rateLimitPerSecond: number('--rate-limit', str('rate-limit'), DEFAULTS.rateLimitPerSecond, 0, 1_000_000),
      rateLimitBurst: integer('--rate-burst', str('rate-burst'), DEFAULTS.rateLimitBurst, 1, 1_000_000),
      tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
      allowInsecureKey: values['allow-insecure-key'] === true,
      noCreate: values['no-create'] === true,
      scrypt: { ...DEFAULTS.scrypt, N: scryptN },
      envKey: env.STATECHAT_KEY || undefined,
      inspector: inspectorConfig(str('inspect'), str('inspect-ws'), str('host') ?? DEFAULTS.host, values['inspect-content'] === true),
      cluster: mode === 'chat' ? clusterConfig(str('cluster') ?? (env.STATECHAT_REDIS_URL || undefined), str('node-id'), str('cluster-retain')) : undefined,
    },
  };
}

function clusterConfig(url: string | undefined, nodeId: string | undefined, retain: string | undefined): ClusterConfig | undefined {
  if (url === undefined) {
    if (nodeId !== undefined) throw new ConfigError('--node-id names a node of a cluster: it goes with --cluster (or STATECHAT_REDIS_URL).');
    if (retain !== undefined) throw new ConfigError('--cluster-retain is about a cluster\'s streams: it goes with --cluster (or STATECHAT_REDIS_URL).');
    return undefined;
  }
  const problem = redisUrlProblem(url);
  if (problem) throw new ConfigError(`--cluster: ${problem}.`);
  // A space would break the owner tags ("<node> <epoch> …", presence-redis.ts); keep names plain.
  if (nodeId !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(nodeId)) {
    throw new ConfigError(`--node-id must be 1–64 letters, digits, ".", "_", ":" or "-" (got "${nodeId}").`);
  }
  return {
    url,
    prefix: DEFAULT_CLUSTER_PREFIX,
    nodeId: nodeId ?? `${os.hostname().replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 48)}-${process.pid}`,
    retain: integer('--cluster-retain', retain, DEFAULT_CLUSTER_RETAIN, 100, 10_000_000),
  };
}

/** `--inspect` may come without a port: then it gets the default one (parseArgs wants a value). */
function withDefaultInspectPort(argv: readonly string[]): string[] {
  return argv.flatMap((arg, i) =>
    arg === '--inspect' && (i + 1 >= argv.length || argv[i + 1]!.startsWith('-')) ? [arg, String(DEFAULT_INSPECT_PORT)] : [arg],
  );
}

function inspectorConfig(port: string | undefined, url: string | undefined, host: string, showContent: boolean): InspectorConfig | undefined {
  if (port !== undefined && url !== undefined) throw new ConfigError('--inspect and --inspect-ws exclude each other: pick one.');
  if (url !== undefined) {
    if (!/^wss?:\/\/[^\s/]+/.test(url)) throw new ConfigError(`--inspect-ws wants a ws:// or wss:// URL (got "${url}").`);
    return { kind: 'forward', url, showContent };
  }
  if (port === undefined) {
    if (showContent) throw new ConfigError('--inspect-content goes with --inspect or --inspect-ws: it says what their stream carries.');
    return undefined;
  }
  return { kind: 'page', host, port: integer('--inspect', port, DEFAULT_INSPECT_PORT, 0, 65_535), showContent };
}

function number(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${flag} must be a number from ${min} to ${max} (got "${raw}").`);
  }
  return value;
}

function integer(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  const value = number(flag, raw, fallback, min, max);
  if (!Number.isInteger(value)) throw new ConfigError(`${flag} must be a whole number (got "${raw}").`);
  return value;
}
