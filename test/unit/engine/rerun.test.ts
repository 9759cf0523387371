import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../src/engine/graph.js";
import { planRerun } from "../../../src/engine/rerun.js";
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
type Row = Record<"a" | "b" | "side" | "c" | "boom", StepState>;
const plan = (r: Row) => {
  const p = planRerun(graph, new Map(Object.entries(r) as [string, StepState][]));
  return { rerun: p.rerun, depsLeft: Object.fromEntries(p.depsLeft) };
};

describe("planRerun", () => {
  it.each<[string, Row, { rerun: string[]; depsLeft: Record<string, number> }]>([
    [
      "a failed run keeps what succeeded and re-runs the failure and what it cancelled",
      { a: "succeeded", b: "succeeded", side: "succeeded", c: "failed", boom: "cancelled" },
      { rerun: ["c", "boom"], depsLeft: { c: 0, boom: 1 } },
    ],
    [
      "a rolled-back run re-runs the undone steps too, waiting on each other as before",
      { a: "rolled_back", b: "rolled_back", side: "rolled_back", c: "rolled_back", boom: "failed" },
      { rerun: ["a", "b", "side", "c", "boom"], depsLeft: { a: 0, b: 1, side: 1, c: 1, boom: 2 } },
    ],
    [
      "a step that could not be undone stays succeeded and is not waited for",
      { a: "rolled_back", b: "succeeded", side: "rolled_back", c: "failed", boom: "cancelled" },
      { rerun: ["a", "side", "c", "boom"], depsLeft: { a: 0, side: 1, c: 0, boom: 2 } },
    ],
    [
      "a skipped step (its check said done) is kept like a success",
      { a: "skipped", b: "failed", side: "skipped", c: "cancelled", boom: "cancelled" },
      { rerun: ["b", "c", "boom"], depsLeft: { b: 0, c: 1, boom: 1 } },
    ],
    [
      "nothing to do for a run that succeeded",
      { a: "succeeded", b: "succeeded", side: "succeeded", c: "succeeded", boom: "succeeded" },
      { rerun: [], depsLeft: {} },
    ],
  ])("%s", (_name, row, expected) => {
    expect(plan(row)).toEqual(expected);
  });

  it.each<StepState>(["rollback_failed", "running", "rolling_back", "pending", "ready", "waiting"])("refuses a run with a step %s", (s) => {
    expect(() => plan({ a: "succeeded", b: s, side: "succeeded", c: "cancelled", boom: "cancelled" })).toThrow(/cannot run again/);
  });

  it("refuses a snapshot that misses a step", () => {
    expect(() => planRerun(graph, new Map([["a", "failed" as StepState]]))).toThrow(/has no state/);
  });
});
