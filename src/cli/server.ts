/**
 * `statechat server` and `statechat echo`: parse flags, start the actor system, print where it
 * listens, and exit 0 after a clean shutdown (console `shutdown`, SIGINT, SIGTERM) — or print a
 * clear error and exit non-zero when it cannot start (port in use, corrupt data file, bad key).
 */
import { setFlagsFromString } from 'node:v8';
import { ECHO_USAGE, parseServerArgs, SERVER_USAGE } from '../io/config.js';
import { StatechatError } from '../io/errors.js';
import { createServer, type RunningServer } from '../actors/server.js';
import type { RunningInspector } from '../inspector/start-inspector.js';

/**
 * A sign-in leaves garbage that lives as long as the sign-in does (its snapshots, its services),
 * so in a burst it reaches the old space, interleaved with each connection's long-lived objects;
 * when it dies the pages stay part-empty. V8 compacts such pages only a few megabytes at a time:
 * after 10,000 sign-ins (bench/, scenario 3) 2.3–2.7 KB per connection of old space was committed
 * but empty. Compacting at every full GC: RSS per connection 11.5–11.9 KB → 9.1–9.2 KB, chat
 * fan-out and latency (scenarios 1, 2) unchanged within their spread. The price is longer
 * full-GC pauses with a big heap, since what is live is moved: at 10,000 clients (`--trace-gc`,
 * one round each) the full GCs during the sign-in burst paused 13–123 ms instead of 2–9 ms, and
 * forced ones after it 74–90 ms instead of 42–63 ms. A room that only chats rarely needs one:
 * the same 10,000 chatting at 20 messages/s for 60 s took 253 scavenges and no full GC.
 * Pretenuring off (V8 otherwise allocates a site's objects straight in the old space once most
 * of them survive a scavenge, as in a burst): the RSS is the same with or without it now, but
 * 10,000 sign-ins took 4.7 s with it off, 5.1 s with it on (2 rounds each).
 * `--optimize-for-size` was tried: 5.9 KB, but fan-out at 1,000 clients fell to 0.8×.
 * Set before the server allocates anything.
 */
function tuneGarbageCollector(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
  setFlagsFromString('--compact-on-every-full-gc');
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
  // Loaded only with --inspect: the inspector's HTTP and WebSocket modules cost a plain start-up time.
  const inspection = config.inspector ? await import('../inspector/start-inspector.js') : undefined;
  const hub = inspection && config.inspector ? inspection.createInspectionHub(config.inspector) : undefined;
  // A console that goes away (stdout piped into `head`, a closed terminal) must not take the
  // server down with an unhandled EPIPE: the log file keeps every line.
  process.stdout.on('error', () => {});

  // Handled from the start: the listener logs "listening on …" while the server is being made,
  // and a SIGTERM sent on seeing it must still shut down cleanly (exit 0), not kill.
  let server: RunningServer | undefined;
  let signalled: 'SIGINT' | 'SIGTERM' | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!server) {
        signalled ??= signal; // acted on once the server exists
      } else if (server.supervisor.getSnapshot().matches('running')) {
        server.supervisor.send({ type: 'process.signal', signal });
      } else {
        process.exit(1); // a second signal during shutdown: give up waiting
      }
    });
  }
  try {
    server = await createServer(config, { stdin: process.stdin, stdout: process.stdout, inspectActor: hub?.inspectActor });
  } catch (err) {
    const message = err instanceof StatechatError ? `${err.message} [${err.code}]` : (err as Error).stack ?? String(err);
    process.stderr.write(`statechat: cannot start: ${message}\n`);
    return 1;
  }
  let inspector: RunningInspector | undefined;
  if (inspection && hub && config.inspector) {
    try {
      inspector = await inspection.startInspector(config.inspector, hub, server, (line) => process.stdout.write(`${line}\n`));
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
  if (signalled) server.supervisor.send({ type: 'process.signal', signal: signalled });
  const { clean } = await server.stopped;
  await inspector?.close();
  // stdin may still hold the event loop open; everything that matters is closed and flushed.
  process.exit(clean ? 0 : 1);
}
