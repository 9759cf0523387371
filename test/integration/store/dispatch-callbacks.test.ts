/** A callback is noted on the dispatch it belongs to, and only that one, for the waiting step to wake on. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../../src/store/db.js";
import { dispatchCallback, noteDispatchCallback, recordWorkflowDispatch } from "../../../src/store/dispatches.js";
import { createRun } from "../../../src/store/runs.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { BACKENDS } from "../engine/backends.js";
import { IDENTITY, request, testRegistry } from "../engine/harness.js";

const W: WorkflowSpec = { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "deploy", steps: [{ id: "dispatch", uses: "noop" }] } as WorkflowSpec;

describe.each(BACKENDS)("dispatch callbacks on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => cleanup());

  it("notes the callback of the dispatched workflow run, ignores another run's, and forgets one from before a re-dispatch", async () => {
    const { runId } = await createRun(store, { ...IDENTITY, workflow: W, request: request(W), requestPath: "requests/d.yaml", registry: testRegistry({ events: [], spans: [] }) });
    await recordWorkflowDispatch(store, { runId, stepId: "dispatch", repository: "acme/ops", workflowRunId: 111 });
    expect(await dispatchCallback(store, runId, "dispatch")).toBeNull();
    await noteDispatchCallback(store, runId, "dispatch", 222, "completed"); // another workflow run
    expect(await dispatchCallback(store, runId, "dispatch")).toBeNull();
    await noteDispatchCallback(store, runId, "dispatch", 111, "completed");
    expect(await dispatchCallback(store, runId, "dispatch")).toMatchObject({ status: "completed" });
    // A retried step dispatches again: the old callback does not wake the new wait.
    await new Promise((r) => setTimeout(r, 20));
    await recordWorkflowDispatch(store, { runId, stepId: "dispatch", repository: "acme/ops", workflowRunId: 333 });
    expect(await dispatchCallback(store, runId, "dispatch")).toBeNull();
  });
});
