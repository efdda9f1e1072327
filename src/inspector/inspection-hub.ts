/**
 * The inspection hub: turns xstate's inspection events into redacted JSON messages
 * (inspection-messages.ts) for whoever is subscribed — the inspector page's sockets, or a
 * forwarder to an external inspector. Every actor the server creates is handed to `inspectActor`
 * right after it is created; the hub watches its actor system (through xstate's
 * `system.inspect`: one for the supervisor, one for the listener, one that all connections share)
 * only while someone is subscribed.
 *
 * Cost is the point of its shape:
 *  - with nothing subscribed, no system has an inspection observer at all: xstate then skips its
 *    inspection plumbing (which, once an observer exists, copies an object per step, action and
 *    event), so a server started with `--inspect` and no page open runs exactly the code of one
 *    started without it, plus one call per new connection;
 *  - the first subscriber attaches the observer to every live actor's system, the last one to
 *    leave detaches it again;
 *  - with subscribers, each event is serialized once, as it happens (the redaction of a typed
 *    line depends on the receiver's state at that moment), and the JSON strings are handed out
 *    in batches, every `flushIntervalMs` (or sooner when `maxPending` build up), so a busy
 *    server costs a page one WebSocket frame per interval, not one per event.
 * What users wrote is shown only with `showContent` (`--inspect-content`), and then once per
 * actor step: in the `@xstate.snapshot`, not also in the `@xstate.event` that announced it.
 * A subscriber that joins late first gets the live actors' current snapshots (`@xstate.actor`),
 * then the stream.
 */
import type { ActorSystem, AnyActorRef, EventObject, InspectionEvent, Observer, Subscription } from 'xstate';
import {
  type ActorMessage,
  type EventMessage,
  type InspectionMessage,
  type SnapshotJson,
  type SnapshotMessage,
  STATELY_INSPECT_VERSION,
} from './inspection-messages.js';
import { isTypedLine, mayShowTypedLine, redactEvent, toRedactedJson } from './redaction.js';

/** Receives the stream, a batch of JSON-serialized messages at a time, in order. */
export interface InspectionSink {
  deliver(batch: readonly string[]): void;
}

export interface InspectionHubOptions {
  /** How long messages gather before they are handed out. */
  flushIntervalMs?: number;
  /** Hand out at once when this many messages are waiting (a burst). */
  maxPending?: number;
  /**
   * Send each machine's whole definition in `@xstate.actor` (what Stately's inspector draws
   * from); otherwise just `{"id":…}` (our page has its own diagrams).
   */
  includeDefinitions?: boolean;
  /**
   * Show what users wrote (`--inspect-content`); by default chat text, `/msg` text and replayed
   * history show only their sizes (redaction.ts, CONTENT_KEYS).
   */
  showContent?: boolean;
  /** The actors alive now, parents first: watched when the first subscriber comes, replayed to each. */
  liveActors?: () => Iterable<AnyActorRef>;
}

/**
 * What the hub reads from an actor. Inspection events type their actors loosely (ActorRefLike);
 * at run time they are xstate's Actor instances, which have all of this.
 */
interface InspectedActor {
  sessionId: string;
  id?: string;
  _parent?: { sessionId: string };
  logic?: unknown;
  getSnapshot(): unknown;
}

export const DEFAULT_FLUSH_INTERVAL_MS = 50;
export const DEFAULT_MAX_PENDING = 5000;

