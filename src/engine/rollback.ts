/**
 * What a failing (or cancelled) run does next. Pure over a snapshot of its steps so
 * that every odd interleaving — a sibling still running, a rollback that failed
 * half-way — is a table row in the tests rather than a hope.
 */
import type { RunGraph } from "./graph.js";
import type { RunState, StepState } from "./states.js";

export interface StepSnapshot {
  state: StepState;
  /** The workflow names a `rollback:` for it, or its action has a rollback(). */
  hasRollback: boolean;
}

export interface FailingRunSnapshot {
  cancelRequested: boolean;
  steps: ReadonlyMap<string, StepSnapshot>;
}

export interface RollbackPlan {
  /** Steps that never started: mark cancelled. */
  cancel: string[];
  /** Completed steps whose dependents are all undone: start their rollback now. */
  rollback: string[];
  /** Set when nothing is left in flight: the run's final state. */
  final: RunState | null;
}

const NOT_STARTED: ReadonlySet<StepState> = new Set(["pending", "ready", "waiting"]);
const IN_FLIGHT: ReadonlySet<StepState> = new Set(["running", "rolling_back"]);

export function planRollback(graph: RunGraph, run: FailingRunSnapshot): RollbackPlan {
  const state = new Map<string, StepSnapshot>();
  for (const [id, s] of run.steps) state.set(id, { ...s });
  const cancel: string[] = [];
  for (const id of graph.order) {
    const s = state.get(id);
    if (s && NOT_STARTED.has(s.state)) {
      cancel.push(id);
      s.state = "cancelled";
    }
  }
  // A step is out of its dependents' way once nothing it enabled is still standing.
  // A dependent whose own rollback failed still stands, so its ancestors stay put:
  // undoing a prerequisite under live work would make things worse, not better.
  const settled = (id: string): boolean => {
    const s = state.get(id);
    if (!s) return true;
    if (IN_FLIGHT.has(s.state) || s.state === "rollback_failed") return false;
    return !(s.state === "succeeded" && s.hasRollback);
  };
  const rollback: string[] = [];
  for (const id of [...graph.order].reverse()) {
    const s = state.get(id);
    if (!s || s.state !== "succeeded" || !s.hasRollback) continue;
    if (graph.nodes.get(id)!.dependents.every(settled)) rollback.push(id);
  }
  for (const id of rollback) state.get(id)!.state = "rolling_back";
  const states = [...state.values()].map((s) => s.state);
  if (states.some((s) => IN_FLIGHT.has(s))) return { cancel, rollback, final: null };
  let final: RunState;
  if (states.includes("rollback_failed")) final = "rollback_failed";
  else if (run.cancelRequested) final = "cancelled";
  else if (states.includes("rolled_back")) final = "rolled_back";
  else final = "failed";
  return { cancel, rollback, final };
}
