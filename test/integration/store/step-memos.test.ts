/** Step memos on real Postgres: first write wins, attempts on other workers read it, bounded size. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { openStore, type Store } from "../../../src/store/db.js";
import { createRun, runInstallation } from "../../../src/store/runs.js";
import { MAX_MEMO_BYTES, recallStepMemo, rememberStepMemo, StepMemoTooLargeError } from "../../../src/store/step-memos.js";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";

let db: TestDatabase;
let store: Store;
let runId: string;
const workflow: WorkflowSpec = { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "w", steps: [{ id: "a", uses: "noop" }] };

beforeAll(async () => {
  if (!PG_UP) return;
  db = await createTestDatabase("cl_step_memos");
  store = await openStore({ databaseUrl: db.url, poolMax: 4 });
  ({ runId } = await createRun(store, {
    repository: "acme/ops",
    requester: { login: "a", type: "User" },
    approvers: [],
    workflow,
    request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "w", reason: "r", params: {} },
    requestPath: "requests/r.yaml",
    installationId: 4242,
  }));
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe.skipIf(!PG_UP)("step memos", () => {
  it("keep the first value written; later writes get it back", async () => {
    expect(await recallStepMemo(store, runId, "a")).toBeUndefined();
    expect(await rememberStepMemo(store, runId, "a", { membership: "none" })).toEqual({ membership: "none" });
    expect(await rememberStepMemo(store, runId, "a", { membership: "member" })).toEqual({ membership: "none" });
    expect(await recallStepMemo(store, runId, "a")).toEqual({ membership: "none" });
  });

  it("racing writers agree on one value", async () => {
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => rememberStepMemo(store, runId, "race", { i })));
    expect(new Set(all.map((v) => JSON.stringify(v))).size).toBe(1);
  });

  it("refuse a value beyond the bound", async () => {
    await expect(rememberStepMemo(store, runId, "big", { x: "y".repeat(MAX_MEMO_BYTES) })).rejects.toBeInstanceOf(StepMemoTooLargeError);
    expect(await recallStepMemo(store, runId, "big")).toBeUndefined();
  });

  it("the run records its installation", async () => {
    expect(await runInstallation(store, runId)).toBe(4242);
    await expect(
      createRun(store, { repository: "acme/ops", requester: { login: "a", type: "User" }, approvers: [], workflow, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "w", reason: "r", params: {} }, requestPath: "requests/r.yaml", installationId: -1 }),
    ).rejects.toThrow(/installation id must be a positive integer/);
  });
});