export class InspectionHub {
  /** xstate's inspection observer, attached to the watched actors' systems. */
  private readonly observer: Observer<InspectionEvent>;
  private readonly sinks = new Set<InspectionSink>();
  /** The actor systems being watched, each with its observer's subscription and its root actor. */
  private readonly watched = new Map<ActorSystem<any>, { root: AnyActorRef; subscription: Subscription }>();
  /** When `watched` reaches this size, systems whose root ended without a last snapshot are let go. */
  private pruneAt = 64;
  private pending: string[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private sequence = 0;
  /**
   * Whether a typed line could be shown, decided when it was sent (the receiver's state then),
   * and looked up again when the snapshot it caused comes by. Unknown → hidden.
   */
  private readonly lineShown = new WeakMap<EventObject, boolean>();
  /** Definitions are the same for every actor of a machine: serialized once. */
  private readonly definitions = new WeakMap<object, string>();
  private readonly flushIntervalMs: number;
  private readonly maxPending: number;
  private readonly includeDefinitions: boolean;
  private readonly showContent: boolean;
  private liveActors: () => Iterable<AnyActorRef>;
  /** Messages that could not be made or serialized (a cycle…), skipped. */
  skipped = 0;

  constructor(options: InspectionHubOptions = {}) {
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.includeDefinitions = options.includeDefinitions ?? false;
    this.showContent = options.showContent ?? false;
    this.liveActors = options.liveActors ?? (() => []);
    this.observer = {
      next: (event) => {
        if (this.sinks.size === 0) return; // (observers are detached then; this is a safeguard)
        try {
          this.record(event);
        } catch {
          // The inspector must never break an actor: a message it cannot make is skipped.
          this.skipped++;
        }
      },
    };
  }

  get subscriberCount(): number {
    return this.sinks.size;
  }

  /** Actor systems with an inspection observer now (for tests and the curious). */
  get watchedCount(): number {
    return this.watched.size;
  }

  /**
   * Call with every actor the server creates, right after createActor, before `start()`: while
   * someone is subscribed it is watched from its first step on; otherwise nothing happens at all.
   * An actor whose system is watched already was announced by xstate itself (from its constructor).
   */
  readonly inspectActor = (actor: AnyActorRef): void => {
    if (this.sinks.size === 0) return;
    if (this.watch(actor)) this.push(this.actorMessage(actor, readSnapshot(actor), actor.sessionId));
  };

  setLiveActors(liveActors: () => Iterable<AnyActorRef>): void {
    this.liveActors = liveActors;
  }

  /**
   * Adds a subscriber: what is pending goes to the existing ones first, then the newcomer gets
   * the live actors' current state, then the stream. Returns the unsubscribe function.
   */
  subscribe(sink: InspectionSink): () => void {
    this.flush();
    const replay: string[] = [];
    for (const actor of this.liveActors()) {
      const json = this.serialize(this.actorMessage(actor, actor.getSnapshot(), actor.sessionId));
      if (json !== undefined) replay.push(json);
    }
    sink.deliver(replay);
    this.sinks.add(sink);
    if (this.sinks.size === 1) for (const actor of this.liveActors()) this.watch(actor);
    return () => this.removeSink(sink);
  }

  /** Hands out what is pending now. */
  flush(): void {
    this.clearTimer();
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const sink of [...this.sinks]) {
      try {
        sink.deliver(batch);
      } catch {
        this.removeSink(sink); // a subscriber that fails is dropped; the server goes on
      }
    }
  }

  /** The last subscriber gone, every actor is let go: back to costing nothing. */
  private removeSink(sink: InspectionSink): void {
    if (!this.sinks.delete(sink) || this.sinks.size > 0) return;
    this.unwatchAll();
    this.dropPending();
  }

  /** Stops the timer, forgets every subscriber, detaches from every actor. */
  close(): void {
    this.sinks.clear();
    this.unwatchAll();
    this.dropPending();
  }

  /** Attaches the observer to the actor's system; false if that system was already watched. */
  private watch(actor: AnyActorRef): boolean {
    const { system } = actor;
    if (this.watched.has(system)) return false;
    if (this.watched.size >= this.pruneAt) this.prune();
    this.watched.set(system, { root: rootOf(actor), subscription: system.inspect(this.observer) });
    return true;
  }

  private unwatch(system: ActorSystem<any>): void {
    this.watched.get(system)?.subscription.unsubscribe();
    this.watched.delete(system);
  }

  private unwatchAll(): void {
    for (const { subscription } of this.watched.values()) subscription.unsubscribe();
    this.watched.clear();
  }

  /** Lets go of systems whose root ended without a last snapshot (an actor that failed). */
  private prune(): void {
    for (const [system, { root }] of [...this.watched]) {
      if ((readSnapshot(root) as { status?: string } | undefined)?.status !== 'active') this.unwatch(system);
    }
    this.pruneAt = Math.max(64, this.watched.size * 2);
  }

