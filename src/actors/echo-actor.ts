/**
 * The echo actor: one per socket in echo mode, running the echo machine over the same line
 * pump and client link as the chat server, a child of the server's connections root like a
 * chat connection (connection-system.ts).
 */
import { type Actor, type AnyActorRef, createActor } from 'xstate';
import { describeCause } from '../io/errors.js';
import { echoMachine } from '../machines/echo.js';
import type { ClientLink } from './client-link.js';
import { type ConnectionsRoot, PerActor } from './connection-system.js';
import { pumpLines } from './line-pump.js';
import type { ServerLog } from './server-log.js';

/** Each echo actor's socket, for the one provided machine they all run. */
const links = new PerActor<ClientLink>('socket');

let machineWithEffects: typeof echoMachine | undefined;

function echoWithEffects(): typeof echoMachine {
  return (machineWithEffects ??= echoMachine.provide({
    actions: {
      send: ({ self }, { lines }) => links.of(self).sendLines(lines),
      closeConnection: ({ self }) => links.of(self).close(),
    },
  }));
}

export function startEchoActor(
  link: ClientLink,
  deps: {
    maxLineBytes: number;
    log: ServerLog;
    root: ConnectionsRoot;
    onEnded(connectionId: string): void;
    inspectActor?: (actor: AnyActorRef) => void;
  },
): { link: ClientLink; actor: Actor<typeof echoMachine> } {
  let ended = false;
  const end = (how: string) => {
    if (ended) return;
    ended = true;
    deps.log.info(`disconnected conn=${link.connectionId} (${how})`);
    deps.onEnded(link.connectionId);
  };
  const actor = createActor(echoWithEffects(), { id: link.connectionId, parent: deps.root });
  links.set(actor, link);
  actor.subscribe({
    complete: () => end('closed'),
    error: (err) => {
      deps.log.info(`error conn=${link.connectionId}: echo actor failed: ${describeCause(err)}`);
      link.destroy();
      end('actor failed');
    },
  });
  link.socket.once('close', () => {
    if (actor.getSnapshot().status === 'active') actor.send({ type: 'client.closed' });
    end('socket closed');
  });
  deps.inspectActor?.(actor);
  actor.start();
  pumpLines(link, actor, deps.maxLineBytes);
  return { link, actor };
}
