/**
 * A server as a node of a cluster (`--cluster redis://…`, docs/cluster.md): what it opens on the
 * cluster's Redis in place of the CSV files — the user, history (the rooms' streams), topic and
 * offline stores, who is online, who is in which room — and what runs there for the node's whole
 * life: the tail that reads every room the node has a room actor for (one blocking XREAD on a
 * connection of its own) and hands each room's entries to that room's order (cluster-room-order.ts).
 *
 * The stores are the same contracts as the CSV ones (src/io/stores.ts); the server's wiring
 * (server.ts) differs only where a cluster must: a room's order is its stream, a login is claimed
 * cluster-wide, and the node's link (cluster-link-actor.ts) pauses it while Redis is away.
 */
import type { Redis } from 'ioredis';
import { describeCause } from '../io/errors.js';
import type { ClusterConfig } from '../io/config.js';
import type { Keyring } from '../io/crypto.js';
import { openRedisHistoryStore, type RoomLog } from '../io/history-store-redis.js';
import { openRedisOfflineStore } from '../io/offline-store-redis.js';
import { type InboxEntry, inboxStreamKey, NodeInboxes } from '../io/node-inbox-redis.js';
import { ClusterPresence } from '../io/presence-redis.js';
import { connectRedis, persistenceWarning, redisUrlForLog } from '../io/redis-connection.js';
import { ClusterRooms } from '../io/room-members-redis.js';
import { RoomTails } from '../io/room-tails-redis.js';
import type { OfflineMessageStore, TopicStore, UserStore } from '../io/stores.js';
import { openRedisTopicStore, readRedisTopic } from '../io/topic-store-redis.js';
import { openRedisUserStore } from '../io/user-store-redis.js';
import type { ScryptParams } from '../io/crypto.js';
import { ClusterRoomOrder } from './cluster-room-order.js';
import type { RoomEntrySink, RoomOrder } from './room-queue.js';

/** The node's two connections: commands, and the tail's blocking reads (a blocked connection can send nothing else). */
export interface ClusterConnections {
  readonly config: ClusterConfig;
  /** The URL without its password, as logs and errors name Redis. */
  readonly where: string;
  readonly redis: Redis;
  readonly reader: Redis;
  /** Whether a node has used this Redis already (its key check is there): then no new key may be made. */
  hasKeyCheck(): Promise<boolean>;
  close(): void;
}

