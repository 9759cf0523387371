/**
 * PgWorkQueue edge cases that the worker loop alone rarely reaches: steps leased in
 * a batch whose report then took the slow path sit in a stash, without heartbeats.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS } from "../engine/backends.js";
import { loadWorkflow, startRun, testRegistry } from "../engine/harness.js";
import type { Store } from "../../../src/store/db.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { verifyAuditChain } from "../../../src/store/audit.js";
import { stepKey } from "../../../src/engine/queue.js";

describe.each(BACKENDS)("work queue on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => {
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
    await cleanup();
  });

  it("never hands out a stashed step whose lease lapsed and that another worker took over", async () => {
    const registry = testRegistry({ events: [], spans: [] });
    const run = await startRun(store, loadWorkflow("parallel.yaml"), registry, {}, { maxParallel: 3 });
    const a = new PgWorkQueue(store, { workerId: "a", leaseMs: 50 });
    const b = new PgWorkQueue(store, { workerId: "b", leaseMs: 30_000 });
    const [first] = await a.claim(1);
    expect(first!.runId).toBe(run.runId);
    // `a` stalls past its lease: the step goes back to the queue; `b` takes the other two
    await new Promise((r) => setTimeout(r, 120));
    expect(await b.reclaimExpired()).toBe(1);
    expect((await b.claim(2)).map(stepKey)).not.toContain(stepKey(first!));
    // `a` reports anyway: the report is lost, but the batch it rode in leased `a` the
    // one claimable step (the same one, attempt 2), which waits in a's stash, unheartbeated
    expect(await a.complete(first!, { kind: "succeeded", outputs: {}, secretOutputs: [] }, [], 1)).toEqual({ ok: false, next: [] });
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
