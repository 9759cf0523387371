import { describe, expect, it } from "vitest";
import type { RunState, StepState } from "../../../../src/engine/states.js";
import { MAX_OUTPUT_TEXT, MAX_TITLE } from "../../../../src/github/render.js";
import { renderOutcomeComment, commentMarker, MAX_COMMENT } from "../../../../src/github/run-report/outcome-comment.js";
import { actionsFor, conclusionOf, MAX_GRAPH_STEPS, renderRunCheck, RUN_TIMEOUT_ERROR } from "../../../../src/github/run-report/run-check.js";
import type { RunSnapshot, StepSnapshot } from "../../../../src/store/run-reports.js";

const T0 = new Date("2026-12-02T10:00:00Z");
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

function step(id: string, state: StepState, over: Partial<StepSnapshot> = {}): StepSnapshot {
  const started = ["pending", "ready", "waiting", "cancelled"].includes(state) ? null : at(1);
  const finished = started && !["running", "rolling_back"].includes(state) ? at(3) : null;
  return { id, uses: "noop", needs: [], state, attempt: started ? 1 : 0, rollbackAttempt: 0, hasRollback: true, startedAt: started, finishedAt: finished, errorClass: null, error: null, ...over };
}

function snap(state: RunState, steps: StepSnapshot[], over: Partial<RunSnapshot> = {}): RunSnapshot {
  return {
    runId: "3f1c0a52-0000-4000-8000-000000000001",
    workflow: "restart-service",
    requestPath: "requests/restart.yaml",
    repository: "acme/ops",
    pullRequest: 7,
    commit: "a".repeat(40),
    requester: "alice",
    breakGlass: false,
    state,
    error: null,
    cancelRequested: false,
    lockKey: null,
    lockHolder: null,
    createdAt: T0,
    finishedAt: ["waiting", "running", "rolling_back"].includes(state) ? null : at(10),
    steps,
    undone: [],
    lastSeq: 42,
    lastHash: "f".repeat(64),
    expiry: null,
    followedUp: null,
    ...over,
  };
}

describe("the run check's status and conclusion", () => {
  const cases: [string, RunState, string | null, string, string | undefined][] = [
    ["waiting for its lock", "waiting", null, "queued", undefined],
    ["running", "running", null, "in_progress", undefined],
    ["rolling back", "rolling_back", "step second failed", "in_progress", undefined],
    ["succeeded", "succeeded", null, "completed", "success"],
    ["failed with nothing to undo", "failed", "step x failed", "completed", "failure"],
    ["rolled back after a failure", "rolled_back", "step x failed", "completed", "failure"],
    ["rollback failed", "rollback_failed", "step x failed", "completed", "action_required"],
    ["cancelled", "cancelled", "cancelled by sam", "completed", "cancelled"],
    ["timed out and rolled back", "rolled_back", RUN_TIMEOUT_ERROR, "completed", "timed_out"],
    ["timed out with nothing to undo", "failed", RUN_TIMEOUT_ERROR, "completed", "timed_out"],
  ];
  it.each(cases)("%s", (_name, state, error, status, conclusion) => {
    const c = renderRunCheck(snap(state, [step("a", "succeeded")], { error }), { now: at(20) });
    expect(c.status).toBe(status);
    expect(c.conclusion).toBe(conclusion);
    expect(conclusionOf({ state, error })).toBe(conclusion);
    expect(c.completed_at === undefined).toBe(conclusion === undefined);
  });

  it("names the run holding the lock while queued", () => {
    const c = renderRunCheck(snap("waiting", [step("a", "pending")], { lockKey: "service:checkout", lockHolder: "9d2e" }), { now: at(1) });
    expect(c.output.title).toBe("Waiting for lock service:checkout, held by run 9d2e");
  });
});

describe("buttons", () => {
  it("offers cancel while queued or running, retry after a failure, roll back after a success with undoable steps", () => {
    expect(actionsFor(snap("waiting", [])).map((a) => a.identifier)).toEqual(["cancel"]);
    expect(actionsFor(snap("running", [])).map((a) => a.identifier)).toEqual(["cancel"]);
    expect(actionsFor(snap("rolling_back", []))).toEqual([]);
    expect(actionsFor(snap("failed", [])).map((a) => a.identifier)).toEqual(["retry"]);
    expect(actionsFor(snap("rolled_back", [])).map((a) => a.identifier)).toEqual(["retry"]);
    expect(actionsFor(snap("succeeded", [step("a", "succeeded")])).map((a) => a.identifier)).toEqual(["rollback"]);
    expect(actionsFor(snap("succeeded", [step("a", "succeeded", { hasRollback: false })]))).toEqual([]);
    expect(actionsFor(snap("rollback_failed", []))).toEqual([]);
    expect(actionsFor(snap("cancelled", []))).toEqual([]);
  });

  it("stay within GitHub's limits (label 20, description 40, identifier 20, at most 3)", () => {
    for (const state of ["waiting", "failed", "succeeded"] as RunState[]) {
      const actions = actionsFor(snap(state, [step("a", "succeeded")]));
      expect(actions.length).toBeLessThanOrEqual(3);
      for (const a of actions) {
        expect(a.label.length).toBeLessThanOrEqual(20);
        expect(a.description.length).toBeLessThanOrEqual(40);
        expect(a.identifier.length).toBeLessThanOrEqual(20);
      }
    }
  });
});

