/**
 * Server configuration: the embedded defaults and the command-line flags that override them
 * (node:util parseArgs). `npm start` with no flags runs on these defaults.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OWASP_SCRYPT, type ScryptParams } from './crypto.js';
import { ConfigError } from './errors.js';

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
  scrypt: ScryptParams;
  /** STATECHAT_KEY: the master key, instead of the key file. */
  envKey: string | undefined;
}

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
  scrypt: OWASP_SCRYPT,
};

export const dataFiles = (dataDir: string) => ({
  clients: path.join(dataDir, 'clients.csv'),
  history: path.join(dataDir, 'history.csv'),
  log: path.join(dataDir, 'server.log'),
});

export const SERVER_USAGE = `Usage: statechat server [options]      (npm start -- [options])

Options:
  --host <addr>            address to listen on (default ${DEFAULTS.host})
  --port <n>               port, 0 picks a free one and prints it (default ${DEFAULTS.port})
  --data-dir <dir>         clients.csv, history.csv, server.log and the key (default ./${DEFAULTS.dataDir})
  --login-timeout <s>      close a login not completed in time (default ${DEFAULTS.loginTimeoutMs / 1000})
  --history <n>            messages replayed on login (default ${DEFAULTS.historyReplay})
  --max-line <bytes>       longest accepted line (default ${DEFAULTS.maxLineBytes})
  --max-waiting <n>        connections held while listening is stopped (default ${DEFAULTS.maxWaiting})
  --scrypt-cost <N>        scrypt N, a power of two (default ${DEFAULTS.scrypt.N}, OWASP's minimum;
                           lower it only for tests and benchmarks)
  -h, --help               this text

Environment:
  STATECHAT_KEY            the 32-byte master key (64 hex chars), instead of <data-dir>/statechat.key
`;

export const ECHO_USAGE = `Usage: statechat echo [options]        (npm run echo -- [options])

Options:
  --host <addr>            address to listen on (default ${DEFAULTS.host})
  --port <n>               port, 0 picks a free one and prints it (default ${DEFAULTS.port})
  --data-dir <dir>         where server.log goes (default ./${DEFAULTS.dataDir})
  --max-line <bytes>       longest accepted line (default ${DEFAULTS.maxLineBytes})
  --max-waiting <n>        connections held while listening is stopped (default ${DEFAULTS.maxWaiting})
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
  } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        'max-line': { type: 'string' },
        'max-waiting': { type: 'string' },
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
      scrypt: { ...DEFAULTS.scrypt, N: scryptN },
      envKey: env.STATECHAT_KEY || undefined,
    },
  };
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
