/**
 * The root of the actor system a server's connection actors share.
 *
 * xstate gives every root actor a system of its own: a registry, a scheduler and an inspection
 * channel, about 2 KB of heap per connection (bench/, scenario 3). A connection actor is instead
 * created with this inert actor as its parent, so one server has one system for all of its
 * connections — as in Akka, where every actor lives in the one ActorSystem — and the live
 * inspector watches them all through it.
 *
 * The root runs nothing. It receives each connection's done or error event and ignores it: a
 * connection is started, fed and observed by its own wiring (connection-actor.ts,
 * echo-actor.ts) and ends by its machine reaching its final state. Consequences of sharing, each
 * handled where it arises: a child cannot be `stop()`ped from outside (the machines end on
 * `client.closed` from any state), and xstate's delayed events are scanned system-wide on every
 * stop (the login timer is an invoked actor, not an `after`).
 */
import { type Actor, type AnyActorRef, createActor, fromCallback } from 'xstate';

const inert = fromCallback(() => {});

export type ConnectionsRoot = Actor<typeof inert>;

/** Created per server; hand it to the inspector before `start()`, stop it after the last connection. */
export function createConnectionsRoot(): ConnectionsRoot {
  return createActor(inert, { id: 'connections' });
}

/**
 * What each actor of a shared provided machine runs for — a connection, a socket. Every actor runs
 * the same `machine.provide()` (one per server kind: per connection it rebuilt the state-node
 * tree), so its effects find their own through the actor they run for.
 */
export class PerActor<T> {
  private readonly values = new WeakMap<AnyActorRef, T>();

  constructor(private readonly what: string) {}

  set(actor: AnyActorRef, value: T): void {
    this.values.set(actor, value);
  }

  /** An effect running for an actor nobody registered is a wiring bug: it throws. */
  of(actor: AnyActorRef | undefined): T {
    const value = actor && this.values.get(actor);
    if (value === undefined) throw new Error(`no ${this.what} registered for this actor`);
    return value;
  }
}
