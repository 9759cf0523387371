/**
 * Cancel reaches a running step within about a second, not at its next heartbeat
 * (a third of the lease: 10 s here): one cancel transition, seen by the worker's
 * cancel watch, on both databases.
 */
import { expect, it } from "vitest";
import { CANCEL_WATCH_MS } from "../../../src/engine/worker.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { cancelRun, createRun, getRun } from "../../../src/store/runs.js";
import { describeEngine } from "./fixture.js";
import { IDENTITY, request } from "./harness.js";

const LONG: WorkflowSpec = {
  apiVersion: "clutch-luigi/v1",
  kind: "Workflow",
  name: "long",
  steps: [
    { id: "first", uses: "log", with: { message: "first" }, rollback: { uses: "log", with: { message: "undo first" } } },
    { id: "slow", uses: "sleep", needs: ["first"], with: { duration: "50s" } },
  ],
} as WorkflowSpec;

describeEngine("cancel latency on $name", (env) => {
  it("a running step is stopped about a second after the cancel, well before the next heartbeat", async () => {
    env.startWorkers(1, { leaseMs: 30_000 });
    const { runId } = await createRun(env.store, { ...IDENTITY, workflow: LONG, request: request(LONG), requestPath: "requests/long.yaml", registry: env.registry });
    await env.waitForRun(runId, 15_000, (r) => r.steps.find((s) => s.stepId === "slow")?.state === "running");
    const t0 = Date.now();
    await cancelRun(env.store, runId, "sam");
    const run = await env.waitForRun(runId, 20_000, (r) => r.state === "cancelled");
    const took = Date.now() - t0;
    expect(run.steps.map((s) => [s.stepId, s.state])).toEqual([["first", "rolled_back"], ["slow", "cancelled"]]);
    // The heartbeat would come 10 s in; the watch looks every CANCEL_WATCH_MS.
    expect(took).toBeLessThan(10_000 - 1_000);
    expect(CANCEL_WATCH_MS).toBe(1_000);
    expect((await getRun(env.store, runId))!.state).toBe("cancelled");
  }, 40_000);
});
