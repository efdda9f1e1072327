/**
 * createServer: wires the whole actor system for the chat server or the echo server.
 *
 *   console actor ──console.*──► supervisor ──pause/resume/stop──► listener ──serve──► connection actors
 *                                 │  spawns, restarts, stops                         │   │
 *                                 ▼                                                  │   │ room.join
 *            history writer ◄── room actors (#lobby, #dev, …) ◄── room.post, leave ──┘   │ (routed by
 *               appended ──────►      │ one encoded line per member                       │  the supervisor)
 *                                     ▼
 *                               members' links
 *
 * The supervisor machine makes the control plane's decisions (console commands, the one
 * shutdown, which room actors run). Chat messages are data: a connection actor hands them to
 * its room's actor, which has the history writer store them and then delivers them — a
 * supervisor step per message cost a tenth of the CPU at full fan-out (bench/, scenario 1) and
 * decided nothing.
 *
 * Startup refuses to run on a data file it cannot read exactly (corrupt CSV, wrong or missing
 * key): those errors propagate to the CLI, which prints them and exits non-zero, files untouched.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Transport } from '../io/transport.js';
import type { ConnectionEvent } from '../machines/connection.js';
import type { Readable, Writable } from 'node:stream';
import { type Actor, type AnyActorRef, createActor } from 'xstate';
import type { Timers } from '../io/clock.js';
import { type ClusterConfig, dataFiles, type ServerConfig } from '../io/config.js';
import { type Keyring, loadKeyring } from '../io/crypto.js';
import { acquireDataDirLock } from '../io/data-dir-lock.js';
import type { OpenAppendHandle } from '../io/durable-file.js';
import { describeCause, KeyMissingError, StatechatError, UnreadableFileError } from '../io/errors.js';
import { RedisUnreachableError } from '../io/redis-connection.js';
import type { ClusterLinkNotice } from '../machines/cluster-link.js';
import type { ClusterLinkEvent } from '../machines/supervisor.js';
import { startClusterLink } from './cluster-link-actor.js';
import { type ClusterNode, connectCluster, openClusterNode } from './cluster-node.js';
import { openCsvHistoryStore } from '../io/history-store-csv.js';
import { scryptPool } from '../io/scrypt-pool.js';
import { LogFile } from '../io/log-file.js';
import type { HistoryStore, OfflineMessageStore, TopicStore, UserStore } from '../io/stores.js';
import { openCsvOfflineStore } from '../io/offline-store-csv.js';
import { openCsvTopicStore } from '../io/topic-store-csv.js';
import { loadTlsCredentials } from '../io/tls-files.js';
import { clientsFileHasRecords, openCsvUserStore } from '../io/user-store-csv.js';
import { MAX_HISTORY_REQUEST } from '../machines/commands.js';
import { formatPrivateLine, MAX_WAITING_MESSAGES } from '../machines/protocol.js';
import { MAX_ROOMS, type supervisorMachine } from '../machines/supervisor.js';
import { ClientLink, encodeLines } from './client-link.js';
import { startConnectionActor } from './connection-actor.js';
import { type ConnectionsRoot, createConnectionsRoot } from './connection-system.js';
import { startConsole } from './console-actor.js';
import { startEchoActor } from './echo-actor.js';
import { type Listener, startListener } from './listener-actor.js';
import { LoginThrottle } from './login-throttle.js';
import { Presence } from './presence.js';
import { RoomDirectory } from './room-actor.js';
import { ServerLog } from './server-log.js';
import { supervisorWithEffects } from './supervisor-actor.js';

export interface ServerIo {
  /** The operator's console; omitted → no console (tests drive `supervisor` directly). */
  stdin?: Readable;
  stdout: Writable;
  /** Hands every actor the server creates to the live inspector (src/inspector/) before it starts. */
  inspectActor?: (actor: AnyActorRef) => void;
  /** Test seam: how clients.csv and history.csv open their append handles (inject disk failures). */
  openAppendHandle?: OpenAppendHandle;
  /** Test seam: the clock of the login timeout, the rate limit and the login throttle. */
  timers?: Timers;
  /** Test seam: how long an empty room waits before its actor stops (default 10 minutes). */
  roomIdleMs?: number;
  /** Test seam: how many rooms may run at once (default MAX_ROOMS, src/machines/supervisor.ts). */
  maxRooms?: number;
  /** Test seam: called before a room stores a post; a throw there crashes that room's actor. */
  onRoomPost?: (room: string) => void;
}

