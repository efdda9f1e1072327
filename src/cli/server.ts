/**
 * `statechat server` and `statechat echo`: parse flags, start the actor system, print where it
 * listens, and exit 0 after a clean shutdown (console `shutdown`, SIGINT, SIGTERM) — or print a
 * clear error and exit non-zero when it cannot start (port in use, corrupt data file, bad key).
 */
import { setFlagsFromString } from 'node:v8';
import { ECHO_USAGE, parseServerArgs, SERVER_USAGE } from '../io/config.js';
import { StatechatError } from '../io/errors.js';
import { createServer } from '../actors/server.js';
import { createInspectionHub, type RunningInspector, startInspector } from '../inspector/start-inspector.js';

/**
 * V8 "pretenures" an allocation site once most of its objects survive a scavenge: from then on
 * they are born in the old space. In a burst of sign-ins most young objects are alive, so sites
 * get pretenured whose objects, later, mostly die soon after — in the old space, where they leave
 * pages part-empty (which sites, V8 does not say; the effect is what was measured). At 10,000
 * clients (bench/, scenario 3): RSS per connection 13.5–17.3 KB with it, 12.7–13.9 KB without,
 * and less spread between runs; chat fan-out unchanged. Set before the server allocates anything.
 */
function tuneGarbageCollector(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}

export async function runServer(argv: readonly string[], mode: 'chat' | 'echo'): Promise<number> {
  tuneGarbageCollector();
  let parsed;
  try {
    parsed = parseServerArgs(argv, mode);
  } catch (err) {
    process.stderr.write(`statechat: ${(err as Error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(mode === 'chat' ? SERVER_USAGE : ECHO_USAGE);
    return 0;
  }
  const { config } = parsed;

  // The inspection hub exists before the actors do: each is handed to it as it is created.
  const hub = config.inspector ? createInspectionHub(config.inspector) : undefined;
  // A console that goes away (stdout piped into `head`, a closed terminal) must not take the
  // server down with an unhandled EPIPE: the log file keeps every line.
  process.stdout.on('error', () => {});

  let server;
  try {
    server = await createServer(config, { stdin: process.stdin, stdout: process.stdout, inspectActor: hub?.inspectActor });
  } catch (err) {
    const message = err instanceof StatechatError ? `${err.message} [${err.code}]` : (err as Error).stack ?? String(err);
    process.stderr.write(`statechat: cannot start: ${message}\n`);
    return 1;
  }
  let inspector: RunningInspector | undefined;
  if (hub && config.inspector) {
    try {
      inspector = await startInspector(config.inspector, hub, server, (line) => process.stdout.write(`${line}\n`));
    } catch (err) {
      const message = err instanceof StatechatError ? `${err.message} [${err.code}]` : (err as Error).stack ?? String(err);
      process.stderr.write(`statechat: cannot start: ${message}\n`);
      await server.shutdown();
      process.exit(1);
    }
  }

  const what = mode === 'chat' ? 'chat server' : 'echo server';
  process.stdout.write(
    `statechat ${what} listening on ${config.host}:${server.port}${config.tls ? ' with TLS' : ''} (data in ${config.dataDir}). Type "help" for console commands.\n`,
  );
  if (inspector) process.stdout.write(`${inspector.description}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (server.supervisor.getSnapshot().matches('running')) {
        server.supervisor.send({ type: 'process.signal', signal });
      } else {
        process.exit(1); // a second signal during shutdown: give up waiting
      }
    });
  }
  const { clean } = await server.stopped;
  await inspector?.close();
  // stdin may still hold the event loop open; everything that matters is closed and flushed.
  process.exit(clean ? 0 : 1);
}
