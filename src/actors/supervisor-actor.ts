/**
 * The supervisor actor: the supervisor machine (src/machines/supervisor.ts) with its effects —
 * the console's answers, the listener's pause and resume, the files it clears, and the actors
 * it supervises: the history writer and the rooms (whose effects are in room-actor.ts).
 */
import { fromPromise } from 'xstate';
import type { ServerConfig } from '../io/config.js';
import { describeCause } from '../io/errors.js';
import type { HistoryStore, OfflineMessageStore, UserStore } from '../io/stores.js';
import { CONSOLE_HELP } from '../machines/console-command.js';
import { LOBBY } from '../machines/protocol.js';
import type { RoomEvent } from '../machines/room.js';
import { supervisorMachine } from '../machines/supervisor.js';
import { afterThisStep } from './after-this-step.js';
import { clusterRooms, type RemoteUsers, roomLines } from './connection-actor.js';
import { historyWriter } from './history-writer.js';
import type { Listener } from './listener-actor.js';
import type { Presence } from './presence.js';
import type { RoomDirectory } from './room-actor.js';
import type { ServerLog } from './server-log.js';
import { encodeLines } from './client-link.js';

export interface SupervisorDeps {
  config: ServerConfig;
  log: ServerLog;
  /** Chat mode only. */
  chat: { users: UserStore; offline: OfflineMessageStore; history: HistoryStore; presence: Presence; rooms: RoomDirectory; remote?: RemoteUsers | undefined } | undefined;
  listener(): Listener;
  connectionCount(): number;
  /** Every connection is told to sign out (a cluster node whose lease lapsed). */
  signOutEveryone?(): void;
  /** Resolves once the data dir is still this server's (never clear files another server holds). */
  verifyLock(): Promise<void>;
  shutDown(): Promise<void>;
}

export function supervisorWithEffects(deps: SupervisorDeps): typeof supervisorMachine {
  const { config, log, chat } = deps;
  /** A cluster node's console: a user signed in on another node is kicked through that node's inbox. */
  const kickElsewhere = (remote: RemoteUsers, login: string) => {
    remote
      .nodeOf(login)
      .then(async (node) => {
        if (node === undefined || node === remote.nodeId) return log.reply([`No user named ${login} is online.`]);
        await remote.sendTo(node, { kind: 'kick', to: login });
        log.reply([`Kicked ${login} (signed in on node ${node}).`]);
        log.info(`console: kicked ${log.pseudonym(login)} on node ${node}`);
      })
      .catch((err: unknown) => log.reply([`Could not kick ${login}: the cluster's store did not answer (${describeCause(err)}).`]));
  };
  const helpRows = CONSOLE_HELP.filter((c) => chat || !c.chat);
  const helpWidth = Math.max(...helpRows.map((c) => c.usage.length)) + 2;
  return supervisorMachine.provide({
    actors: {
      clearLogFile: fromPromise(() => deps.verifyLock().then(() => log.clearFile())),
      // No registration left, so no message may wait for one.
      clearClientsFile: fromPromise(() => deps.verifyLock().then(async () => {
          await Promise.all([chat!.users.clear(), chat!.offline.clear()]);
        })),
      shutDown: fromPromise(() => deps.shutDown()),
      ...(chat && {
        room: chat.rooms.machine(),
        historyWriter: historyWriter({
          history: chat.history,
          rooms: chat.rooms,
          log,
          deliverTo: (login, line) => chat.presence.find(login)?.link.deliver(encodeLines([line])),
        }),
      }),
    },
    actions: {
      reply: (_, { lines }) => log.reply(lines),
      showHelp: () => log.reply(['Console commands:', ...helpRows.map((c) => `  ${c.usage.padEnd(helpWidth)}${c.what}`)]),
      showStatus: () => {
        const listener = deps.listener();
        const listening = listener.actor.getSnapshot().value;
        const lines = [
          `listener: ${listening} on ${config.host}:${listener.port}${listening === 'paused' ? ` (${listener.waiting} waiting)` : ''}`,
          `connections: ${deps.connectionCount()}`,
        ];
        if (chat) lines.push(`users online${chat.remote ? ' on this node' : ''}: ${chat.presence.size}`, `rooms${chat.remote ? ' running on this node' : ''}: ${chat.rooms.all().length}`, `registered users: ${chat.users.count()}`);
        lines.push(`log display: ${log.isShown ? 'on' : 'off'}`);
        log.reply(lines);
      },
      showWho: () => {
        const { presence } = chat!;
        const show = (logins: string[]) => log.reply([logins.length === 0 ? 'Nobody is online.' : `Online (${logins.length}): ${logins.join(', ')}`]);
        if (!presence.isShared) return show(presence.logins());
        presence.everyone().then(show, (err: unknown) => log.reply([`Who is online is unknown: the cluster's store did not answer (${describeCause(err)}).`]));
      },
      showRooms: () => {
        const { remote, rooms } = chat!;
        const show = (all: readonly { name: string; size: number; topic: { text: string } | undefined }[]) => log.reply([`Rooms (${all.length}):`, ...roomLines(all)]);
        if (!remote) return show(rooms.all());
        clusterRooms(remote, rooms).then(show, (err: unknown) => log.reply([`The rooms are unknown: the cluster's store did not answer (${describeCause(err)}).`]));
      },
      kick: (_, { login }) => {
        const user = chat!.presence.find(login);
        if (!user && chat!.remote) return kickElsewhere(chat!.remote, login);
        if (!user) return log.reply([`No user named ${login} is online.`]);
        afterThisStep(() => user.session.send({ type: 'server.kick' }));
        log.reply([`Kicked ${user.login}.`]);
        log.info(`console: kicked ${log.pseudonym(user.login)}`);
      },
      say: (_, { room = LOBBY, text: body }) => {
        const state = chat!.rooms.get(room);
        if (!state?.ref) return log.reply([`There is no room ${room}.`]);
        const ref = state.ref;
        afterThisStep(() => ref.send({ type: 'room.announce', text: body } satisfies RoomEvent));
        const recipients = state.size;
        log.reply([`Sent to ${recipients} ${recipients === 1 ? 'user' : 'users'}${room === LOBBY ? '' : ` in ${room}`}.`]);
      },
      signOutEveryone: () => afterThisStep(() => deps.signOutEveryone?.()),
      note: (_, { line }) => log.info(line),
      pauseListener: () => afterThisStep(() => deps.listener().actor.send({ type: 'listener.pause' })),
      resumeListener: () => afterThisStep(() => deps.listener().actor.send({ type: 'listener.resume' })),
      holdListener: () => afterThisStep(() => deps.listener().actor.send({ type: 'listener.hold' })),
      releaseListener: () => afterThisStep(() => deps.listener().actor.send({ type: 'listener.unhold' })),
      setLogDisplay: (_, { shown }) => log.setShown(shown),
      clearScreen: () => log.clearScreen(),
      reportFailure: ({ event }, { what }) => log.info(`error: ${what} failed: ${describeCause((event as { error?: unknown }).error)}`),
      reportRoomFailure: ({ event }, { room }) =>
        log.info(`error: room ${room} failed and was restarted: ${describeCause((event as { error?: unknown }).error)}`),
      forgetRoom: (_, { room }) => {
        chat?.rooms.forget(room);
        log.info(`room ${room} stopped`);
      },
    },
  });
}