export interface RunningServer {
  readonly port: number;
  readonly host: string;
  readonly supervisor: Actor<typeof supervisorMachine>;
  readonly listener: Listener;
  /** Live connections (any state), by connection id. */
  readonly connections: ReadonlyMap<string, { link: ClientLink; actor: Actor<any> }>;
  /** The parent of every connection actor: the actor system they share. */
  readonly connectionsRoot: ConnectionsRoot;
  /**
   * Resolves when the shutdown has finished (console `shutdown`, a signal, or `shutdown()`);
   * `clean` is false when something could not be flushed or closed (the CLI then exits 1).
   */
  readonly stopped: Promise<{ clean: boolean }>;
  shutdown(): Promise<{ clean: boolean }>;
}

interface ChatStores {
  keyring: Keyring;
  /** A cluster node's place in the cluster (`--cluster`), whose stores these are; undefined on the CSV files. */
  cluster?: ClusterNode;
  /** Where the stores report a problem found while running (a damaged entry…): the log once it is open. */
  report: (line: string) => void;
  users: UserStore;
  history: HistoryStore;
  topics: TopicStore;
  offline: OfflineMessageStore;
  /** What opening the stores did (crash recovery, a migration), for the log (which opens after them). */
  recovered: string[];
  /** Set when a too-open key file was used anyway (--allow-insecure-key), for the log. */
  insecureKeyNote: string | undefined;
}

/** How long shutdown waits for clients to read their goodbye before cutting them off. */
const SHUTDOWN_GRACE_MS = 2000;
/** An empty room's actor stops after this long (its history stays; the next join starts it again). */
const ROOM_IDLE_MS = 10 * 60_000;

