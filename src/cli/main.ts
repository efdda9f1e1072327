/**
 * The `statechat` command: `statechat server | client | echo [options]`.
 */
import { runClient } from './client.js';
import { runServer } from './server.js';

const USAGE = `statechat — a TCP chat server and client built as xstate actors

Usage:
  statechat server [options]   the chat server       (npm start -- [options])
  statechat client [options]   the terminal client   (npm run client -- [options])
  statechat echo [options]     the echo server       (npm run echo -- [options])

Run a subcommand with --help for its options.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return runServer(rest, 'chat');
    case 'echo':
      return runServer(rest, 'echo');
    case 'client':
      return runClient([...rest]);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`statechat: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