  private record(event: InspectionEvent): void {
    let message: InspectionMessage | undefined;
    switch (event.type) {
      case '@xstate.actor':
        // Sent from the actor's constructor, before its first snapshot exists (reading it there
        // throws); the snapshot follows with `@xstate.snapshot` when the actor starts.
        message = this.actorMessage(event.actorRef as InspectedActor, undefined, event.rootId);
        break;
      case '@xstate.event':
        message = this.eventMessage(event.actorRef as InspectedActor, event.event, event.sourceRef, event.rootId);
        break;
      case '@xstate.snapshot':
        message = this.snapshotMessage(event.actorRef as InspectedActor, event.event, event.snapshot, event.rootId);
        // A root actor's last step: nothing more will come from its system.
        if ((event.snapshot as { status?: string }).status !== 'active' && !(event.actorRef as InspectedActor)._parent) {
          this.unwatch((event.actorRef as AnyActorRef).system);
        }
        break;
      default:
        return; // microsteps and actions are not part of the stream
    }
    this.push(message);
  }

  private push(message: InspectionMessage): void {
    const json = this.serialize(message);
    if (json === undefined) return;
    this.pending.push(json);
    if (this.pending.length >= this.maxPending) this.flush();
    else if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => this.flush(), this.flushIntervalMs);
      this.flushTimer.unref?.(); // a pending batch is no reason to keep the process alive
    }
  }

  private actorMessage(actor: InspectedActor, snapshot: unknown, rootId: string | undefined): ActorMessage {
    return {
      type: '@xstate.actor',
      name: actor.id ?? actor.sessionId,
      sessionId: actor.sessionId,
      parentId: actor._parent?.sessionId,
      rootId,
      definition: this.definitionOf(actor),
      snapshot: (snapshot as SnapshotJson | undefined) ?? { status: 'active' },
      ...this.stamp(),
    };
  }

  private eventMessage(target: InspectedActor, event: EventObject, source: { sessionId: string } | undefined, rootId: string): EventMessage {
    let shown = event;
    if (isTypedLine(event)) {
      const mayShow = mayShowTypedLine(target);
      this.lineShown.set(event, mayShow);
      shown = redactEvent(event, mayShow);
    }
    return { type: '@xstate.event', event: shown, sourceId: source?.sessionId, sessionId: target.sessionId, rootId, ...this.stamp() };
  }

  private snapshotMessage(actor: InspectedActor, event: EventObject, snapshot: unknown, rootId: string): SnapshotMessage {
    const shown = isTypedLine(event) ? redactEvent(event, this.lineShown.get(event) ?? false) : event;
    return {
      type: '@xstate.snapshot',
      event: shown,
      snapshot: snapshot as SnapshotJson,
      sessionId: actor.sessionId,
      rootId,
      ...this.stamp(),
    };
  }

  private definitionOf(actor: InspectedActor): string {
    const config = (actor.logic as { config?: { id?: string } } | undefined)?.config;
    if (!config || typeof config !== 'object') return JSON.stringify({ id: actor.id ?? actor.sessionId });
    let definition = this.definitions.get(config);
    if (definition === undefined) {
      definition = this.includeDefinitions
        ? JSON.stringify(config, (_key, value: unknown) => (typeof value === 'function' ? { type: value.name } : value))
        : JSON.stringify({ id: config.id });
      this.definitions.set(config, definition);
    }
    return definition;
  }

  private stamp() {
    return { createdAt: String(Date.now()), id: String(++this.sequence), _version: STATELY_INSPECT_VERSION };
  }

  private serialize(message: InspectionMessage): string | undefined {
    try {
      // An event's content goes out once, with the snapshot it caused (which repeats the event,
      // and which our page reads): the `@xstate.event` before it shows only the sizes.
      return toRedactedJson(message, { showContent: this.showContent && message.type !== '@xstate.event' });
    } catch {
      this.skipped++;
      return undefined;
    }
  }

  private dropPending(): void {
    this.clearTimer();
    this.pending = [];
  }

  private clearTimer(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }
}

/** The actor at the top of an actor's system. */
function rootOf(actor: AnyActorRef): AnyActorRef {
  let root = actor;
  while (root._parent) root = root._parent;
  return root;
}

/** An actor's snapshot, or undefined while it cannot be read (during its constructor). */
function readSnapshot(actor: { getSnapshot(): unknown }): unknown {
  try {
    return actor.getSnapshot();
  } catch {
    return undefined;
  }
}