export async function createServer(config: ServerConfig, io: ServerIo): Promise<RunningServer> {
  const files = dataFiles(config.dataDir);
  // Before any data file is touched: a bad certificate must not leave a new data dir behind.
  const tlsCredentials = config.tls ? await loadTlsCredentials(config.tls, config.allowInsecureKey) : undefined;
  const fresh = await isFreshDataDir(config.dataDir);
  if (fresh && config.noCreate) {
    throw new StatechatError(
      'STATECHAT_ERR_NO_DATA_DIR',
      `no data dir at ${path.resolve(config.dataDir)} (it does not exist or is empty), and --no-create was given: check --data-dir`,
    );
  }
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  // Before anything in the dir is read: a second server on it stops here, having changed nothing.
  const lock = await acquireDataDirLock(config.dataDir);
  let stores: ChatStores | undefined;
  let logFile: LogFile;
  let tightened: string | undefined;
  try {
    tightened = await keepDataDirPrivate(config.dataDir);
    stores = config.mode === 'chat' ? await openChatStores(config, io.openAppendHandle) : undefined;
    logFile = await LogFile.open(files.log);
  } catch (err) {
    if (stores) await closeStores(stores);
    await lock.release();
    throw err;
  }
  const log = new ServerLog(
    logFile,
    io.stdout,
    // Logs never hold a plaintext login: a keyed hash identifies the user across lines.
    stores ? (login) => `user#${stores.keyring.loginKey(login).slice(0, 10)}` : undefined,
  );
  if (lock.tookOverFrom) {
    const { pid, since } = lock.tookOverFrom;
    log.info(`data dir: took over ${lock.file} from ${pid ? `pid ${pid} (since ${since})` : 'an unreadable lock'}, which is no longer running`);
  }
  if (fresh) {
    // One line, so that a typo in --data-dir is seen at once (--no-create refuses instead).
    const key = config.mode !== 'chat' ? '' : config.envKey !== undefined ? ' (the key comes from STATECHAT_KEY)' : ' with a new key';
    log.info(`data dir: created a new data dir at ${path.resolve(config.dataDir)}${key}`);
  }
  if (tightened) log.info(tightened);
  if (stores?.insecureKeyNote) log.info(stores.insecureKeyNote);
  for (const note of stores?.recovered ?? []) log.info(note);
  if (stores) stores.report = (line) => log.info(line);
  const cluster = stores?.cluster;
  if (cluster) log.info(`cluster: node ${cluster.nodeId} joined the cluster at ${cluster.where}`);

  const presence = new Presence(cluster?.presence, (err) => log.info(`error: a sign-out could not be told to the cluster (the claim lapses with this node's lease): ${describeCause(err)}`));
  const rooms = stores
    ? new RoomDirectory({
        history: stores.history,
        topics: stores.topics,
        writer: () => supervisor.system.get('historyWriter'),
        // Enough for the longest replay and the longest /history.
        keep: Math.max(config.historyReplay, MAX_HISTORY_REQUEST),
        log,
        onRoomEvent: io.onRoomPost && ((room) => io.onRoomPost!(room)),
        order: cluster && ((sink, room) => cluster.order(sink, room)),
        members: cluster?.members,
      })
    : undefined;
  const throttle = new LoginThrottle({
    freeFailures: config.maxPasswordAttempts,
    baseDelayMs: config.loginDelayBaseMs,
    maxDelayMs: config.loginDelayMaxMs,
    forgetAfterMs: 15 * 60_000,
    maxTracked: 100_000,
  }, io.timers);
  const connections = new Map<string, { link: ClientLink; actor: Actor<any> }>();
  const connectionsRoot = createConnectionsRoot();
  io.inspectActor?.(connectionsRoot);
  connectionsRoot.start();
  let allClosed: (() => void) | undefined;
  const onEnded = (connectionId: string) => {
    connections.delete(connectionId);
    if (connections.size === 0) allClosed?.();
  };

  // One of each per server, not per connection: every connection keeps them for its whole life.
  const onSlowConsumer = (slow: ClientLink, unreadBytes: number) => {
    // A chat connection's machine decides (client.slowConsumer); an echo one just ends.
    const handle = chatDeps && connections.get(slow.connectionId);
    if (handle && handle.actor.getSnapshot().status === 'active') {
      const slowConsumer: ConnectionEvent = { type: 'client.slowConsumer', unreadBytes };
      return handle.actor.send(slowConsumer);
    }
    log.info(`slow consumer conn=${slow.connectionId}: more than ${config.maxSendBufferBytes} bytes unread, disconnected`);
    slow.destroy();
  };
  const chatDeps = stores && {
    config,
    users: stores.users,
    offline: stores.offline,
    presence,
    rooms: rooms!,
    supervisor: () => supervisor,
    writer: () => supervisor.system.get('historyWriter'),
    throttle,
    log,
    root: connectionsRoot,
    onEnded,
    inspectActor: io.inspectActor,
    timers: io.timers,
    // The link's own state says it (unavailable, or lapsed and taking a new epoch: no sign-in, no post).
    storeAvailable: cluster && (() => link?.getSnapshot().matches('available') !== false),
    remote: cluster,
  };
  if (cluster) {
    // What another node sends to a user of this one: a /msg delivered (or left, if they have gone meanwhile), a kick.
    cluster.readInbox((entry) => {
      const user = presence.find(entry.to);
      if (entry.kind === 'kick') {
        if (user) user.session.send({ type: 'server.kick' } satisfies ConnectionEvent);
        return;
      }
      const { message } = entry;
      if (user) return user.link.deliver(encodeLines([formatPrivateLine(message.at, message.from, message.text)]));
      stores!.offline.leave(entry.to, message).then(
        (left) => left === 'full' && log.info('error: a private message for a user gone meanwhile was dropped: as many as may wait for them already do'),
        (err: unknown) => log.info(`error: a private message for a user gone meanwhile could not be left: ${describeCause(err)}`),
      );
    });
  }
  const echoDeps = { maxLineBytes: config.maxLineBytes, log, root: connectionsRoot, onEnded, inspectActor: io.inspectActor };

  const serve = (socket: Transport, connectionId: string) => {
    const link = new ClientLink(connectionId, socket, socket.remoteAddress ?? 'unknown', config.maxSendBufferBytes, onSlowConsumer);
    const handle = chatDeps ? startConnectionActor(link, chatDeps) : startEchoActor(link, echoDeps);
    if (handle.actor.getSnapshot().status === 'active') connections.set(connectionId, handle);
  };

  let cleanShutdown = true;
  const shutDown = async () => {
    listener.stop();
    link?.send({ type: 'link.stop' });
    const closing = new Promise<void>((resolve) => {
      allClosed = resolve;
      if (connections.size === 0) resolve();
    });
    for (const { actor } of connections.values()) actor.send({ type: 'server.shutdown' });
    await Promise.race([closing, delay(SHUTDOWN_GRACE_MS)]);
    for (const { link } of connections.values()) link.destroy();
    connectionsRoot.stop();
    await listener.closed;
    // A store that fails to close (the last history flush hit a full disk…) must not leave the
    // other store, the console and the log open: close everything, then fail the shutdown.
    let failure: { cause: unknown } | undefined;
    if (stores) {
      for (const result of await closeStores(stores)) {
        if (result.status === 'rejected') failure ??= { cause: result.reason };
      }
    }
    if (failure) log.info(`error: closing the data files failed: ${describeCause(failure.cause)}`);
    log.info('server stopped');
    stopConsole?.();
    await log.close();
    await lock.release();
    if (failure) throw failure.cause;
  };

  const supervisor: Actor<typeof supervisorMachine> = createActor(
    supervisorWithEffects({
      config,
      log,
      chat: stores && { users: stores.users, offline: stores.offline, history: stores.history, presence, rooms: rooms!, remote: cluster },
      listener: () => listener,
      connectionCount: () => connections.size,
      signOutEveryone: () => {
        for (const { actor } of connections.values()) actor.send({ type: 'server.signOut' } satisfies ConnectionEvent);
      },
      // Only while the lock is still ours: never clear files another server now holds.
      verifyLock: () => lock.verify(),
      shutDown: () =>
        shutDown().catch((err: unknown) => {
          cleanShutdown = false;
          throw err;
        }),
    }),
    { id: 'supervisor', input: { mode: config.mode, roomIdleMs: io.roomIdleMs ?? ROOM_IDLE_MS, maxRooms: io.maxRooms ?? MAX_ROOMS } },
  );

  let resolveStopped!: (result: { clean: boolean }) => void;
  const stopped = new Promise<{ clean: boolean }>((resolve) => (resolveStopped = resolve));
  supervisor.subscribe({
    complete: () => resolveStopped({ clean: cleanShutdown }),
    error: (err) => {
      log.info(`error: supervisor failed: ${describeCause(err)}`);
      resolveStopped({ clean: false });
    },
  });

  // Before the listener: the first connection's join goes to it, and #lobby must be there.
  io.inspectActor?.(supervisor);
  supervisor.start();
  // A cluster node's lease, renewed every second: the supervisor hears when Redis goes and comes back.
  const link = cluster
    ? startClusterLink({
        presence: cluster.presence,
        inspectActor: io.inspectActor,
        onNotice: (notice) => supervisor.send(linkEvent(notice)),
      })
    : undefined;

  let listener: Listener;
  try {
    listener = await startListener({
      host: config.host,
      port: config.port,
      maxWaiting: config.maxWaiting,
      log,
      serve,
      inspectActor: io.inspectActor,
      // A TLS handshake that drags on is bounded like a sign-in that does.
      tls: tlsCredentials && { ...tlsCredentials, handshakeTimeoutMs: config.loginTimeoutMs },
    });
  } catch (err) {
    link?.stop();
    supervisor.stop();
    connectionsRoot.stop();
    if (stores) await closeStores(stores);
    await log.close();
    await lock.release();
    throw err;
  }
  // Console commands are logged (never chat text or passwords: the console has neither).
  const stopConsole = io.stdin
    ? startConsole(
        io.stdin,
        (event) => {
          log.info(`console: ${event.type.slice('console.'.length)}`);
          supervisor.send(event);
        },
        () => log.info('console input ended; the server keeps running (send SIGTERM or SIGINT to stop it)'),
      )
    : undefined;

  log.flushConsole(); // start-up lines out before whatever the caller prints next
  return {
    get port() {
      return listener.port;
    },
    host: config.host,
    supervisor,
    listener,
    connections,
    connectionsRoot,
    stopped,
    shutdown() {
      if (supervisor.getSnapshot().matches('running')) supervisor.send({ type: 'console.shutdown' });
      return stopped;
    },
  };
}

