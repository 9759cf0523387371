/**
 * Retry, roll back and cancel as a person asks for them, on real Postgres and PGlite:
 * the same run becomes active again, steps run again (or are undone) in dependency
 * order, locks are taken again, and every request is an audit row. Executions are
 * counted by the test actions' journal, never by the engine's own rows.
 */
import { expect, it } from "vitest";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { listAuditEvents } from "../../../src/store/audit.js";
import { rowsOf } from "../../../src/store/db.js";
import { retryRun, rollbackRun, RunControlRefusal } from "../../../src/store/run-control.js";
import { cancelRun, getRun } from "../../../src/store/runs.js";
import { describeEngine } from "./fixture.js";
import { stepStates } from "./harness.js";

function workflow(name: string, steps: WorkflowSpec["steps"], extra: Partial<WorkflowSpec> = {}): WorkflowSpec {
  return { apiVersion: "clutch-luigi/v1", kind: "Workflow", name, steps, ...extra };
}

/** a (undoable) → b (fails on its first attempt) → c; side needs a. */
const FLAKY_CHAIN = workflow("flaky-chain", [
  { id: "a", uses: "test.record", with: { tag: "a" } },
  { id: "b", needs: ["a"], uses: "test.flaky", with: { tag: "b", code: "http-4xx", failTimes: 1 } },
  { id: "side", needs: ["a"], uses: "test.record", with: { tag: "side" } },
  { id: "c", needs: ["b"], uses: "test.record", with: { tag: "c" } },
]);

/** Nothing can be undone: a failure leaves the run `failed`. */
const NO_UNDO = workflow("no-undo", [
  { id: "x", uses: "test.flaky", with: { tag: "x", code: "http-4xx", failTimes: 0 } },
  { id: "y", needs: ["x"], uses: "test.flaky", with: { tag: "y", code: "http-4xx", failTimes: 1 } },
]);

const CHAIN = workflow("chain", [
  { id: "first", uses: "test.record", with: { tag: "first" } },
  { id: "second", needs: ["first"], uses: "test.record", with: { tag: "second" } },
  { id: "plain", needs: ["first"], uses: "noop" },
]);

const LOCKED_FLAKY = workflow("locked-flaky", [{ id: "only", uses: "test.flaky", with: { tag: "only", code: "http-4xx", failTimes: 1 } }], { lock: "svc:checkout" });
const LOCKED_HOLD = workflow("locked-hold", [{ id: "hold", uses: "test.record", with: { tag: "hold" } }], { lock: "svc:checkout" });
const WAITS = workflow("waits", [
  { id: "before", uses: "test.record", with: { tag: "before" } },
  { id: "pause", needs: ["before"], uses: "test.wait", with: { ms: 600_000 } },
  { id: "after", needs: ["pause"], uses: "test.record", with: { tag: "after" } },
]);

