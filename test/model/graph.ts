/**
 * Model-based testing helpers on top of `xstate/graph`: generate test paths from a machine's own
 * definition, replay them through the pure `transition()` function, and account for which state
 * nodes and which transitions (each guarded alternative counts on its own) the replays reached.
 *
 * Paths are a *transition cover*: for every (state, event) edge of the adjacency map that
 * `getAdjacencyMap` builds from the events we supply, the shortest path to that state (from
 * `getShortestPaths`) followed by that edge. Paths that are a prefix of another are dropped.
 * States are compared as xstate/graph serializes them (value + context), so context counters
 * (wrong passwords, waiting connections) make distinct states: the traversal must be bounded by the
 * events offered, `stopWhen` and `limit`.
 */
import { expect } from 'vitest';
import {
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type EventObject,
  __unsafe_getAllOwnEventDescriptors as ownEventTypes,
  initialTransition,
  transition,
} from 'xstate';
import {
  type AdjacencyMap,
  type AnyStateNode,
  type DirectedGraphNode,
  getAdjacencyMap,
  getShortestPaths,
  getStateNodes,
  serializeSnapshot,
  toDirectedGraph,
} from 'xstate/graph';

/** An action as `transition()` returns it. */
export interface EmittedAction {
  readonly type: string;
  readonly params?: unknown;
}

export interface ModelPath {
  /** A stable, readable name: the events, abbreviated. */
  readonly name: string;
  readonly events: readonly EventObject[];
}

export interface ReplayStep {
  readonly index: number;
  readonly event: EventObject;
  readonly before: AnyMachineSnapshot;
  readonly after: AnyMachineSnapshot;
  /** The machine's own actions for this step (xstate's built-ins left out). */
  readonly actions: readonly EmittedAction[];
  /** Events the step raised and handled in the same macrostep (a typed command's `command.*`). */
  readonly raised: readonly EventObject[];
}

export interface GenerateOptions {
  input?: unknown;
  /** The events to try in a state: called with the snapshot, returns concrete events with payloads. */
  events: (snapshot: AnyMachineSnapshot) => EventObject[];
  /** Traversal stops expanding these states (final states always stop). */
  stopWhen?: (snapshot: AnyMachineSnapshot) => boolean;
  /** Upper bound on traversal iterations: a safety net against an unbounded context. */
  limit?: number;
  /**
   * A path must not end while the system under test is still busy (a service running): its
   * outcome would race the end of the test. For such a state, the event that finishes it; the
   * path is extended with it (repeatedly) until this returns undefined.
   */
  settle?: (snapshot: AnyMachineSnapshot) => EventObject | undefined;
}

/**
 * Offers, for each event type the snapshot's active state nodes handle, the payload variants in
 * `variants` (or the bare event when there are none). Event types mapped to `[]` are never offered.
 */
export function eventsFrom(
  snapshot: AnyMachineSnapshot,
  variants: (type: string, snapshot: AnyMachineSnapshot) => EventObject[] | undefined,
): EventObject[] {
  return (ownEventTypes(snapshot) as string[]).flatMap((type) => variants(type, snapshot) ?? [{ type }]);
}

export function generatePaths(machine: AnyStateMachine, options: GenerateOptions): ModelPath[] {
  const traversal = {
    input: options.input,
    events: options.events,
    limit: options.limit ?? 10_000,
    stopWhen: (s: AnyMachineSnapshot) => s.status !== 'active' || (options.stopWhen?.(s) ?? false),
  };
  // The typed signatures want a concrete machine type; every machine fits the untyped logic shape.
  const adjacency = getAdjacencyMap(machine as never, traversal as never) as AdjacencyMap<AnyMachineSnapshot, EventObject>;
  const shortest = getShortestPaths(machine as never, traversal as never) as unknown as Array<{
    state: AnyMachineSnapshot;
    steps: Array<{ event: EventObject }>;
  }>;
  // Steps as getShortestPaths returns them start with a synthetic `xstate.init` step.
  const prefixTo = new Map(shortest.map((p) => [serializeSnapshot(p.state) as string, p.steps.slice(1).map((s) => s.event)]));

  const candidates: EventObject[][] = [];
  for (const [serialized, { transitions }] of Object.entries(adjacency)) {
    const prefix = prefixTo.get(serialized);
    if (!prefix) throw new Error(`no shortest path to a state in the adjacency map: ${serialized}`);
    const edges: { event: EventObject; state: AnyMachineSnapshot }[] = Object.values(transitions);
    if (edges.length === 0) candidates.push([...prefix]);
    for (const { event, state } of edges) candidates.push([...prefix, event, ...settling(machine, state, options.settle)]);
  }
  return dropPrefixes(candidates).map((events) => ({ name: describeEvents(events), events }));
}