/** What the supervisor hears of the link's notices (`rejoined` is available again: a new lease). */
function linkEvent(notice: ClusterLinkNotice): ClusterLinkEvent {
  switch (notice.kind) {
    case 'unavailable':
      return { type: 'cluster.unavailable', cause: describeCause(notice.cause) };
    case 'lapsed':
      return { type: 'cluster.lapsed', why: notice.why };
    case 'available':
    case 'rejoined':
      return { type: 'cluster.available' };
  }
}

async function openChatStores(config: ServerConfig, openAppendHandle?: OpenAppendHandle): Promise<ChatStores> {
  if (config.cluster) return openClusterStores(config, config.cluster);
  const files = dataFiles(config.dataDir);
  // A new key may only be made when there is nothing encrypted under an old one.
  const mayCreate = !(await clientsFileHasRecords(files.clients));
  const { keyring, insecureMode } = await loadKeyring({
    dataDir: config.dataDir,
    envKey: config.envKey,
    mayCreate,
    allowInsecureKey: config.allowInsecureKey,
  });
  const insecureKeyNote = insecureKeyNoteOf(insecureMode);
  const recovered: string[] = [];
  const onRecovered = (file: string, what: string) => (bytes: number) =>
    recovered.push(`recovered ${file}: cut off ${bytes} bytes of ${what} interrupted by a crash (never acknowledged)`);
  scryptPool.warmUp(); // the hashing threads boot while the files are read
  const users = await openCsvUserStore({
    file: files.clients,
    keyring,
    scrypt: config.scrypt,
    openAppendHandle,
    onRecovered: onRecovered(files.clients, 'a registration'),
    onMigrated: (rows) => recovered.push(`migrated ${files.clients}: added the skeleton_key column to ${rows} records`),
  });
  let history: HistoryStore | undefined;
  let topics: TopicStore | undefined;
  try {
    history = await openCsvHistoryStore({
      file: files.history,
      // Per room: the longest replay or /history is all that is ever read back.
      keep: Math.max(config.historyReplay, MAX_HISTORY_REQUEST),
      openAppendHandle,
      onRecovered: onRecovered(files.history, 'a batch of messages'),
      onMigrated: (rows) => recovered.push(`migrated ${files.history} to the room format (timestamp,room,login,text): ${rows} rows, each in #lobby`),
    });
    topics = await openCsvTopicStore({ file: files.topics });
    const offline = await openCsvOfflineStore({
      file: files.offline,
      keyring,
      maxPerUser: MAX_WAITING_MESSAGES,
      openAppendHandle,
      onRecovered: onRecovered(files.offline, 'a private message left'),
    });
    return { keyring, users, history, topics, offline, recovered, insecureKeyNote, report: (line) => recovered.push(line) };
  } catch (err) {
    await topics?.close();
    await history?.close();
    await users.close();
    throw err;
  }
}