describe("the step table", () => {
  it("shows state, attempt, duration and the last error of each step; what was undone, in order", () => {
    const steps = [
      step("first", "rolled_back", { rollbackAttempt: 1 }),
      step("second", "rolled_back", { rollbackAttempt: 2, needs: ["first"] }),
      step("third", "failed", { attempt: 3, errorClass: "http-5xx", error: "deploy API answered 502", needs: ["second"] }),
    ];
    const c = renderRunCheck(snap("rolled_back", steps, { error: "step third failed", undone: ["second", "first"] }), { now: at(20) });
    expect(c.output.title).toBe("Failed at third; rolled back 2 steps");
    expect(c.output.summary).toContain("Undone, in order: `second` → `first`.");
    expect(c.output.summary).toContain("| `third` | failed | 3 | 2s | http-5xx: deploy API answered 502 |");
    expect(c.output.summary).toContain("| `second` | rolled back | 1 (+2 undo) | 2s |  |");
  });

  it("renders a running step by when it started, so an unchanged run renders the same at any time", () => {
    const s = snap("running", [step("a", "running")]);
    expect(renderRunCheck(s, { now: at(5) })).toEqual(renderRunCheck(s, { now: at(500) }));
    expect(renderRunCheck(s, { now: at(5) }).output.summary).toContain("| `a` | running | 1 | since 10:00:01 UTC |  |");
  });

  it("makes hostile error text inert: no table breakout, no HTML, bounded", () => {
    const evil = `boom | injected | cell\n\n<img src=x onerror=alert(1)> ${"x".repeat(5_000)}`;
    const c = renderRunCheck(snap("failed", [step("a|b", "failed", { error: evil })]), { now: at(20) });
    const row = c.output.summary.split("\n").find((l) => l.startsWith("| `a"))!;
    expect(row).not.toContain("<img");
    expect(row).toContain("&lt;img");
    expect(row.split(/(?<!\\)\|/).length).toBe(7); // six cell borders, none injected
    expect(row.length).toBeLessThan(500);
  });

  it("summarises a 1,000-step run within GitHub's limits: counts by state, failed and running steps in full", () => {
    const steps = Array.from({ length: 1_000 }, (_, i) => step(`step-${String(i).padStart(4, "0")}`, i < 700 ? "succeeded" : i < 702 ? "running" : i === 702 ? "failed" : "pending", i === 702 ? { error: "quota exceeded" } : {}));
    const c = renderRunCheck(snap("rolling_back", steps), { now: at(20) });
    expect(c.output.summary.length).toBeLessThanOrEqual(MAX_OUTPUT_TEXT);
    expect(c.output.title.length).toBeLessThanOrEqual(MAX_TITLE);
    expect(c.output.summary).toContain("1000 steps: 700 succeeded, 2 running, 1 failed, 297 pending.");
    expect(c.output.summary).toContain("| `step-0702` | failed | 1 | 2s | quota exceeded |");
    expect(c.output.summary).toContain("| `step-0700` | running |");
    expect(c.output.summary).not.toContain("`step-0001`");
    expect(c.output.text).toBeUndefined(); // above MAX_GRAPH_STEPS no graph
    expect(MAX_GRAPH_STEPS).toBeLessThan(1_000);
  });
});

describe("the Mermaid graph", () => {
  it("colours each step by state and escapes ids", () => {
    const steps = [step("a", "succeeded"), step('b"]-->x', "failed", { needs: ["a"] }), step("c", "running", { needs: ["a"] }), step("d", "rolled_back"), step("e", "pending")];
    const text = renderRunCheck(snap("rolling_back", steps), { now: at(20) }).output.text!;
    expect(text).toContain('s0["a<br/>succeeded"]:::done');
    expect(text).toContain('s1["b#34;]--#62;x<br/>failed"]:::bad');
    expect(text).toContain('s2["c<br/>running"]:::active');
    expect(text).toContain('s3["d<br/>rolled back"]:::undone');
    expect(text).toContain('s4["e<br/>pending"]:::todo');
    expect(text).toContain("s0 --> s1");
    expect(text).toContain("s0 --> s2");
  });
});

describe("the outcome comment", () => {
  const done = snap("rolled_back", [step("first", "rolled_back"), step("second", "failed", { error: "nope" })], { undone: ["first"], error: "step second failed" });

  it("starts with the run's marker and gives result, duration, undo, audit reference and the command", () => {
    const body = renderOutcomeComment(done, { anchor: { seq: 50, hash: "e".repeat(64), where: "acme/ops@main" } });
    expect(body.startsWith(commentMarker(done.runId))).toBe(true);
    expect(body).toContain("### ❌ Run failed");
    expect(body).toContain("- **Duration**: 10s (2026-12-02 10:00:00 UTC → 2026-12-02 10:00:10 UTC)");
    expect(body).toContain("- **Failed**: `second`: nope");
    expect(body).toContain("- **Undone**: `first`.");
    expect(body).toContain(`- **Audit**: run \`${done.runId}\`; the chain after the run: seq 42, hash \`${"f".repeat(64)}\``);
    expect(body).toContain("published as the `clutch-luigi/audit` status on acme/ops@main");
    expect(body).toContain(`clutch-luigi audit show ${done.runId}`);
  });

  it("asks for a follow-up on a break-glass run and for a person when a rollback failed", () => {
    expect(renderOutcomeComment({ ...done, breakGlass: true })).toContain("Break-glass follow-up needed");
    expect(renderOutcomeComment({ ...done, state: "rollback_failed" })).toContain("### ⚠️ Rollback failed: action required");
  });

  it("is bounded and inert whatever the step errors say", () => {
    const many = Array.from({ length: 2_000 }, (_, i) => step(`s${i}`, "failed", { error: `<script>${"y".repeat(1_000)}` }));
    const body = renderOutcomeComment(snap("failed", many));
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT);
    expect(body).not.toContain("<script>");
  });
});
