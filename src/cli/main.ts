/**
 * The `statechat` command: `statechat server | client | echo | migrate [options]`. Each subcommand's module
 * is loaded only when it runs: a server start does not load the client, and the other way round
 * (module loading is most of an empty start-up: docs/performance.md, S5).
 */

const USAGE = `statechat — a TCP chat server and client built as xstate actors

Usage:
  statechat server [options]   the chat server       (npm start -- [options])
  statechat client [options]   the terminal client   (npm run client -- [options])
  statechat echo [options]     the echo server       (npm run echo -- [options])
  statechat migrate --from <data-dir> --to <redis-url>
                               copy a data dir into a new cluster's Redis (docs/cluster.md)

Run a subcommand with --help for its options.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return (await import('./server.js')).runServer(rest, 'chat');
    case 'echo':
      return (await import('./server.js')).runServer(rest, 'echo');
    case 'client':
      return (await import('./client.js')).runClient([...rest]);
    case 'migrate':
      return (await import('./migrate.js')).runMigrate(rest);
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