/**
 * A cluster node's stores: on the cluster's Redis (cluster-node.ts); the data dir keeps only the
 * key (unless STATECHAT_KEY), the log and the lock. A key is made only for a Redis no node has
 * used: a node without the cluster's key is refused, as one with another key is.
 */
async function openClusterStores(config: ServerConfig, clusterConfig: ClusterConfig): Promise<ChatStores> {
  const connections = await connectCluster(clusterConfig);
  try {
    const used = await connections.hasKeyCheck().catch((err: unknown) => {
      throw new RedisUnreachableError(clusterConfig.url, err);
    });
    const { keyring, insecureMode } = await loadKeyring({
      dataDir: config.dataDir,
      envKey: config.envKey,
      mayCreate: !used,
      allowInsecureKey: config.allowInsecureKey,
    }).catch((err: unknown) => {
      if (!(err instanceof KeyMissingError)) throw err;
      throw new KeyMissingError(
        `the cluster at ${connections.where} has a key already, and this node has none: start it with the other nodes' STATECHAT_KEY, or copy their statechat.key into ${path.resolve(config.dataDir)} (mode 0600)`,
      );
    });
    scryptPool.warmUp();
    const recovered: string[] = [];
    // Until the log is open (createServer sets `report` then), problems wait with the start-up notes.
    let report = (line: string) => recovered.push(line);
    const node = await openClusterNode(connections, {
      keyring,
      scrypt: config.scrypt,
      keep: Math.max(config.historyReplay, MAX_HISTORY_REQUEST),
      maxWaitingPerUser: MAX_WAITING_MESSAGES,
      report: (line) => report(line),
    });
    if (node.persistenceWarning) recovered.push(node.persistenceWarning);
    const { users, history, topics, offline } = node;
    return {
      keyring,
      cluster: node,
      users,
      history,
      topics,
      offline,
      recovered,
      insecureKeyNote: insecureKeyNoteOf(insecureMode),
      get report() {
        return report;
      },
      set report(to) {
        report = to;
      },
    };
  } catch (err) {
    connections.close();
    throw err;
  }
}

