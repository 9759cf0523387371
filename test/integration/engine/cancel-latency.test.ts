/**
 * Cancel reaches a running step within about a second, not at its next heartbeat
 * (a third of the lease: 10 s here): one cancel transition, seen by the worker's
 * cancel watch, on both databases.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CANCEL_WATCH_MS } from "../../../src/engine/worker.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import type { Store } from "../../../src/store/db.js";
import { cancelRun, createRun, getRun } from "../../../src/store/runs.js";
import { BACKENDS } from "./backends.js";
import { IDENTITY, request, startWorkers, testRegistry, waitForRun } from "./harness.js";

const LONG: WorkflowSpec = {
  apiVersion: "clutch-luigi/v1",
  kind: "Workflow",
  name: "long",
  steps: [
    { id: "first", uses: "log", with: { message: "first" }, rollback: { uses: "log", with: { message: "undo first" } } },
    { id: "slow", uses: "sleep", needs: ["first"], with: { duration: "50s" } },
  ],
} as WorkflowSpec;

describe.each(BACKENDS)("cancel latency on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => cleanup());

  it("a running step is stopped about a second after the cancel, well before the next heartbeat", async () => {
    const registry = testRegistry({ events: [], spans: [] });
    const workers = startWorkers(store, registry, 1, { leaseMs: 30_000 });
    try {
      const { runId } = await createRun(store, { ...IDENTITY, workflow: LONG, request: request(LONG), requestPath: "requests/long.yaml", registry });
      await waitForRun(store, runId, 15_000, (r) => r.steps.find((s) => s.stepId === "slow")?.state === "running");
      const t0 = Date.now();
      await cancelRun(store, runId, "sam");
      const run = await waitForRun(store, runId, 20_000, (r) => r.state === "cancelled");
      const took = Date.now() - t0;
      expect(run.steps.map((s) => [s.stepId, s.state])).toEqual([["first", "rolled_back"], ["slow", "cancelled"]]);
      // The heartbeat would come 10 s in; the watch looks every CANCEL_WATCH_MS.
      expect(took).toBeLessThan(10_000 - 1_000);
      expect(CANCEL_WATCH_MS).toBe(1_000);
      expect((await getRun(store, runId))!.state).toBe("cancelled");
    } finally {
      await workers.stop();
    }
  }, 40_000);
});
