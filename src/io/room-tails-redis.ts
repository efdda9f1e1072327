/**
 * Reading the rooms' streams as they grow (the cluster's tail: docs/cluster.md). One node follows
 * every room it has members in with one blocking `XREAD` over all their streams, on a connection
 * of its own (a blocked connection can send nothing else). Each room is read from the entry after
 * the one it was last given, so every entry reaches the node once and in the stream's order.
 *
 * Following or leaving a room while the read is blocked interrupts it (`CLIENT UNBLOCK` from the
 * control connection), so a room followed now is read now, not after the block's timeout.
 */
import type { Redis } from 'ioredis';
import { StorageError } from './errors.js';
import { roomStreamKey } from './history-store-redis.js';

export interface StreamEntry {
  /** The entry's ID: its place in the room's order. */
  id: string;
  /** name, value, name, value… as Redis keeps them. */
  fields: string[];
}

export interface RoomTailsOptions {
  /** A connection for the blocking reads only. */
  reader: Redis;
  /** Any other connection of the node (to interrupt the reader). */
  control: Redis;
  prefix?: string;
  where: string;
  /** New entries of a room, in order; called once per batch. */
  onEntries(room: string, entries: StreamEntry[]): void;
  /** A read failed (Redis gone): the tails retry by themselves after `retryMs`. */
  onError?(error: StorageError): void;
  /** How long one read blocks at most (ms). Default 5 s. */
  blockMs?: number;
  retryMs?: number;
}

export class RoomTails {
  /** Room → the ID of the last entry given for it. */
  private readonly positions = new Map<string, string>();
  /** Room → its stream's key (a room's stream, or another stream followed by a name: `followStream`). */
  private readonly keys = new Map<string, string>();
  private readonly prefix: string;
  private readerId: number | undefined;
  private running = true;
  /** Set while no room is followed: a follow (or stop) resolves it. */
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;
  /** Counts the changes (follow, unfollow, stop): a read asked before the last one is stale. */
  private generation = 0;
  /** The generation the read under way was asked in; undefined while none is. */
  private readGeneration: number | undefined;

  private constructor(private readonly opts: RoomTailsOptions, readerId: number) {
    this.prefix = opts.prefix ?? 'statechat:';
    this.readerId = readerId;
    this.loop = this.run();
  }

  static async start(opts: RoomTailsOptions): Promise<RoomTails> {
    let id: number;
    try {
      id = Number(await opts.reader.client('ID'));
    } catch (err) {
      throw new StorageError(opts.where, err);
    }
    return new RoomTails(opts, id);
  }

  /** Reads `room` from the entry after `afterId` ("0-0": from its start; "$" is not allowed: give the ID). */
  follow(room: string, afterId: string): void {
    this.followStream(room, roomStreamKey(this.prefix, room), afterId);
  }

  /** Reads any stream (a node's inbox: node-inbox-redis.ts) as `name`, which its entries are given under. */
  followStream(name: string, key: string, afterId: string): void {
    this.positions.set(name, afterId);
    this.keys.set(name, key);
    this.interrupt();
  }

  unfollow(room: string): void {
    this.keys.delete(room);
    if (this.positions.delete(room)) this.interrupt();
  }

  /** Ends the reads; resolves once the last one has returned. */
  async stop(): Promise<void> {
    this.running = false;
    this.interrupt();
    await this.loop;
  }

  private interrupt(): void {
    this.generation++;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
    this.unblockStaleRead();
  }

  /**
   * Interrupts the read under way if it was asked before the last change. An UNBLOCK can reach
   * Redis before the XREAD it is meant for (they go on two connections): then it unblocked
   * nothing, and is sent again shortly, until that read has returned.
   */
  private unblockStaleRead(): void {
    if (this.readerId === undefined) return;
    void this.opts.control.client('UNBLOCK', this.readerId).then(
      (unblocked) => {
        if (unblocked === 0 && this.readGeneration !== undefined && this.readGeneration < this.generation) {
          setTimeout(() => this.unblockStaleRead(), 5).unref();
        }
      },
      () => undefined,
    );
  }

  private async run(): Promise<void> {
    const { reader, blockMs = 5_000, retryMs = 500 } = this.opts;
    while (this.running) {
      const rooms = [...this.positions.keys()];
      const asked = rooms.map((r) => this.positions.get(r)!);
      // Stream key → its room's index: a reply names streams by key (one lookup each, not a scan of every room).
      const indexOfKey = new Map(rooms.map((r, i) => [this.keys.get(r)!, i]));
      if (rooms.length === 0) {
        // Nothing to read: wait for a follow (or stop) without a busy loop.
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      let reply: [string, [string, string[]][]][] | null;
      this.readGeneration = this.generation;
      try {
        reply = (await reader.xread(
          'COUNT',
          1000,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...indexOfKey.keys(),
          ...asked,
        )) as [string, [string, string[]][]][] | null;
      } catch (err) {
        this.readGeneration = undefined;
        if (!this.running) break;
        this.opts.onError?.(new StorageError(this.opts.where, err));
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        continue;
      }
      this.readGeneration = undefined;
      for (const [key, entries] of reply ?? []) {
        const index = indexOfKey.get(key);
        const room = index === undefined ? undefined : rooms[index];
        // Unfollowed (or followed again from elsewhere) while the read was under way: not wanted.
        if (room === undefined || this.positions.get(room) !== asked[index!] || entries.length === 0) continue;
        this.positions.set(room, entries[entries.length - 1]![0]);
        this.opts.onEntries(
          room,
          entries.map(([id, fields]) => ({ id, fields })),
        );
      }
    }
  }

}
