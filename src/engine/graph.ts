/**
 * A workflow's steps as a DAG the scheduler can walk: who each step needs, who
 * needs it, and everything upstream of it (which bounds what its expressions may read).
 */
import { parseDuration } from "../formats/duration.js";
import type { StepSpec, WorkflowSpec } from "../formats/types.js";

export interface StepNode {
  id: string;
  /** Position in the workflow file; a stable tie-breaker for scheduling and display. */
  index: number;
  spec: StepSpec;
  needs: string[];
  dependents: string[];
  /** Transitive dependencies. */
  ancestors: Set<string>;
  afterMs: number;
  timeoutMs: number | undefined;
}

export interface RunGraph {
  nodes: Map<string, StepNode>;
  /** A topological order, ties broken by file order. */
  order: string[];
  timeoutMs: number | undefined;
}

export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GraphError";
  }
}

function duration(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (e) {
    throw new GraphError(`${what}: ${(e as Error).message}`);
  }
}

export function buildGraph(workflow: Pick<WorkflowSpec, "steps" | "timeout">): RunGraph {
  const nodes = new Map<string, StepNode>();
  workflow.steps.forEach((spec, index) => {
    if (nodes.has(spec.id)) throw new GraphError(`step "${spec.id}" is defined twice`);
    nodes.set(spec.id, {
      id: spec.id,
      index,
      spec,
      needs: [...new Set(spec.needs ?? [])],
      dependents: [],
      ancestors: new Set(),
      afterMs: duration(spec.after, `step "${spec.id}" after`) ?? 0,
      timeoutMs: duration(spec.timeout, `step "${spec.id}" timeout`),
    });
  });
  for (const node of nodes.values()) {
    for (const need of node.needs) {
      const dep = nodes.get(need);
      if (!dep) throw new GraphError(`step "${node.id}" needs unknown step "${need}"`);
      if (need === node.id) throw new GraphError(`step "${node.id}" needs itself`);
      dep.dependents.push(node.id);
    }
  }
  // Kahn's algorithm; picking the lowest file index keeps the order readable. The
  // ready set is a heap: sorting it at every pick made a wide workflow quadratic.
  const indegree = new Map([...nodes.values()].map((n) => [n.id, n.needs.length]));
  const order: string[] = [];
  const byIndex = [...nodes.values()];
  const ready = new MinHeap();
  for (const n of byIndex) if (n.needs.length === 0) ready.push(n.index);
  while (ready.size > 0) {
    const node = byIndex[ready.pop()]!;
    order.push(node.id);
    for (const d of node.dependents) {
      const left = indegree.get(d)! - 1;
      indegree.set(d, left);
      if (left === 0) ready.push(nodes.get(d)!.index);
    }
  }
  if (order.length !== nodes.size) {
    const placed = new Set(order);
    const stuck = [...nodes.keys()].filter((id) => !placed.has(id));
    throw new GraphError(`dependency cycle among steps: ${stuck.join(", ")}`);
  }
  for (const id of order) {
    const node = nodes.get(id)!;
    for (const need of node.needs) {
      node.ancestors.add(need);
      for (const a of nodes.get(need)!.ancestors) node.ancestors.add(a);
    }
  }
  return { nodes, order, timeoutMs: duration(workflow.timeout, "workflow timeout") };
}

export function node(graph: RunGraph, id: string): StepNode {
  const n = graph.nodes.get(id);
  if (!n) throw new GraphError(`no step "${id}" in this run`);
  return n;
}

/** A binary min-heap of step indices. */
class MinHeap {
  private readonly a: number[] = [];

  get size(): number {
    return this.a.length;
  }

  push(x: number): void {
    const a = this.a;
    a.push(x);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
