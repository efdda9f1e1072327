/**
 * Helpers for driving a machine with xstate's pure `initialTransition()` / `transition()`:
 * nothing runs, every effect comes back as an action object, and invoked actors are finished by
 * hand with the `xstate.done.actor.<id>` / `xstate.error.actor.<id>` events the runtime would send.
 */
import {
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type EventFromLogic,
  type InputFrom,
  type SnapshotFrom,
  initialTransition,
  transition,
} from 'xstate';

/** The events the runtime sends on a machine's behalf: actor completion, delayed `after` events. */
export interface InternalEvent {
  type: `xstate.${string}`;
  [key: string]: unknown;
}

export type AnyEventOf<M extends AnyStateMachine> = EventFromLogic<M> | InternalEvent;

/** An action as `transition()` returns it: a type and the params resolved for this event. */
export interface EmittedAction {
  readonly type: string;
  readonly params?: unknown;
}

export type Step<M extends AnyStateMachine> = [snapshot: SnapshotFrom<M>, actions: EmittedAction[]];

export function start<M extends AnyStateMachine>(machine: M, input: InputFrom<M>): Step<M> {
  // initialTransition's rest-tuple signature does not resolve for a generic M.
  const [snapshot, actions] = (initialTransition as (m: M, i: InputFrom<M>) => [SnapshotFrom<M>, EmittedAction[]])(
    machine,
    input,
  );
  return [snapshot, actions];
}

/**
 * One event through the pure transition function. Refuses a snapshot that is no longer active:
 * the pure function would still run root-level handlers on a `done` snapshot, but a running
 * actor whose machine reached a final state receives nothing, so such a test would be fiction.
 */
export function step<M extends AnyStateMachine>(
  machine: M,
  snapshot: SnapshotFrom<M>,
  event: AnyEventOf<M>,
): Step<M> {
  const { status, value } = snapshot as unknown as AnyMachineSnapshot;
  if (status !== 'active') {
    const { type } = event as { type: string };
    throw new Error(`Cannot send ${type}: the machine is ${status} (in ${JSON.stringify(value)})`);
  }
  const [next, actions] = transition(machine, snapshot, event as EventFromLogic<M>);
  return [next, actions as EmittedAction[]];
}

/** Several events in order; returns the last snapshot and every action emitted on the way. */
export function steps<M extends AnyStateMachine>(
  machine: M,
  snapshot: SnapshotFrom<M>,
  events: readonly AnyEventOf<M>[],
): Step<M> {
  let current = snapshot;
  const all: EmittedAction[] = [];
  for (const event of events) {
    const [next, actions] = step(machine, current, event);
    current = next;
    all.push(...actions);
  }
  return [current, all];
}

/** Starts the machine and sends the events: the usual Arrange of a test. */
export function drive<M extends AnyStateMachine>(
  machine: M,
  input: InputFrom<M>,
  events: readonly AnyEventOf<M>[],
): Step<M> {
  const [initial, initialActions] = start(machine, input);
  const [snapshot, actions] = steps(machine, initial, events);
  return [snapshot, [...initialActions, ...actions]];
}

export function doneActor(id: string, output?: unknown): InternalEvent {
  return { type: `xstate.done.actor.${id}`, output };
}

export function errorActor(id: string, error: unknown): InternalEvent {
  return { type: `xstate.error.actor.${id}`, error };
}

/** The machine's own actions (xstate's spawnChild, stopChild, raise, cancel… left out). */
export function ownActions(actions: readonly EmittedAction[]): EmittedAction[] {
  return actions.filter((a) => !a.type.startsWith('xstate.'));
}

/** Own actions as plain `{ type, params }` objects, ready for `toEqual`. */
export function summary(actions: readonly EmittedAction[]): { type: string; params?: unknown }[] {
  return ownActions(actions).map((a) =>
    a.params === undefined || a.params === null ? { type: a.type } : { type: a.type, params: a.params },
  );
}

export function typesOf(actions: readonly EmittedAction[]): string[] {
  return ownActions(actions).map((a) => a.type);
}

export function paramsOf(actions: readonly EmittedAction[], type: string): unknown[] {
  return actions.filter((a) => a.type === type).map((a) => a.params);
}

/** Every line written by `send` (or another `{ lines }` action such as `reply`), in order. */
export function linesOf(actions: readonly EmittedAction[], type = 'send'): string[] {
  return actions
    .filter((a) => a.type === type)
    .flatMap((a) => (a.params as { lines: readonly string[] }).lines);
}

/** The actors the step started: `{ id, src, input }` of each `xstate.spawnChild`. */
export function spawned(actions: readonly EmittedAction[]): { id: string; src: unknown; input: unknown }[] {
  return actions
    .filter((a) => a.type === 'xstate.spawnChild')
    .map((a) => {
      const p = a.params as { id: string; src: unknown; input?: unknown };
      return { id: p.id, src: p.src, input: p.input };
    });
}

/** The invoked or spawned children the step stopped, by id (the action's params are the child). */
export function stoppedChildren(actions: readonly EmittedAction[]): string[] {
  return actions.filter((a) => a.type === 'xstate.stopChild').map((a) => (a.params as { id: string }).id);
}

interface NodeLike {
  id: string;
  tags: readonly string[];
  states: Record<string, NodeLike>;
}

function allNodes(machine: AnyStateMachine): NodeLike[] {
  const nodes: NodeLike[] = [];
  const visit = (node: NodeLike): void => {
    nodes.push(node);
    Object.values(node.states).forEach(visit);
  };
  visit(machine.root as unknown as NodeLike);
  return nodes;
}

/** The ids (e.g. `connection.chatting`) of the leaf states of a machine's definition. */
export function leafStateIds(machine: AnyStateMachine): string[] {
  return allNodes(machine)
    .filter((n) => Object.keys(n.states).length === 0)
    .map((n) => n.id);
}

/** The ids of the state nodes that carry a tag in the machine's definition. */
export function stateIdsTagged(machine: AnyStateMachine, tag: string): string[] {
  return allNodes(machine)
    .filter((n) => n.tags.includes(tag))
    .map((n) => n.id);
}
