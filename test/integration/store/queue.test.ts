/**
 * PgWorkQueue edge cases that the worker loop alone rarely reaches: steps leased in
 * a batch whose report was lost sit in a stash, without heartbeats; reports of a run
 * that started failing meanwhile; the steps a report promotes going to the worker
 * that reported.
 */
import { expect, it } from "vitest";
import { describeEngine } from "../engine/fixture.js";
import { loadWorkflow } from "../engine/harness.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { stepKey } from "../../../src/engine/queue.js";
import { listAuditEvents } from "../../../src/store/audit.js";
import { getRun } from "../../../src/store/runs.js";

describeEngine("work queue on $name", (env) => {
  it("never hands out a stashed step whose lease lapsed and that another worker took over", async () => {
    const run = await env.startRun(loadWorkflow("parallel.yaml"), {}, { maxParallel: 3 });
    const a = new PgWorkQueue(env.store, { workerId: "a", leaseMs: 50 });
    const b = new PgWorkQueue(env.store, { workerId: "b", leaseMs: 30_000 });
    const [first] = await a.claim(1);
    expect(first!.runId).toBe(run.runId);
    // `a` stalls past its lease: the step goes back to the queue; `b` takes the other two
    await new Promise((r) => setTimeout(r, 120));
    expect(await b.reclaimExpired()).toBe(1);
    expect((await b.claim(2)).map(stepKey)).not.toContain(stepKey(first!));
    // `a` reports anyway: the report is lost, but the batch it rode in leased `a` the
    // one claimable step (the same one, attempt 2), which waits in a's stash, unheartbeated
    expect(await a.complete(first!, { kind: "succeeded", outputs: {}, secretOutputs: [] }, 1)).toEqual({ ok: false, next: [] });
    await new Promise((r) => setTimeout(r, 120));
    expect(await b.reclaimExpired()).toBe(1);
    const again = await b.claim(10);
    expect(again.map((s) => [stepKey(s), s.attempt])).toEqual([[stepKey(first!), 3]]);
    // the stashed lease is stale: `a` must not run what `b` now holds
    expect((await a.claim(10)).map(stepKey)).not.toContain(stepKey(first!));
    await a.close();
    await b.close();
  });

  it("hands the steps a success promotes to the reporting worker, in the report's own transaction", async () => {
    const run = await env.startRun(loadWorkflow("diamond.yaml"), { name: "x" });
    const a = new PgWorkQueue(env.store, { workerId: "a" });
    const b = new PgWorkQueue(env.store, { workerId: "b" });
    const [first] = await a.claim(1);
    expect(first!.stepId).toBe("a");
    // b and c become ready in the report; they must not wait for the commit and the next claimer
    const done = await a.complete(first!, { kind: "succeeded", outputs: { value: "x" }, secretOutputs: [] }, 2);
    expect(done.ok).toBe(true);
    expect(done.next.map((s) => [s.runId, s.stepId]).sort()).toEqual([[run.runId, "b"], [run.runId, "c"]]);
    expect(await b.claim(10)).toEqual([]);
    await a.close();
    await b.close();
  });

  it("cancels a step whose retry or hand-back arrives after its run started failing, instead of queueing it", async () => {
    const run = await env.startRun(loadWorkflow("parallel.yaml"), {}, { maxParallel: 3 });
    const q = new PgWorkQueue(env.store, { workerId: "solo" });
    const [a, b, c] = await q.claim(3);
    expect(await q.complete(a!, { kind: "failed", errorClass: "permanent", message: "no", retryInMs: null })).toMatchObject({ ok: true });
    // the run is failing now; b's retry and c's hand-back must not put them back in the queue
    expect(await q.complete(b!, { kind: "failed", errorClass: "transient", message: "again", retryInMs: 0 })).toMatchObject({ ok: true });
    expect(await q.complete(c!, { kind: "interrupted", message: "worker stopping" })).toMatchObject({ ok: true });
    const status = await getRun(env.store, run.runId);
    const byId = new Map(status!.steps.map((s) => [s.stepId, s.state]));
    expect([byId.get(a!.stepId), byId.get(b!.stepId), byId.get(c!.stepId)]).toEqual(["failed", "cancelled", "cancelled"]);
    expect(await q.claim(10)).toEqual([]);
    expect(status!.state).toBe("failed"); // test.hold has no rollback: nothing to undo
    const kinds = (await listAuditEvents(env.store.db, { runId: run.runId })).filter((e) => e.step_id === b!.stepId).map((e) => e.kind);
    expect(kinds.slice(-2)).toEqual(["step.retrying", "step.cancelled"]);
    await q.close();
  });
});
