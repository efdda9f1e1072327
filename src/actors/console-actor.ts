/**
 * The console actor: reads the operator's commands from stdin, one per line, and sends them
 * to the supervisor as `console.*` events. When stdin is not a terminal and reaches its end
 * (a service manager, `< /dev/null`), the server keeps running: SIGTERM stops it.
 */
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { type ConsoleEvent, parseConsoleLine } from '../machines/console-command.js';

export function startConsole(input: Readable, send: (event: ConsoleEvent) => void, onEnd: () => void): () => void {
  const rl = readline.createInterface({ input, terminal: false, crlfDelay: Infinity });
  rl.on('line', (line) => {
    const event = parseConsoleLine(line);
    if (event) send(event);
  });
  rl.on('close', onEnd);
  return () => {
    rl.removeListener('close', onEnd);
    rl.close();
  };
}