export async function connectCluster(config: ClusterConfig): Promise<ClusterConnections> {
  const redis = await connectRedis(config.url);
  let reader: Redis;
  try {
    reader = await connectRedis(config.url);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return {
    config,
    where: redisUrlForLog(config.url),
    redis,
    reader,
    hasKeyCheck: async () => (await redis.exists(`${config.prefix}keycheck`)) === 1,
    close() {
      redis.disconnect();
      reader.disconnect();
    },
  };
}

export interface ClusterNodeOptions {
  keyring: Keyring;
  scrypt: ScryptParams;
  /** The most messages a room keeps for replays and /history. */
  keep: number;
  maxWaitingPerUser: number;
  /** A problem with an entry or a record (damage, a failed append): one line for the server's log. */
  report(line: string): void;
}

export interface ClusterNode {
  readonly where: string;
  readonly nodeId: string;
  readonly users: UserStore;
  readonly history: RoomLog;
  readonly topics: TopicStore;
  readonly offline: OfflineMessageStore;
  readonly presence: ClusterPresence;
  /** Who is in which room, across the cluster. */
  readonly members: ClusterRooms;
  /** What a Redis crash could lose of what was acknowledged, or undefined (`appendfsync always`). */
  readonly persistenceWarning: string | undefined;
  /** Sends to a user on another node (`nodeOf` says which): a /msg, a kick. */
  sendTo(nodeId: string, entry: InboxEntry): Promise<void>;
  /** The node a login is signed in on (this one's id too), or undefined when nobody holds it. */
  nodeOf(login: string): Promise<string | undefined>;
  /** A room's members on every node, and every room with members somewhere (for /names, /rooms). */
  namesIn(room: string): Promise<string[]>;
  allRooms(): Promise<{ name: string; size: number }[]>;
  /** Starts reading this node's inbox (once the server can find its users): each entry goes to `handler`, in order. */
  readInbox(handler: (entry: InboxEntry) => void): void;
  /** A room's order (RoomDeps.order): its stream, read by this node's tail. */
  order(sink: RoomEntrySink, room: string): RoomOrder;
  /** Stops the tail, gives up the lease (this node's users are free at once) and disconnects. */
  close(): Promise<void>;
}

/** Opens the node's stores and takes its place in the cluster (an epoch and a lease); refuses a key other nodes do not share. */
export async function openClusterNode(connections: ClusterConnections, opts: ClusterNodeOptions): Promise<ClusterNode> {
  const { config, where, redis, reader } = connections;
  const { prefix, nodeId } = config;
  const { keyring, report } = opts;
  const users = await openRedisUserStore({ redis, keyring, scrypt: opts.scrypt, prefix, where });
  const topics = await openRedisTopicStore({ redis, prefix, where, onDamaged: (room, reason) => report(`error: the topic of ${room} in Redis is left out: ${reason}`) });
  const history = openRedisHistoryStore({ redis, keep: opts.keep, retain: config.retain, prefix, where });
  const offline = openRedisOfflineStore({
    redis,
    keyring,
    maxPerUser: opts.maxWaitingPerUser,
    prefix,
    where,
    onDamaged: (reason) => report(`error: a waiting message in Redis is left out: ${reason}`),
  });
  const warning = await persistenceWarning(redis);
  const presence = await ClusterPresence.join({ redis, keyring, nodeId, prefix, where });
  const members = new ClusterRooms({ redis, keyring, presence, prefix, where });
  const orders = new Map<string, ClusterRoomOrder>();
  const inboxes = new NodeInboxes({ redis, keyring, prefix, where });
  const inboxFrom = await inboxes.readFrom(nodeId);
  let tailFailing = false;
  const tails = await RoomTails.start({
    reader,
    control: redis,
    prefix,
    where,
    onEntries: (room, entries) => {
      tailFailing = false;
      if (room !== INBOX) return orders.get(room)?.receive(entries);
      for (const { id, fields } of entries) {
        const entry = inboxes.read(fields);
        if (typeof entry === 'string') report(`error: entry ${id} of this node's inbox is left out: ${entry}`);
        else inboxHandler(entry);
      }
      const last = entries[entries.length - 1];
      if (last) inboxes.handled(nodeId, last.id).catch((err: unknown) => report(`error: where this node's inbox was read to could not be kept (a restart handles those entries again): ${describeCause(err)}`));
    },
    // Said once per outage: the tail retries by itself, and the link says when Redis is back.
    onError: (error) => {
      if (!tailFailing) report(`error: reading the rooms' streams failed, retrying: ${error.message}`);
      tailFailing = true;
    },
  });
  let inboxHandler: (entry: InboxEntry) => void = () => {};
  const node: ClusterNode = {
    where,
    nodeId,
    sendTo: (to, entry) => inboxes.send(to, entry),
    nodeOf: (login) => presence.nodeOf(login),
    namesIn: (room) => members.names(room),
    allRooms: () => members.rooms(),
    readInbox(handler) {
      inboxHandler = handler;
      // From where this node (by its id) last read: what came while it was away is handled now.
      tails.followStream(INBOX, inboxStreamKey(prefix, nodeId), inboxFrom);
    },
    users,
    history,
    topics,
    offline,
    presence,
    members,
    persistenceWarning: warning,
    order(sink, room) {
      const order = new ClusterRoomOrder(sink, {
        room,
        node: nodeId,
        log: history,
        follow: (afterId) => tails.follow(room, afterId),
        unfollow: () => {
          tails.unfollow(room);
          if (orders.get(room) === order) orders.delete(room);
        },
        report,
        members,
        topic: (name) => readRedisTopic({ redis, prefix, where }, name),
      });
      orders.set(room, order);
      return order;
    },
    async close() {
      await tails.stop();
      await presence.leave().catch(() => {});
      await Promise.allSettled([users.close(), history.close(), topics.close(), offline.close()]);
      connections.close();
    },
  };
  return node;
}

/** The name the tail gives this node's inbox (no room is named so: room names start with "#"). */
const INBOX = 'inbox';