function insecureKeyNoteOf(insecureMode: number | undefined): string | undefined {
  return insecureMode === undefined
    ? undefined
    : `warning: the key file has mode ${(insecureMode & 0o777).toString(8).padStart(4, '0')} (readable by group or others); used because of --allow-insecure-key`;
}

/** Closes every store, even when one fails; the outcomes say which did. */
function closeStores(stores: ChatStores): Promise<PromiseSettledResult<void>[]> {
  if (stores.cluster) return Promise.allSettled([stores.cluster.close()]);
  return Promise.allSettled([stores.history.close(), stores.users.close(), stores.topics.close(), stores.offline.close()]);
}

/**
 * The data dir is created 0700; one that exists with group or other access (a fresh clone's
 * `data/`) is tightened to 0700 — it holds only this server's files. Returns a line for the log.
 */
/** A data dir that does not exist yet, or holds nothing: starting there makes a new one. */
async function isFreshDataDir(dataDir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dataDir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw new UnreadableFileError(dataDir, err);
  }
}

async function keepDataDirPrivate(dataDir: string): Promise<string | undefined> {
  const { mode, uid } = await fs.stat(dataDir);
  if ((mode & 0o077) === 0 || uid !== process.getuid?.()) return undefined;
  await fs.chmod(dataDir, 0o700);
  return `data dir: tightened ${path.resolve(dataDir)} from mode ${(mode & 0o777).toString(8).padStart(4, '0')} to 0700`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

