/**
 * Turns an xstate machine into a Mermaid `stateDiagram-v2` by walking its state nodes — the
 * machine object itself, never a hand-kept copy — so a diagram cannot drift from the code.
 *
 * What comes out, and why it reads the way it does:
 *  - every state is declared as `state "key" as path_to_key`: keys repeat across a machine
 *    (`idle`, `closed`), ids must not; the page finds a state's box by that id (`nodeIds`);
 *  - compound states are composite boxes with their `[*] -->` initial arrow; the regions of a
 *    parallel state are named boxes separated by `--`; final states get a `--> [*]`;
 *  - arrows read `event [guard]`, with `[else]` for the unguarded fallback after guarded ones
 *    (several transitions between the same two states share one arrow, a label per line);
 *    timers read `after 60s` / `after loginTimeout`; an invoked service's outcome reads
 *    `done: checkLogin` / `error: checkLogin` — never the raw `xstate.after.…` / `xstate.done.actor.…`;
 *  - a transition without a target changes no state: it is listed inside its state's box
 *    (UML's internal transitions, `event [guard] / actions`), or in a note beside a composite
 *    state, where Mermaid has no room for such lines; the machine's own (root) handlers are
 *    drawn from every top-level state that does not handle the event itself;
 *  - what a state does besides reacting to events is listed in it the same way, first, in UML's
 *    words: `tags: input, secret`, `entry / send`, `do / checkLogin` (an invoked actor, running
 *    while the state is active), `exit / leaveChat` — less the timers xstate schedules for
 *    `after` (they are the `after 60s` arrows already).
 *
 * An inline guard function has no readable name; rather than print `[guard]`, this throws and
 * asks for the guard to be named in `setup({ guards })`.
 *
 * Pure: xstate types only, no I/O (used by `npm run diagrams` and by the inspector page).
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

export interface StateDiagram {
  /** The machine's id (`connection`, `listener`, …). */
  machineId: string;
  /** The Mermaid source, starting with `stateDiagram-v2`. */
  mermaid: string;
  /** Mermaid node id of every state, by its dotted path in the machine (`authenticating.awaitingLogin`). */
  nodeIds: Record<string, string>;
  /**
   * What each state (by path) lists when clicked on the inspector page: the lines drawn in it or
   * in its note, then its arrows as `label → target path`, then the machine's own targetless
   * handlers, marked `(in every state)`. The same data the Mermaid source is made of.
   */
  transitions: Record<string, string[]>;
}

/** Words Mermaid's state grammar reserves; a state id equal to one would not parse. */
const RESERVED_IDS = new Set(['state', 'note', 'end', 'direction', 'class', 'classDef', 'style', 'click', 'as', 'hide', 'accTitle', 'accDescr']);

