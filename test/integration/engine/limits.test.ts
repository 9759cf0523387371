/**
 * Concurrency limits (per run and per worker), a run deadline that passes while
 * nothing runs, and cancelling a run that is still waiting for its lock.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BACKENDS, PG_UP } from "./backends.js";
import { loadWorkflow, startRun, startWorkers, stepStates, testRegistry, waitForRun, type Journal, type Workers } from "./harness.js";
import { rowsOf, type Store } from "../../../src/store/db.js";
import { cancelRun, getRun } from "../../../src/store/runs.js";
import { listAuditEvents, verifyAuditChain } from "../../../src/store/audit.js";
import type { ActionRegistry } from "../../../src/actions/registry.js";

/** Most spans open at one instant. */
function maxOverlap(spans: { start: number; end: number }[]): number {
  return Math.max(0, ...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
}

describe.each(BACKENDS)("limits, deadlines and lock waits on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let journal: Journal;
  let registry: ActionRegistry;
  let workers: Workers | null = null;

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => {
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
    await cleanup();
  });
  beforeEach(() => {
    journal = { events: [], spans: [] };
    registry = testRegistry(journal);
  });
  afterEach(async () => {
    await workers?.stop();
    workers = null;
  });

  it("runs independent steps in parallel, never more at once than the run's maxParallel", async () => {
    workers = startWorkers(store, registry, 1, { concurrency: 8 });
    const { runId } = await startRun(store, loadWorkflow("parallel.yaml"), registry, {}, { maxParallel: 2 });
    expect((await waitForRun(store, runId)).state).toBe("succeeded");
    expect(journal.spans).toHaveLength(6);
    expect(maxOverlap(journal.spans)).toBe(2);
  });

  it("never runs more steps at once than the worker's concurrency", async () => {
    workers = startWorkers(store, registry, 1, { concurrency: 3 });
    const { runId } = await startRun(store, loadWorkflow("parallel.yaml"), registry);
    expect((await waitForRun(store, runId)).state).toBe("succeeded");
    expect(maxOverlap(journal.spans)).toBe(3);
  });

  it("spreads one run's parallel steps over several workers", async () => {
    workers = startWorkers(store, registry, 3, { concurrency: 2 });
    const { runId } = await startRun(store, loadWorkflow("parallel.yaml"), registry);
    expect((await waitForRun(store, runId)).state).toBe("succeeded");
    expect(maxOverlap(journal.spans)).toBe(6);
  });

  it("ends a run at its deadline while its only open step waits on a timer", async () => {
    workers = startWorkers(store, registry, 1);
    const started = Date.now();
    const { runId } = await startRun(store, loadWorkflow("timeout-while-waiting.yaml"), registry);
    const run = await waitForRun(store, runId, 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(run.state).toBe("rolled_back");
    expect(run.error).toBe("run timed out");
    expect(stepStates(run)).toEqual({ grant: "rolled_back", hold: "cancelled", revoke: "cancelled" });
    expect(journal.events).toEqual(["run:grant", "rollback:grant:grant"]);
  });

  it("cancels a run still waiting for its lock; the lock then passes to the next in line", async () => {
    const wf = loadWorkflow("locked.yaml");
    const one = await startRun(store, wf, registry, { database: "orders", tag: "one" });
    const two = await startRun(store, wf, registry, { database: "orders", tag: "two" });
    const three = await startRun(store, wf, registry, { database: "orders", tag: "three" });
    expect([one.state, two.state, three.state]).toEqual(["running", "waiting", "waiting"]);
    expect(await cancelRun(store, two.runId, "carol")).toBe("cancelled");
    workers = startWorkers(store, registry, 1);
    expect((await waitForRun(store, one.runId)).state).toBe("succeeded");
    expect((await waitForRun(store, three.runId)).state).toBe("succeeded");
    const cancelled = await waitForRun(store, two.runId);
    expect(stepStates(cancelled)).toEqual({ work: "cancelled" });
    expect(journal.events).toEqual(["run:one", "run:three"]);
    const kinds = (await listAuditEvents(store.db, { runId: two.runId })).map((e) => e.kind);
    expect(kinds).toEqual(["run.created", "run.waiting", "run.cancel_requested", "step.cancelled", "run.cancelled"]);
  });

  it("delays `after:` steps the same way whether queued at run start or when a dependency finishes", async () => {
    workers = startWorkers(store, registry, 1);
    const started = Date.now();
    const { runId } = await startRun(store, loadWorkflow("after.yaml"), registry);
    expect((await waitForRun(store, runId)).state).toBe("succeeded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    const events = (await listAuditEvents(store.db, { runId })).filter((e) => e.kind === "step.waiting");
    expect(events.map((e) => [e.step_id, e.data])).toEqual([["first", { timerMs: 300 }], ["second", { timerMs: 300 }]]);
    const gap = rowsOf<{ first_ms: string; second_ms: string }>(await store.db.raw(
      `select extract(epoch from (f.started_at - r.created_at)) * 1000 as first_ms,
              extract(epoch from (s.started_at - f.finished_at)) * 1000 as second_ms
       from runs r join steps f on f.run_id = r.id and f.step_id = 'first' join steps s on s.run_id = r.id and s.step_id = 'second'
       where r.id = ?`, [runId]))[0]!;
    // each started no sooner than 300 ms after it was queued
    expect(Number(gap.first_ms)).toBeGreaterThanOrEqual(300);
    expect(Number(gap.second_ms)).toBeGreaterThanOrEqual(300);
  });

  it("cancels a run whose step waits on a timer: the timer never fires, completed steps are rolled back", async () => {
    workers = startWorkers(store, registry, 1);
    const { runId } = await startRun(store, loadWorkflow("timer.yaml"), registry);
    await waitForRun(store, runId, 5_000, (r) => r.steps.find((s) => s.stepId === "hold")?.state === "waiting" && r.steps.find((s) => s.stepId === "later")?.state === "succeeded");
    // the completed steps' rollbacks are queued: the run ends once they ran
    expect(await cancelRun(store, runId, "carol")).toBe("rolling_back");
    const run = await waitForRun(store, runId);
    expect(run.state).toBe("cancelled");
    expect(stepStates(run)).toEqual({ grant: "rolled_back", hold: "cancelled", revoke: "cancelled", later: "rolled_back" });
    await new Promise((r) => setTimeout(r, 1_500)); // past the timer's due time
    expect(journal.events.filter((e) => e === "run:revoke")).toHaveLength(0);
    expect((await getRun(store, runId))!.state).toBe("cancelled");
  });
});

// PGlite has no other process to hear from: it polls. This needs the real server.
describe.skipIf(!PG_UP)("waking workers on a real server", () => {
  it("wakes an idle worker by NOTIFY, long before its next poll", async () => {
    const { store, cleanup } = await BACKENDS.find((b) => b.name === "pg")!.open();
    const registry = testRegistry({ events: [], spans: [] });
    const workers = startWorkers(store, registry, 1, { pollMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, 500)); // idle, listening
      const started = Date.now();
      const { runId } = await startRun(store, loadWorkflow("diamond.yaml"), registry, { name: "wake" });
      expect((await waitForRun(store, runId, 10_000)).state).toBe("succeeded");
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await workers.stop();
      await cleanup();
    }
  });
});