function settling(
  machine: AnyStateMachine,
  snapshot: AnyMachineSnapshot,
  settle: GenerateOptions['settle'],
): EventObject[] {
  const events: EventObject[] = [];
  for (let current = snapshot, event = settle?.(current); event && current.status === 'active'; event = settle?.(current)) {
    if (events.length > 100) throw new Error('settle() does not settle');
    events.push(event);
    current = transition(machine, current, event)[0] as AnyMachineSnapshot;
  }
  return events;
}

/** Keeps only the paths that are not a prefix of another path (the longer one replays them too). */
function dropPrefixes(paths: EventObject[][]): EventObject[][] {
  const keyed = paths.map((events) => ({ events, keys: events.map((e) => JSON.stringify(e)) }));
  // Longest first, so each path is compared with every path that could contain it.
  keyed.sort((a, b) => b.keys.length - a.keys.length);
  const kept: typeof keyed = [];
  const seen = new Set<string>();
  for (const candidate of keyed) {
    const whole = candidate.keys.join('\u0000');
    if (seen.has(whole)) continue;
    const isPrefix = kept.some((k) => k.keys.length > candidate.keys.length && candidate.keys.every((key, i) => k.keys[i] === key));
    if (isPrefix) continue;
    kept.push(candidate);
    seen.add(whole);
  }
  // Shortest first: failures in short paths are the easiest to read.
  return kept.reverse().map((k) => k.events);
}

export function describeEvent(event: EventObject): string {
  const { type, ...payload } = event as EventObject & Record<string, unknown>;
  const short = type.replace(/^xstate\.(done|error)\.actor\./, '$1:').replace(/^xstate\.after\.([^.]+)\..*$/, 'after:$1');
  const values = Object.values(payload);
  if (values.length === 0) return short;
  return `${short}(${values.map((v) => (typeof v === 'string' ? JSON.stringify(v.length > 24 ? `${v.slice(0, 21)}...` : v) : JSON.stringify(v))).join(', ')})`;
}

export function describeEvents(events: readonly EventObject[]): string {
  return events.length === 0 ? '(start)' : events.map(describeEvent).join(' → ');
}

/**
 * Replays a path through the pure transition function, from `initialTransition`. Returns the
 * initial step (event `xstate.init`) and one step per event; never runs an effect.
 */
export function replayPure(machine: AnyStateMachine, input: unknown, events: readonly EventObject[]): {
  initial: { snapshot: AnyMachineSnapshot; actions: EmittedAction[] };
  steps: ReplayStep[];
} {
  const [first, initialActions] = (initialTransition as (m: AnyStateMachine, i: unknown) => [AnyMachineSnapshot, EmittedAction[]])(machine, input);
  const steps: ReplayStep[] = [];
  let current = first;
  events.forEach((event, index) => {
    if (current.status !== 'active') throw new Error(`path continues after the machine stopped, at ${describeEvent(event)}`);
    const [next, actions] = transition(machine, current, event) as [AnyMachineSnapshot, EmittedAction[]];
    const raised = actions.filter((a) => a.type === 'xstate.raise').map((a) => (a.params as { event: EventObject }).event);
    steps.push({ index, event, before: current, after: next, actions: ownActions(actions), raised });
    current = next;
  });
  return { initial: { snapshot: first, actions: ownActions(initialActions) }, steps };
}

export function ownActions(actions: readonly EmittedAction[]): EmittedAction[] {
  return actions.filter((a) => !a.type.startsWith('xstate.'));
}

/** Every line a step's `send`-like action (default `send`) writes, in order. */
export function linesOf(actions: readonly EmittedAction[], type = 'send'): string[] {
  return actions.filter((a) => a.type === type).flatMap((a) => (a.params as { lines: readonly string[] }).lines);
}

/** The leaf state node ids a snapshot is in, e.g. `connection.authenticating.awaitingLogin`. */
export function leafIds(snapshot: AnyMachineSnapshot): string[] {
  return (snapshot._nodes as AnyStateNode[]).filter((n) => n.type === 'atomic' || n.type === 'final').map((n) => n.id);
}

// ---- coverage --------------------------------------------------------------------------------

type TransitionDefinition = DirectedGraphNode['edges'][number]['transition'];

/**
 * Which state nodes and which transition definitions a set of replays reached. The universe is
 * the machine's own definition (`getStateNodes`, `toDirectedGraph`): each guarded alternative of
 * an event is a transition of its own, and so is each `onDone`/`onError`/`after` handler.
 */
