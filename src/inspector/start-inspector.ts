/**
 * Wires the live inspector to a running server: the hub (created first, so that every actor is
 * handed to it as it is created) learns which actors are alive, and either our page server or the
 * forwarder to an external inspector subscribes to it. What `--inspect` / `--inspect-ws` start.
 */
import type { AnyActorRef } from 'xstate';
import type { RunningServer } from '../actors/server.js';
import type { InspectorConfig } from '../io/config.js';
import { InspectionHub } from './inspection-hub.js';
import { startForwarder } from './inspector-forwarder.js';
import { startInspectorServer } from './inspector-server.js';

export interface RunningInspector {
  /** One line for the operator: where to look. */
  readonly description: string;
  /** The page's address (`--inspect`), undefined when forwarding. */
  readonly url: string | undefined;
  close(): Promise<void>;
}

/** The hub whose `inspectActor` createServer gets (`io.inspectActor`), made before the server exists. */
export function createInspectionHub(config: InspectorConfig): InspectionHub {
  return new InspectionHub({ includeDefinitions: config.kind === 'forward', showContent: config.showContent });
}

export async function startInspector(
  config: InspectorConfig,
  hub: InspectionHub,
  server: Pick<RunningServer, 'supervisor' | 'listener' | 'connections' | 'connectionsRoot'>,
  log: (line: string) => void,
): Promise<RunningInspector> {
  hub.setLiveActors(() => [
    server.supervisor,
    // The room actors and the history writer: the supervisor's children.
    ...Object.values(server.supervisor.getSnapshot().children as Record<string, AnyActorRef>),
    server.listener.actor,
    server.connectionsRoot,
    ...[...server.connections.values()].map(({ actor }) => actor),
  ]);
  if (config.kind === 'forward') {
    const forwarder = startForwarder({ url: config.url, hub, log });
    return {
      description: `inspection stream sent to ${config.url}`,
      url: undefined,
      close: async () => {
        hub.flush(); // the last steps (the shutdown itself) still go out
        await forwarder.close();
        hub.close();
      },
    };
  }
  const page = await startInspectorServer({ host: config.host, port: config.port, hub, log });
  return {
    description: `inspector on ${page.url}`,
    url: page.url,
    close: async () => {
      hub.flush();
      await page.close();
      hub.close();
    },
  };
}