export function toStateDiagram(machine: AnyStateMachine): StateDiagram {
  const root = machine.root as AnyStateNode;
  const nodeIds: Record<string, string> = {};
  const pathOf = new Map<AnyStateNode, string>();
  for (const node of descendants(root)) {
    const id = node.path.join('_');
    const path = node.path.join('.');
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(id) || RESERVED_IDS.has(id)) {
      throw new Error(`${machine.id}: state "${path}" cannot be a Mermaid id; rename it`);
    }
    if (Object.values(nodeIds).includes(id)) {
      throw new Error(`${machine.id}: states "${path}" and another both map to the Mermaid id "${id}"`);
    }
    nodeIds[path] = id;
    pathOf.set(node, path);
  }
  const idOf = (node: AnyStateNode) => nodeIds[pathOf.get(node)!]!;

  /** Arrows by `source --> target`, each with its labels: parallel arrows become one, a label per line. */
  const edges = new Map<string, { source: AnyStateNode; target: AnyStateNode; labels: string[] }>();
  /** Internal (targetless) transitions, by the node that owns them. */
  const internal = new Map<AnyStateNode, string[]>();
  const addInternal = (node: AnyStateNode, line: string) => {
    const lines = internal.get(node) ?? [];
    if (!lines.includes(line)) lines.push(line);
    internal.set(node, lines);
  };

  const topLevel = Object.values(root.states) as AnyStateNode[];
  for (const node of [root, ...descendants(root)]) {
    for (const { event, transition, guard } of transitionsOf(machine.id, node)) {
      const label = guard ? `${event} [${guard}]` : event;
      const targets = (transition.target ?? []) as AnyStateNode[];
      if (targets.length === 0) {
        const actions = actionNames(transition);
        addInternal(node, actions.length > 0 ? `${label} / ${actions.join(', ')}` : label);
        continue;
      }
      // The root is not drawn: its handlers apply in every top-level state that has none of its own.
      const sources =
        node === root
          ? topLevel.filter((s) => s.type !== 'final' && !handlesEvent(s, transition.eventType))
          : [node];
      for (const source of sources) {
        for (const target of targets) {
          const arrow = `${idOf(source)} --> ${idOf(target)}`;
          const edge = edges.get(arrow) ?? { source, target, labels: [] };
          if (!edge.labels.includes(label)) edge.labels.push(label);
          edges.set(arrow, edge);
        }
      }
    }
  }

  const lines = ['stateDiagram-v2'];
  for (const node of descendants(root)) {
    const activities = activitiesOf(node);
    if (activities.length > 0) internal.set(node, [...activities, ...(internal.get(node) ?? [])]);
  }
  const rootNotes = internal.get(root);
  const emitChildren = (parent: AnyStateNode, indent: string) => {
    const children = Object.values(parent.states) as AnyStateNode[];
    children.forEach((child, index) => {
      if (parent.type === 'parallel' && index > 0) lines.push(`${indent}--`);
      emitState(child, indent);
    });
    if (parent.type === 'compound') {
      for (const initial of (parent.initial?.target ?? []) as AnyStateNode[]) lines.push(`${indent}[*] --> ${idOf(initial)}`);
    }
    for (const child of children) if (child.type === 'final') lines.push(`${indent}${idOf(child)} --> [*]`);
  };
  const emitState = (node: AnyStateNode, indent: string) => {
    const id = idOf(node);
    lines.push(`${indent}state "${node.key}" as ${id}`);
    const own = internal.get(node) ?? [];
    if (node.type === 'compound' || node.type === 'parallel') {
      lines.push(`${indent}state ${id} {`);
      emitChildren(node, `${indent}  `);
      lines.push(`${indent}}`);
      if (own.length > 0) emitNote(id, `in ${node.key}:`, own, indent);
    } else {
      for (const line of own) lines.push(`${indent}${id} : ${line}`);
    }
  };
  const emitNote = (id: string, heading: string, body: string[], indent: string) => {
    lines.push(`${indent}note right of ${id}`, `${indent}  ${heading}`, ...body.map((l) => `${indent}  ${l}`), `${indent}end note`);
  };

  emitChildren(root, '  ');
  if (rootNotes && topLevel.length > 0) emitNote(idOf(topLevel[0]!), 'in every state:', rootNotes, '  ');
  for (const [arrow, { labels }] of edges) lines.push(`  ${arrow} : ${labels.join('<br/>')}`);

  const transitions: Record<string, string[]> = {};
  for (const node of descendants(root)) transitions[pathOf.get(node)!] = [...(internal.get(node) ?? [])];
  for (const { source, target, labels } of edges.values()) {
    for (const label of labels) transitions[pathOf.get(source)!]!.push(`${label} → ${pathOf.get(target)}`);
  }
  for (const list of Object.values(transitions)) list.push(...(rootNotes ?? []).map((line) => `${line} (in every state)`));
  return { machineId: machine.id, mermaid: `${lines.join('\n')}\n`, nodeIds, transitions };
}

interface LabelledTransition {
  event: string;
  transition: AnyTransitionDefinition;
  /** `guardName`, `else`, or undefined for an unguarded transition with no guarded sibling. */
  guard: string | undefined;
}