export class Coverage {
  private readonly states = new Map<string, number>();
  private readonly transitions = new Map<TransitionDefinition, { name: string; count: number }>();

  constructor(
    readonly label: string,
    private readonly machine: AnyStateMachine,
  ) {
    for (const node of getStateNodes(machine.root)) this.states.set(node.id, 0);
    const visit = (graph: DirectedGraphNode) => {
      for (const edge of graph.edges) {
        if (!this.transitions.has(edge.transition)) this.transitions.set(edge.transition, { name: transitionName(edge.transition), count: 0 });
      }
      graph.children.forEach(visit);
    };
    visit(toDirectedGraph(machine));
  }

  /** Records the state nodes of a snapshot (call with the initial snapshot and every step's). */
  visit(snapshot: AnyMachineSnapshot): void {
    for (const node of snapshot._nodes as AnyStateNode[]) {
      const count = this.states.get(node.id);
      if (count !== undefined) this.states.set(node.id, count + 1);
    }
  }

  /** Records the transitions `event` takes from `before` (ask before transitioning). */
  take(before: AnyMachineSnapshot, event: EventObject): void {
    for (const definition of this.machine.getTransitionData(before, event as never)) {
      const entry = this.transitions.get(definition);
      if (entry) entry.count++;
    }
  }

  recordSteps(initial: AnyMachineSnapshot, steps: readonly ReplayStep[]): void {
    this.visit(initial);
    for (const step of steps) {
      this.take(step.before, step.event);
      // An event raised in the step (a typed command becomes its `command.*` event) is taken in
      // the same macrostep, from the state the line's own targetless transition left unchanged.
      for (const raised of step.raised) this.take(step.before, raised);
      this.visit(step.after);
    }
  }

  get stateTotal(): number {
    return this.states.size;
  }

  get transitionTotal(): number {
    return this.transitions.size;
  }

  allStateIds(): string[] {
    return [...this.states.keys()];
  }

  missedStates(): string[] {
    return [...this.states].filter(([, n]) => n === 0).map(([id]) => id);
  }

  missedTransitions(): string[] {
    return [...this.transitions.values()].filter((t) => t.count === 0).map((t) => t.name);
  }

  allTransitionNames(): string[] {
    return [...this.transitions.values()].map((t) => t.name);
  }

  summary(): string {
    const states = this.stateTotal - this.missedStates().length;
    const transitions = this.transitionTotal - this.missedTransitions().length;
    return `${this.label}: states covered ${states}/${this.stateTotal}, transitions covered ${transitions}/${this.transitionTotal}`;
  }
}

/**
 * `awaitingLogin --client.line[2/2]--> awaitingLogin`: source, event, which alternative (when the
 * event has several guarded ones), target(s). Stable across runs, so exclusion lists can name it.
 */
export function transitionName(definition: TransitionDefinition): string {
  const source = definition.source as AnyStateNode;
  const alternatives = source.transitions.get(definition.eventType) ?? [definition];
  const which = alternatives.length > 1 ? `[${alternatives.indexOf(definition) + 1}/${alternatives.length}]` : '';
  const targets = definition.target?.map((t: AnyStateNode) => shortId(t.id)).join(',') ?? '(self)';
  const event = definition.eventType.replace(/^xstate\.after\.([^.]+)\..*$/, 'after:$1');
  return `${shortId(source.id)} --${event}${which}--> ${targets}`;
}

function shortId(id: string): string {
  return id.split('.').slice(1).join('.') || id;
}

/**
 * Prints the coverage line and fails if a state or transition was never reached — except the
 * transitions `excluded` names (with the reason), which must themselves be real transitions.
 */
/**
 * Every state and transition taken, but those excluded by name with the reason (and each name
 * excluded must exist: a renamed state or transition cannot hide behind a stale exclusion).
 */
export function expectFullCoverage(
  coverage: Coverage,
  excluded: Record<string, string> = {},
  excludedStates: Record<string, string> = {},
): void {
  console.log(coverage.summary());
  expect(coverage.missedStates().filter((id) => !(id in excludedStates))).toEqual([]);
  expect(Object.keys(excludedStates).filter((id) => !coverage.allStateIds().includes(id))).toEqual([]);
  expect(coverage.missedTransitions().filter((name) => !(name in excluded))).toEqual([]);
  const all = coverage.allTransitionNames();
  expect(Object.keys(excluded).filter((name) => !all.includes(name))).toEqual([]);
}