describeEngine("run control on $name", (env) => {
  const kinds = async (runId: string) => (await listAuditEvents(env.store.db, { runId })).map((e) => `${e.kind}${e.step_id ? `:${e.step_id}` : ""}`);
  const keyOf = async (runId: string, step: string) => rowsOf<{ idempotency_key: string }>(await env.store.db.raw("select idempotency_key from steps where run_id = ? and step_id = ?", [runId, step]))[0]!.idempotency_key;

  it("retries a rolled-back run: the undone and failed steps run again in dependency order, and the run succeeds", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(FLAKY_CHAIN);
    const first = await env.waitForRun(runId);
    expect(first.state).toBe("rolled_back");
    expect(stepStates(first)).toEqual({ a: "rolled_back", b: "failed", side: "rolled_back", c: "cancelled" });
    const keyBefore = await keyOf(runId, "a");
    env.journal.events.length = 0;

    const retried = await retryRun(env.store, runId, "sam", { via: "test" });
    expect(retried.steps).toEqual(["a", "b", "side", "c"]);
    expect(["running", "succeeded"]).toContain(retried.state);
    const done = await env.waitForRun(runId);
    expect(done.state).toBe("succeeded");
    expect(stepStates(done)).toEqual({ a: "succeeded", b: "succeeded", side: "succeeded", c: "succeeded" });
    // a before b and side, b before c; b's second attempt is its first after the retry.
    expect(env.journal.events[0]).toBe("run:a");
    expect(env.journal.events.indexOf("run:b#2")).toBeGreaterThan(0);
    expect(env.journal.events.indexOf("run:c")).toBeGreaterThan(env.journal.events.indexOf("run:b#2"));
    expect([...env.journal.events].sort()).toEqual(["run:a", "run:b#2", "run:c", "run:side"]);
    // The undone step is a new operation downstream; the failed one keeps its key.
    expect(await keyOf(runId, "a")).not.toBe(keyBefore);
    expect(await keyOf(runId, "a")).toMatch(new RegExp(`^${runId}:a@\\d+$`));
    expect(await keyOf(runId, "b")).toBe(`${runId}:b`);

    const audit = await listAuditEvents(env.store.db, { runId });
    const retryRow = audit.find((e) => e.kind === "run.retried")!;
    expect(retryRow).toMatchObject({ actor: "sam", data: { from: "rolled_back", steps: ["a", "b", "side", "c"], via: "test" } });
    const after = audit.filter((e) => e.seq > retryRow.seq).map((e) => e.kind);
    expect(after[0]).toBe("run.started");
    expect(after.at(-1)).toBe("run.succeeded");
  });

  it("retries a failed run: what succeeded is kept (never run twice), only the failed step runs again", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(NO_UNDO);
    expect((await env.waitForRun(runId)).state).toBe("failed");
    const retried = await retryRun(env.store, runId, "sam");
    expect(retried.steps).toEqual(["y"]);
    const done = await env.waitForRun(runId);
    expect(done.state).toBe("succeeded");
    expect(env.journal.events).toEqual(["run:x#1", "run:y#1", "run:y#2"]);
    expect(done.steps.find((s) => s.stepId === "y")).toMatchObject({ attempt: 2, errorClass: null, error: null });
  });

  it("refuses to retry what is not failed or rolled back, and to roll back what did not succeed, changing nothing", async () => {
    env.startWorkers(1);
    const ok = await env.startRun(CHAIN);
    expect((await env.waitForRun(ok.runId)).state).toBe("succeeded");
    const before = await kinds(ok.runId);
    await expect(retryRun(env.store, ok.runId, "sam")).rejects.toMatchObject({ name: "RunControlRefusal", code: "not-retryable", state: "succeeded" });
    const bad = await env.startRun(NO_UNDO);
    expect((await env.waitForRun(bad.runId)).state).toBe("failed");
    await expect(rollbackRun(env.store, bad.runId, "sam")).rejects.toMatchObject({ code: "not-rollbackable", state: "failed" });
    await expect(retryRun(env.store, "00000000-0000-4000-8000-000000000000", "sam")).rejects.toBeInstanceOf(RunControlRefusal);
    expect(await kinds(ok.runId)).toEqual(before);
  });

  it("refuses to roll back a succeeded run none of whose steps can be undone", async () => {
    env.startWorkers(1);
    const wf = workflow("plain", [{ id: "n", uses: "noop" }]);
    const { runId } = await env.startRun(wf);
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    await expect(rollbackRun(env.store, runId, "sam")).rejects.toMatchObject({ code: "nothing-to-undo" });
    expect((await getRun(env.store, runId))!.state).toBe("succeeded");
  });

  it("rolls back a succeeded run, dependents first, then retries it to success", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(CHAIN);
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    env.journal.events.length = 0;
    const rb = await rollbackRun(env.store, runId, "sam", { via: "test" });
    expect(rb.steps.sort()).toEqual(["first", "second"]);
    expect(rb.state).toBe("rolling_back");
    const undone = await env.waitForRun(runId);
    expect(undone.state).toBe("rolled_back");
    // noop cannot be undone: it stays succeeded, and `first` waits for `second` only.
    expect(stepStates(undone)).toEqual({ first: "rolled_back", second: "rolled_back", plain: "succeeded" });
    expect(env.journal.events).toEqual(["rollback:second:second", "rollback:first:first"]);
    expect(await kinds(runId)).toEqual(expect.arrayContaining(["run.rollback_requested", "run.rolling_back", "run.rolled_back"]));
    expect((await listAuditEvents(env.store.db, { runId })).find((e) => e.kind === "run.rollback_requested")).toMatchObject({ actor: "sam", data: { via: "test" } });

    env.journal.events.length = 0;
    expect((await retryRun(env.store, runId, "sam")).steps).toEqual(["first", "second"]);
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    expect(env.journal.events).toEqual(["run:first", "run:second"]);
  });

  it("a retried run whose lock another run holds waits for it, keeps what it did if cancelled meanwhile, and starts when the lock is free", async () => {
    const workers = env.startWorkers(1);
    const one = await env.startRun(LOCKED_FLAKY);
    expect((await env.waitForRun(one.runId)).state).toBe("failed");
    await workers.stop();
    // Another run takes the lock and holds it while no worker runs it.
    const holder = await env.startRun(LOCKED_HOLD);
    expect(holder.state).toBe("running");
    const retried = await retryRun(env.store, one.runId, "sam");
    expect(retried.state).toBe("waiting");
    expect(await kinds(one.runId)).toContain("run.waiting");
    // The lock moves on when the holder finishes: here, cancelled.
    expect(await cancelRun(env.store, holder.runId, "sam")).toBe("cancelled");
    expect((await getRun(env.store, one.runId))!.state).toBe("running");
    env.startWorkers(1);
    expect((await env.waitForRun(one.runId)).state).toBe("succeeded");
    expect(rowsOf(await env.store.db.raw("select * from locks"))).toEqual([]);
  });

  it("refuses to roll back while another run holds the run's lock", async () => {
    const workers = env.startWorkers(1);
    const wf = workflow("locked-record", [{ id: "w", uses: "test.record", with: { tag: "w" } }], { lock: "svc:search" });
    const done = await env.startRun(wf);
    expect((await env.waitForRun(done.runId)).state).toBe("succeeded");
    await workers.stop();
    const holder = await env.startRun(wf);
    await expect(rollbackRun(env.store, done.runId, "sam")).rejects.toMatchObject({ code: "lock-held", message: expect.stringContaining(holder.runId) });
    expect((await getRun(env.store, done.runId))!.state).toBe("succeeded");
    await cancelRun(env.store, holder.runId, "sam");
  });

  it("a person's roll back of a time-bound run settles its armed expiry; a retry to success arms it afresh", async () => {
    env.startWorkers(1);
    const wf = workflow("time-bound", [{ id: "grant", uses: "test.record", with: { tag: "grant" } }], { expires: { after: "4h", max: "1d" } });
    const { runId } = await env.startRun(wf);
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    const expiry = async () => rowsOf<{ fired_at: unknown; outcome: string | null }>(await env.store.db.raw("select fired_at, outcome from run_expiries where run_id = ?", [runId]))[0];
    expect(await expiry()).toMatchObject({ fired_at: null, outcome: null });
    await rollbackRun(env.store, runId, "sam");
    expect(await expiry()).toMatchObject({ outcome: "rolled_back" });
    expect((await env.waitForRun(runId)).state).toBe("rolled_back");
    await retryRun(env.store, runId, "sam");
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    expect(await expiry()).toMatchObject({ fired_at: null, outcome: null });
  });

  it("cancels a run while its durable wait is pending: the timer never fires and what ran is undone", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(WAITS);
    await env.waitForRun(runId, 15_000, (r) => r.steps.find((s) => s.stepId === "pause")?.state === "waiting");
    const state = await cancelRun(env.store, runId, "sam", { via: "test" });
    expect(["rolling_back", "cancelled"]).toContain(state);
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("cancelled");
    expect(stepStates(run)).toEqual({ before: "rolled_back", pause: "cancelled", after: "cancelled" });
    expect((await listAuditEvents(env.store.db, { runId })).find((e) => e.kind === "run.cancel_requested")).toMatchObject({ actor: "sam", data: { via: "test" } });
    // A cancelled run is not retried: the cancel was a decision.
    await expect(retryRun(env.store, runId, "sam")).rejects.toMatchObject({ code: "not-retryable" });
  });
}, {
  // A run's lock must never outlive it.
  afterEach: async (env) => {
    await env.store.db.raw("delete from locks");
  },
});
