import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../src/engine/graph.js";
import { planRollback, type RollbackPlan } from "../../../src/engine/rollback.js";
import type { StepState } from "../../../src/engine/states.js";

// a → b → c, a → side; c and side → boom
const graph = buildGraph({
  steps: [
    { id: "a", uses: "x" },
    { id: "b", uses: "x", needs: ["a"] },
    { id: "side", uses: "x", needs: ["a"] },
    { id: "c", uses: "x", needs: ["b"] },
    { id: "boom", uses: "x", needs: ["c", "side"] },
  ],
});

type Row = Partial<Record<"a" | "b" | "side" | "c" | "boom", StepState | [StepState, boolean]>>;

function plan(states: Row, cancelRequested = false): RollbackPlan {
  const steps = new Map(
    Object.entries(states).map(([id, v]) => {
      const [state, hasRollback] = Array.isArray(v) ? v : [v, true];
      return [id, { state, hasRollback }] as const;
    }),
  );
  return planRollback(graph, { cancelRequested, steps });
}

describe("planRollback", () => {
  it.each<[string, Row, boolean, RollbackPlan]>([
    ["leaves first: only steps with nothing standing downstream",
      { a: "succeeded", b: "succeeded", side: "succeeded", c: "succeeded", boom: "failed" }, false,
      { cancel: [], rollback: ["c", "side"], final: null }],
    ["walks up once the leaves are undone",
      { a: "succeeded", b: "succeeded", side: "rolled_back", c: "rolled_back", boom: "failed" }, false,
      { cancel: [], rollback: ["b"], final: null }],
    ["the root last",
      { a: "succeeded", b: "rolled_back", side: "rolled_back", c: "rolled_back", boom: "failed" }, false,
      { cancel: [], rollback: ["a"], final: null }],
    ["finishes rolled_back",
      { a: "rolled_back", b: "rolled_back", side: "rolled_back", c: "rolled_back", boom: "failed" }, false,
      { cancel: [], rollback: [], final: "rolled_back" }],
    ["cancels what never started and waits for a running sibling",
      { a: "succeeded", b: "succeeded", side: "running", c: "failed", boom: "pending" }, false,
      { cancel: ["boom"], rollback: ["b"], final: null }],
    ["steps without a rollback pass through",
      { a: "succeeded", b: ["succeeded", false], side: ["succeeded", false], c: "failed", boom: "pending" }, false,
      { cancel: ["boom"], rollback: ["a"], final: null }],
    ["nothing to undo → failed",
      { a: ["succeeded", false], b: "failed", side: "cancelled", c: "pending", boom: "pending" }, false,
      { cancel: ["c", "boom"], rollback: [], final: "failed" }],
    ["a failed rollback keeps its ancestors in place",
      { a: "succeeded", b: "rollback_failed", side: "rolled_back", c: "rolled_back", boom: "failed" }, false,
      { cancel: [], rollback: [], final: "rollback_failed" }],
    ["skipped work is not undone",
      { a: "skipped", b: "succeeded", side: "skipped", c: "failed", boom: "ready" }, false,
      { cancel: ["boom"], rollback: ["b"], final: null }],
    ["a cancelled run ends cancelled",
      { a: "rolled_back", b: "cancelled", side: "cancelled", c: "cancelled", boom: "cancelled" }, true,
      { cancel: [], rollback: [], final: "cancelled" }],
    ["cancel with a failed rollback ends rollback_failed",
      { a: "rollback_failed", b: "cancelled", side: "waiting", c: "cancelled", boom: "cancelled" }, true,
      { cancel: ["side"], rollback: [], final: "rollback_failed" }],
  ])("%s", (_name, states, cancelled, expected) => {
    expect(plan(states, cancelled)).toEqual(expected);
  });
});
