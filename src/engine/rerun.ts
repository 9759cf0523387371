/**
 * What "Retry failed steps" runs again. Pure over the
 * run's graph and its step states, so the rules are table rows in the tests:
 *
 * - A step that finished well (succeeded, or skipped by its check) keeps its outputs
 *   and is never run twice, even when a step it depends on runs again.
 * - A failed, cancelled or rolled-back step runs again from the start. A rolled-back
 *   step's effect was undone, so running it again is what retrying the run means.
 * - A step whose undo failed blocks the retry: the world is in a state nobody planned.
 * - Dependencies hold as on the first run: a step runs again once the steps it needs
 *   that also run again have succeeded.
 */
import type { RunGraph } from "./graph.js";
import { canStepMove, type StepState } from "./states.js";

export interface RerunPlan {
  /** Steps to run again, in graph order. */
  rerun: string[];
  /** For each of them: how many of its needs run again (it waits for those only). */
  depsLeft: Map<string, number>;
}

const KEPT: ReadonlySet<StepState> = new Set(["succeeded", "skipped"]);

export class RerunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RerunError";
  }
}

export function planRerun(graph: RunGraph, states: ReadonlyMap<string, StepState>): RerunPlan {
  const rerun: string[] = [];
  for (const id of graph.order) {
    const s = states.get(id);
    if (s === undefined) throw new RerunError(`step "${id}" has no state`);
    if (KEPT.has(s)) continue;
    if (!canStepMove(s, "pending")) throw new RerunError(`step "${id}" is ${s}: it cannot run again`);
    rerun.push(id);
  }
  const again = new Set(rerun);
  const depsLeft = new Map(rerun.map((id) => [id, graph.nodes.get(id)!.needs.filter((n) => again.has(n)).length]));
  return { rerun, depsLeft };
}
