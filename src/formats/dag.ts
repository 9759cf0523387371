/**
 * Graph facts about a workflow's steps. Callers have already checked that ids are
 * unique and that every `needs` names a step; these functions tolerate neither
 * being true (unknown needs are ignored) so validation can run them regardless.
 */
export interface DagNode {
  id: string;
  needs?: string[];
}

/** The first cycle found, as a closed path (`[a, b, c, a]`), or undefined for a DAG. */
export function findCycle(nodes: readonly DagNode[]): string[] | undefined {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, "visiting");
    stack.push(id);
    for (const dep of byId.get(id)?.needs ?? []) {
      if (!byId.has(dep)) continue;
      const s = state.get(dep);
      if (s === "visiting") return [...stack.slice(stack.indexOf(dep)), dep];
      if (s === undefined) {
        const found = visit(dep);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const n of nodes) {
    if (!state.has(n.id)) {
      const found = visit(n.id);
      // We walk from a step to what it needs; print the cycle in execution order.
      if (found) return found.reverse();
    }
  }
  return undefined;
}

/** Steps grouped by the earliest stage they can run in; steps in one stage are independent. */
export function stages<T extends DagNode>(nodes: readonly T[]): T[][] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const level = new Map<string, number>();
  const depth = (n: T, seen: Set<string>): number => {
    const known = level.get(n.id);
    if (known !== undefined) return known;
    if (seen.has(n.id)) return 0; // a cycle: reported elsewhere
    seen.add(n.id);
    let d = 0;
    for (const dep of n.needs ?? []) {
      const m = byId.get(dep);
      if (m) d = Math.max(d, depth(m, seen) + 1);
    }
    level.set(n.id, d);
    return d;
  };
  const out: T[][] = [];
  for (const n of nodes) {
    const d = depth(n, new Set());
    (out[d] ??= []).push(n);
  }
  return out.filter(Boolean);
}

/** For each step, every step it depends on directly or transitively. */
export function ancestors(nodes: readonly DagNode[]): Map<string, Set<string>> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const memo = new Map<string, Set<string>>();
  const of = (id: string, seen: Set<string>): Set<string> => {
    const known = memo.get(id);
    if (known) return known;
    const out = new Set<string>();
    if (seen.has(id)) return out;
    seen.add(id);
    for (const dep of byId.get(id)?.needs ?? []) {
      if (!byId.has(dep)) continue;
      out.add(dep);
      for (const a of of(dep, seen)) out.add(a);
    }
    memo.set(id, out);
    return out;
  };
  for (const n of nodes) of(n.id, new Set());
  return memo;
}
