/**
 * PgWorkQueue edge cases that the worker loop alone rarely reaches: steps leased in
 * a batch whose report then took the slow path sit in a stash, without heartbeats.
 */
import { expect, it } from "vitest";
import { describeEngine } from "../engine/fixture.js";
import { loadWorkflow } from "../engine/harness.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { stepKey } from "../../../src/engine/queue.js";

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
});
