import { describe, expect, it } from "vitest";
import {
  assertRunMove,
  assertStepMove,
  canRunMove,
  canStepMove,
  isFinalRunState,
  RUN_STATES,
  STEP_STATES,
  type RunState,
  type StepState,
} from "../../../src/engine/states.js";

describe("step state machine", () => {
  it.each<[StepState, StepState, boolean]>([
    ["pending", "ready", true],
    ["pending", "waiting", true],
    ["pending", "running", false],
    ["ready", "running", true],
    ["waiting", "running", true],
    ["running", "succeeded", true],
    ["running", "skipped", true],
    ["running", "ready", true], // retry or interrupted attempt
    ["running", "waiting", true], // parked on a timer
    ["succeeded", "rolling_back", true],
    ["succeeded", "running", false],
    ["skipped", "rolling_back", false], // work someone else did is not ours to undo
    ["failed", "rolling_back", false],
    ["rolling_back", "rolled_back", true],
    ["rolling_back", "rollback_failed", true],
    ["rolled_back", "rolling_back", false],
    ["cancelled", "ready", false],
    // a retry: steps that did not finish well are run again, from the start
    ["failed", "pending", true],
    ["cancelled", "pending", true],
    ["rolled_back", "pending", true],
    ["rollback_failed", "pending", false], // a failed undo is for a person to sort out
    ["skipped", "pending", false],
    ["failed", "ready", false],
  ])("%s → %s allowed: %s", (from, to, ok) => {
    expect(canStepMove(from, to)).toBe(ok);
    if (ok) expect(() => assertStepMove(from, to)).not.toThrow();
    else expect(() => assertStepMove(from, to)).toThrow(`illegal step transition ${from} → ${to}`);
  });

  it("every state's successors are known states", () => {
    for (const s of STEP_STATES) for (const to of STEP_STATES) expect(typeof canStepMove(s, to)).toBe("boolean");
  });
});

describe("run state machine", () => {
  it.each<[RunState, RunState, boolean]>([
    ["waiting", "running", true],
    ["waiting", "cancelled", true],
    ["running", "succeeded", true],
    ["running", "rolling_back", true],
    ["running", "failed", false], // failing always passes through rolling_back
    ["rolling_back", "rolled_back", true],
    ["rolling_back", "cancelled", true],
    ["succeeded", "rolling_back", true], // "Roll back" of a finished run
    ["succeeded", "running", false],
    ["failed", "running", true], // "Retry failed steps"
    ["failed", "waiting", true], // … and its lock is held by another run
    ["rolled_back", "running", true],
    ["rollback_failed", "running", false],
    ["cancelled", "running", false],
    ["waiting", "rolling_back", false],
  ])("%s → %s allowed: %s", (from, to, ok) => {
    expect(canRunMove(from, to)).toBe(ok);
    if (!ok) expect(() => assertRunMove(from, to)).toThrow(/illegal run transition/);
  });

  it("has exactly the documented final states", () => {
    expect(RUN_STATES.filter(isFinalRunState).sort()).toEqual(
      ["cancelled", "failed", "rollback_failed", "rolled_back", "succeeded"].sort(),
    );
  });
});
