/**
 * `statechat client [--host H] [--port P] [--tls [--ca FILE] | --insecure] [--login NAME] [--no-reconnect]
 * [--utc] [--bell]` — the interactive chat client.
 *
 * Parses flags, runs one client session (src/actors/client-session.ts) against the process's
 * stdin/stdout, forwards SIGINT/SIGTERM to it as "the user wants out", and returns the exit code:
 * 0 after /quit or Ctrl-C (also while reconnecting), or when the server closed the connection and
 * the client does not reconnect (a kick, "… Disconnecting.", --no-reconnect, piped input ended);
 * 1 when such a connection was lost with an error, or cannot be attempted at all; 2 for bad usage.
 * A dropped session that the client reconnects gives no exit code: the client goes on.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type ClientTlsOptions, startClientSession } from '../actors/client-session.js';
import { wantsColour } from '../machines/client-display.js';
import { loginNameProblem } from '../machines/protocol.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 9090;

export const CLIENT_USAGE = `Usage: statechat client [--host HOST] [--port PORT] [--tls [--ca FILE]] [--login NAME] [--no-reconnect]
                        [--utc] [--bell]

Connects to a statechat server and chats. Answer the server's prompts (passwords are typed
without echo); type /quit or press Ctrl-C to leave. If the server is not up yet, the client
says "waiting for server…" and keeps retrying with backoff. If the connection drops later (the
server restarts), it says so and reconnects the same way, then shows the login prompt again —
not after a kick by the operator, a login timeout or too many wrong passwords: then it exits.

Times are shown in local time (the date too when it is not today). At a terminal, senders have
a colour each, your login is bold, mentions of you are highlighted and notices dimmed (set
NO_COLOR to any value to turn colours off; never when output is piped). Tab completes /commands,
#rooms and logins seen; Up and Down recall lines you sent (never a password).

Options:
  --host HOST   server address (default ${DEFAULT_HOST})
  --port PORT   server TCP port (default ${DEFAULT_PORT})
  --tls         connect with TLS (a server started with --tls-cert/--tls-key), verifying its
                certificate against the system's CAs and the host name
  --ca FILE     trust the CA (or self-signed certificate) in this PEM file too; implies --tls
  --insecure    TLS without verifying the certificate: INSECURE, for experiments only — anyone
                on the way can pose as the server and read your password; implies --tls
  --login NAME  answer the server's login prompt with NAME, on every (re)connect; the password
                is never stored: you type it each time
  --no-reconnect
                exit when the connection drops instead of reconnecting (for scripts): exit code 0
                when the server closed it, 1 when it was lost with an error
  --utc         show times in UTC instead of local time
  --bell        ring the terminal bell when someone else's line mentions your login (at a
                terminal only)
  -h, --help    show this help

Exit codes: 0 after /quit, Ctrl-C or the server closing the connection; 1 when the connection
was lost with an error or cannot be made at all; 2 for bad usage.
`;

export interface ClientIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  /** Where NO_COLOR is read from. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export async function runClient(
  argv: string[],
  io: ClientIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let values: {
    host?: string;
    port?: string;
    help?: boolean;
    tls?: boolean;
    ca?: string;
    insecure?: boolean;
    login?: string;
    'no-reconnect'?: boolean;
    utc?: boolean;
    bell?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string', default: DEFAULT_HOST },
        port: { type: 'string', default: String(DEFAULT_PORT) },
        tls: { type: 'boolean', default: false },
        ca: { type: 'string' },
        insecure: { type: 'boolean', default: false },
        login: { type: 'string' },
        'no-reconnect': { type: 'boolean', default: false },
        utc: { type: 'boolean', default: false },
        bell: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr.write(`statechat client: ${err instanceof Error ? err.message : String(err)}\n\n${CLIENT_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(CLIENT_USAGE);
    return 0;
  }
  const host = values.host ?? DEFAULT_HOST;
  const port = parsePort(values.port ?? String(DEFAULT_PORT));
  if (host.trim() === '' || port === null) {
    const what = port === null ? `--port must be an integer from 1 to 65535, got "${values.port}"` : '--host is empty';
    io.stderr.write(`statechat client: ${what}\n\n${CLIENT_USAGE}`);
    return 2;
  }

  const loginProblem = values.login === undefined ? undefined : loginNameProblem(values.login);
  if (loginProblem) {
    io.stderr.write(`statechat client: --login ${JSON.stringify(values.login)}: ${loginProblem}\n\n${CLIENT_USAGE}`);
    return 2;
  }

  let tls: ClientTlsOptions | undefined;
  if (values.ca !== undefined && values.insecure) {
    io.stderr.write(`statechat client: --ca and --insecure exclude each other\n\n${CLIENT_USAGE}`);
    return 2;
  }
  if (values.insecure) {
    io.stderr.write(
      'statechat client: WARNING: --insecure: the server\'s certificate is NOT verified. Anyone between you and\n' +
        'the server can pose as it and read your password. Use --ca <file> instead.\n',
    );
    tls = { verify: false };
  } else if (values.ca !== undefined) {
    try {
      tls = { verify: true, ca: readFileSync(values.ca) };
    } catch (err) {
      io.stderr.write(`statechat client: cannot read --ca ${values.ca}: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
  } else if (values.tls) {
    tls = { verify: true };
  }

  const session = startClientSession({
    host,
    port,
    input: io.stdin,
    output: io.stdout,
    tls,
    reconnect: !values['no-reconnect'],
    utc: values.utc === true,
    // A bell is for a terminal: never written into a pipe or a file.
    bell: values.bell === true && Boolean(io.stdout.isTTY),
    colour: wantsColour(io.stdout.isTTY, (io.env ?? process.env)['NO_COLOR']),
    ...(values.login !== undefined ? { login: values.login } : {}),
  });
  // Ctrl-C at a raw-mode terminal reaches readline as a key, not as a signal; these cover piped
  // input and `kill`.
  const onSignal = () => session.interrupt();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await session.done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}
