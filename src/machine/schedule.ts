// Which tasks may run now, in which order, and dependency cycles (PRODUCT.md §3: tasks run when
// their depends_on are DONE, by priority, then age).
import { OrchError } from '../errors.js';
import type { TaskRecord } from '../generated/types.js';
import { openAttempt } from './record.js';
import { isTerminal } from './states.js';

type Lookup = ReadonlyMap<string, Pick<TaskRecord, 'state'>>;

/** The ids in the record's depends_on that are not DONE (missing records included). */
export function unmetDependencies(record: Pick<TaskRecord, 'spec'>, recordsById: Lookup): string[] {
  return (record.spec.depends_on ?? []).filter(id => recordsById.get(id)?.state !== 'DONE');
}

/**
 * True when the task can take a worker now: not finished, not waiting for a person, its backoff or
 * rate-limit wait over (next_attempt_at ≤ now, epoch ms), every dependency DONE, and no attempt of
 * it still open (a command running, or one a crash left behind that --resume has not closed yet).
 * A NEW task is runnable: the runtime starts it.
 */
export function isRunnable(record: TaskRecord, now: number, recordsById: Lookup): boolean {
  if (isTerminal(record.state) || record.state === 'AWAITING_HUMAN') return false;
  if (record.next_attempt_at !== undefined && Date.parse(record.next_attempt_at) > now) return false;
  if (openAttempt(record) !== undefined) return false;
  return unmetDependencies(record, recordsById).length === 0;
}

/** A new array: priority (spec.priority, default 0) high to low, then oldest first, then by id. */
export function orderRunnable<T extends Pick<TaskRecord, 'id' | 'spec' | 'created_at'>>(records: readonly T[]): T[] {
  // Each key made once per record, not once per comparison: every pass sorts every unfinished task,
  // and two Date.parse per comparison were 5 % of the main thread with 400 queued tasks.
  const keyed = records.map(record => ({ record, priority: record.spec.priority ?? 0, created: Date.parse(record.created_at), id: record.id }));
  keyed.sort((a, b) => b.priority - a.priority || a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return keyed.map(key => key.record);
}

export interface DependencyNode {
  readonly id: string;
  readonly depends_on?: readonly string[] | undefined;
}

/**
 * Every dependency cycle, each named by its ids in dependency order starting from the smallest id
 * (["A", "B"] is A → B → A; a task that depends on itself is [id]). Unknown ids are ignored.
 * Cycles are found per strongly connected component (Tarjan), so each tangle is reported once.
 */
export function findDependencyCycles(all: readonly DependencyNode[]): string[][] {
  // A task that depends on nothing is in no cycle, nor is an edge to it: most tasks of a big project
  // (the walk over all 100,000 of one took 440 ms of its start).
  const specs = all.filter(spec => (spec.depends_on?.length ?? 0) > 0);
  const edges = new Map<string, string[]>();
  for (const spec of specs) edges.set(spec.id, []);
  for (const spec of specs) {
    const out = edges.get(spec.id) ?? [];
    for (const dep of spec.depends_on ?? []) if (edges.has(dep) && !out.includes(dep)) out.push(dep);
  }
  const cycles: string[][] = [];
  for (const component of stronglyConnected(edges)) {
    const first = [...component].sort()[0];
    if (first === undefined) continue;
    if (component.size === 1 && !(edges.get(first) ?? []).includes(first)) continue;
    cycles.push(cycleThrough(first, component, edges));
  }
  return cycles.sort((a, b) => ((a[0] ?? '') < (b[0] ?? '') ? -1 : 1));
}

/** Throws ORCH_DEPENDENCY_CYCLE naming every cycle ("A → B → A"). */
export function assertNoDependencyCycles(specs: readonly DependencyNode[]): void {
  const cycles = findDependencyCycles(specs);
  if (cycles.length === 0) return;
  const named = cycles.map(cycle => [...cycle, cycle[0]].join(' → '));
  throw new OrchError('ORCH_DEPENDENCY_CYCLE', `Dependency cycle${cycles.length > 1 ? 's' : ''}: ${named.join('; ')}`, {
    details: { cycles },
    hint: 'remove one depends_on entry of each cycle',
  });
}

function stronglyConnected(edges: ReadonlyMap<string, readonly string[]>): Set<string>[] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: Set<string>[] = [];
  // Iterative Tarjan: a long dependency chain must not overflow the call stack.
  for (const root of edges.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = edges.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const target = targets[frame.next++]!;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component = new Set<string>();
        let member: string | undefined;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.add(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  return components;
}

/** The shortest cycle from `start` back to itself inside its component (breadth-first). */
function cycleThrough(start: string, component: ReadonlySet<string>, edges: ReadonlyMap<string, readonly string[]>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const target of [...(edges.get(node) ?? [])].sort()) {
      if (!component.has(target)) continue;
      if (target === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return path;
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start];
}
