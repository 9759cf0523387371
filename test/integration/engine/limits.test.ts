/**
 * Concurrency limits (per run and per worker), a run deadline that passes while
 * nothing runs, and cancelling a run that is still waiting for its lock.
 */
import { expect, it } from "vitest";
import { BACKENDS } from "./backends.js";
import { describeEngine } from "./fixture.js";
import { loadWorkflow, stepStates } from "./harness.js";
import { rowsOf } from "../../../src/store/db.js";
import { cancelRun, getRun } from "../../../src/store/runs.js";
import { listAuditEvents } from "../../../src/store/audit.js";

/** Most spans open at one instant. */
function maxOverlap(spans: { start: number; end: number }[]): number {
  return Math.max(0, ...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
}

describeEngine("limits, deadlines and lock waits on $name", (env) => {
  it("runs independent steps in parallel, never more at once than the run's maxParallel", async () => {
    env.startWorkers(1, { concurrency: 8 });
    const { runId } = await env.startRun(loadWorkflow("parallel.yaml"), {}, { maxParallel: 2 });
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    expect(env.journal.spans).toHaveLength(6);
    expect(maxOverlap(env.journal.spans)).toBe(2);
  });

  it("never runs more steps at once than the worker's concurrency", async () => {
    env.startWorkers(1, { concurrency: 3 });
    const { runId } = await env.startRun(loadWorkflow("parallel.yaml"));
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    expect(maxOverlap(env.journal.spans)).toBe(3);
  });

  it("spreads one run's parallel steps over several workers", async () => {
    env.startWorkers(3, { concurrency: 2 });
    const { runId } = await env.startRun(loadWorkflow("parallel.yaml"));
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    expect(maxOverlap(env.journal.spans)).toBe(6);
  });

  it("ends a run at its deadline while its only open step waits on a timer", async () => {
    env.startWorkers(1);
    const started = Date.now();
    const { runId } = await env.startRun(loadWorkflow("timeout-while-waiting.yaml"));
    const run = await env.waitForRun(runId, 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(run.state).toBe("rolled_back");
    expect(run.error).toBe("run timed out");
    expect(stepStates(run)).toEqual({ grant: "rolled_back", hold: "cancelled", revoke: "cancelled" });
    expect(env.journal.events).toEqual(["run:grant", "rollback:grant:grant"]);
  });

  it("cancels a run still waiting for its lock; the lock then passes to the next in line", async () => {
    const wf = loadWorkflow("locked.yaml");
    const one = await env.startRun(wf, { database: "orders", tag: "one" });
    const two = await env.startRun(wf, { database: "orders", tag: "two" });
    const three = await env.startRun(wf, { database: "orders", tag: "three" });
    expect([one.state, two.state, three.state]).toEqual(["running", "waiting", "waiting"]);
    expect(await cancelRun(env.store, two.runId, "carol")).toBe("cancelled");
    env.startWorkers(1);
    expect((await env.waitForRun(one.runId)).state).toBe("succeeded");
    expect((await env.waitForRun(three.runId)).state).toBe("succeeded");
    const cancelled = await env.waitForRun(two.runId);
    expect(stepStates(cancelled)).toEqual({ work: "cancelled" });
    expect(env.journal.events).toEqual(["run:one", "run:three"]);
    const kinds = (await listAuditEvents(env.store.db, { runId: two.runId })).map((e) => e.kind);
    expect(kinds).toEqual(["run.created", "run.waiting", "run.cancel_requested", "step.cancelled", "run.cancelled"]);
  });

  it("delays `after:` steps the same way whether queued at run start or when a dependency finishes", async () => {
    env.startWorkers(1);
    const started = Date.now();
    const { runId } = await env.startRun(loadWorkflow("after.yaml"));
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    const events = (await listAuditEvents(env.store.db, { runId })).filter((e) => e.kind === "step.waiting");
    expect(events.map((e) => [e.step_id, e.data])).toEqual([["first", { timerMs: 300 }], ["second", { timerMs: 300 }]]);
    const gap = rowsOf<{ first_ms: string; second_ms: string }>(await env.store.db.raw(
      `select extract(epoch from (f.started_at - r.created_at)) * 1000 as first_ms,
              extract(epoch from (s.started_at - f.finished_at)) * 1000 as second_ms
       from runs r join steps f on f.run_id = r.id and f.step_id = 'first' join steps s on s.run_id = r.id and s.step_id = 'second'
       where r.id = ?`, [runId]))[0]!;
    // each started no sooner than 300 ms after it was queued
    expect(Number(gap.first_ms)).toBeGreaterThanOrEqual(300);
    expect(Number(gap.second_ms)).toBeGreaterThanOrEqual(300);
  });

  it("cancels a run whose step waits on a timer: the timer never fires, completed steps are rolled back", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("timer.yaml"));
    await env.waitForRun(runId, 5_000, (r) => r.steps.find((s) => s.stepId === "hold")?.state === "waiting" && r.steps.find((s) => s.stepId === "later")?.state === "succeeded");
    // the completed steps' rollbacks are queued: the run ends once they ran
    expect(await cancelRun(env.store, runId, "carol")).toBe("rolling_back");
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("cancelled");
    expect(stepStates(run)).toEqual({ grant: "rolled_back", hold: "cancelled", revoke: "cancelled", later: "rolled_back" });
    await new Promise((r) => setTimeout(r, 1_500)); // past the timer's due time
    expect(env.journal.events.filter((e) => e === "run:revoke")).toHaveLength(0);
    expect((await getRun(env.store, runId))!.state).toBe("cancelled");
  });
});

// PGlite has no other process to hear from: it polls. This needs the real server.
describeEngine("waking workers on a real server", (env) => {
  it("wakes an idle worker by NOTIFY, long before its next poll", async () => {
    env.startWorkers(1, { pollMs: 60_000 });
    await new Promise((r) => setTimeout(r, 500)); // idle, listening
    const started = Date.now();
    const { runId } = await env.startRun(loadWorkflow("diamond.yaml"), { name: "wake" });
    expect((await env.waitForRun(runId, 10_000)).state).toBe("succeeded");
    expect(Date.now() - started).toBeLessThan(3_000);
  });
}, { backends: BACKENDS.filter((b) => b.name === "pg") });