/** A node's transitions in document order, each with a readable event and guard label. */
function transitionsOf(machineId: string, node: AnyStateNode): LabelledTransition[] {
  const delays = new Map<string, unknown>();
  for (const delayed of node.after) delays.set(delayed.eventType, delayed.delay);
  const result: LabelledTransition[] = [];
  const groups: Array<[string, AnyTransitionDefinition[]]> = [...node.transitions];
  if (node.always) groups.push(['', node.always]);
  for (const [eventType, transitions] of groups) {
    const event = eventLabel(eventType, delays);
    let guardedBefore = false;
    for (const transition of transitions) {
      const guard = transition.guard === undefined ? undefined : guardLabel(transition.guard, () => `${machineId}: the guard on "${event}" in "${node.id}"`);
      result.push({ event, transition, guard: guard ?? (guardedBefore ? 'else' : undefined) });
      if (guard) guardedBefore = true;
    }
  }
  return result;
}

function eventLabel(eventType: string, delays: Map<string, unknown>): string {
  if (eventType === '') return 'always';
  if (eventType === '*') return 'any event';
  if (delays.has(eventType)) return `after ${delayLabel(delays.get(eventType))}`;
  const service = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (service) return `${service[1]}: ${service[2]}`;
  const doneState = /^xstate\.done\.state\.(.+)$/.exec(eventType);
  if (doneState) return `done: ${doneState[1]!.split('.').pop()}`;
  return eventType;
}

/** 60000 → `60s`, 1500 → `1.5s`, 250 → `250ms`; a named delay keeps its name. */
export function delayLabel(delay: unknown): string {
  if (typeof delay !== 'number') return String(delay);
  if (delay >= 1000) return `${delay / 1000}s`;
  return `${delay}ms`;
}

/** A guard's name: `isX`, `isX` with params, or `!isX` / `a && b` / `a || b` for xstate's not/and/or. */
function guardLabel(guard: unknown, where: () => string): string {
  if (typeof guard === 'string') return guard;
  if (guard && typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') return guard.type;
  if (typeof guard === 'function') {
    const composite = guard as { name: string; guards?: unknown[] };
    const parts = composite.guards?.map((g) => guardLabel(g, where));
    if (parts && composite.name === 'not') return `!${parts[0]}`;
    if (parts && composite.name === 'and') return parts.join(' && ');
    if (parts && composite.name === 'or') return parts.join(' || ');
  }
  throw new Error(`${where()} is an inline function; name it in setup({ guards }) so the diagrams can show it`);
}

/** A state's tags, entry actions, invoked actors and exit actions, one line each kind. */
function activitiesOf(node: AnyStateNode): string[] {
  const lines: string[] = [];
  if (node.tags.length > 0) lines.push(`tags: ${node.tags.join(', ')}`);
  const entry = namesOf(node.entry.filter((action) => !isAfterTimer(action)));
  if (entry.length > 0) lines.push(`entry / ${entry.join(', ')}`);
  for (const invoked of node.invoke) lines.push(`do / ${typeof invoked.src === 'string' ? invoked.src : invoked.id}`);
  const exit = namesOf(node.exit.filter((action) => !isAfterTimer(action)));
  if (exit.length > 0) lines.push(`exit / ${exit.join(', ')}`);
  return lines;
}

/** xstate's own raise / cancel of an `after` timer (its id or sendId is `xstate.after.…`). */
function isAfterTimer(action: unknown): boolean {
  if (typeof action !== 'function') return false;
  const { id, sendId } = action as { id?: unknown; sendId?: unknown };
  return [id, sendId].some((value) => typeof value === 'string' && value.startsWith('xstate.after.'));
}

/** Action names for an internal transition's label: named actions, and xstate's built-ins without the prefix. */
function actionNames(transition: AnyTransitionDefinition): string[] {
  return namesOf(transition.actions as unknown[]);
}

function namesOf(actions: readonly unknown[]): string[] {
  const names: string[] = [];
  for (const action of actions) {
    let name: string | undefined;
    if (typeof action === 'string') name = action;
    else if (action && typeof action === 'object' && 'type' in action) name = String(action.type);
    else if (typeof action === 'function') name = (action as { type?: string }).type ?? (action.name || undefined);
    if (!name) continue;
    name = name.replace(/^xstate\./, '');
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

function handlesEvent(node: AnyStateNode, eventType: string): boolean {
  return node.transitions.has(eventType);
}

/** Every state node under `node`, depth first, in document order. */
function descendants(node: AnyStateNode): AnyStateNode[] {
  return (Object.values(node.states) as AnyStateNode[]).flatMap((child) => [child, ...descendants(child)]);
}
