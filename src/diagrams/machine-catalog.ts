/**
 * The machines statechat draws: each with the sentence that introduces its diagram. The order is
 * the order of docs/machines.md. Pure (machines only), shared by `npm run diagrams` and the
 * inspector page.
 */
import type { AnyStateMachine } from 'xstate';
import { clientMachine } from '../machines/client.js';
import { clusterLinkMachine } from '../machines/cluster-link.js';
import { connectionMachine } from '../machines/connection.js';
import { echoMachine } from '../machines/echo.js';
import { listenerMachine } from '../machines/listener.js';
import { roomMachine } from '../machines/room.js';
import { supervisorMachine } from '../machines/supervisor.js';

export interface CatalogEntry {
  machine: AnyStateMachine;
  /** Where the machine is defined, for the reader who wants the code. */
  source: string;
  summary: string;
}

export const MACHINE_CATALOG: readonly CatalogEntry[] = [
  {
    machine: connectionMachine,
    source: 'src/machines/connection.ts (sign-in.ts, chat-session.ts)',
    summary:
      'One per accepted socket: login, registration and chat (rooms, commands). States tagged `secret` (the password prompts) are the ones whose input the inspector never shows.',
  },
  {
    machine: listenerMachine,
    source: 'src/machines/listener.ts',
    summary: 'Whether new connections are served (`accepting`), held (`paused`) or no longer taken (`stopped`).',
  },
  {
    machine: supervisorMachine,
    source: 'src/machines/supervisor.ts',
    summary: "The server's control plane: console commands, the room registry (spawn on first join, one-for-one restart, idle stop), the history writer, shutdown.",
  },
  {
    machine: roomMachine,
    source: 'src/machines/room.ts',
    summary: 'One per chat room: membership, posts (stored, then delivered), topic, and the idle stop of an empty room.',
  },
  {
    machine: clusterLinkMachine,
    source: 'src/machines/cluster-link.ts',
    summary:
      "A cluster node's link to Redis (not wired to a server yet, docs/cluster.md): its lease renewed every second; unavailable while Redis does not answer; when the lease is gone, its users signed out and a new epoch taken.",
  },
  {
    machine: echoMachine,
    source: 'src/machines/echo.ts',
    summary: 'The echo server: one per connection, every line comes back.',
  },
  {
    machine: clientMachine,
    source: 'src/machines/client.ts',
    summary: 'The terminal client: connect, wait for the server with backoff, chat, reconnect after a drop, close.',
  },
];
