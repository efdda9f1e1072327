/**
 * `statechat client [--host H] [--port P]` — the interactive chat client.
 *
 * Parses flags, runs one client session (src/actors/client-session.ts) against the process's
 * stdin/stdout, forwards SIGINT/SIGTERM to it as "the user wants out", and returns the exit code:
 * 0 after /quit, Ctrl-C or the server closing the connection; 1 when the connection was lost
 * with an error or cannot be attempted at all; 2 for bad usage.
 */
import { parseArgs } from 'node:util';
import { startClientSession } from '../actors/client-session.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 9090;

export const CLIENT_USAGE = `Usage: statechat client [--host HOST] [--port PORT]

Connects to a statechat server and chats. Answer the server's prompts (passwords are typed
without echo); type /quit or press Ctrl-C to leave. If the server is not up yet, the client
says "waiting for server…" and keeps retrying with backoff.

Options:
  --host HOST   server address (default ${DEFAULT_HOST})
  --port PORT   server TCP port (default ${DEFAULT_PORT})
  -h, --help    show this help
`;

export interface ClientIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

export async function runClient(
  argv: string[],
  io: ClientIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let values: { host?: string; port?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string', default: DEFAULT_HOST },
        port: { type: 'string', default: String(DEFAULT_PORT) },
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

  const session = startClientSession({ host, port, input: io.stdin, output: io.stdout });
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
