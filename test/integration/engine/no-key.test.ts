/**
 * Without an encryption key a secret output is not stored at all: never in plain
 * text as a fallback. A step that needs it then fails, saying why.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import { listAuditEvents } from "../../../src/store/audit.js";
import { createCipher } from "../../../src/store/cipher.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { loadWorkflow, startRun, startWorkers, testRegistry, waitForRun, type Journal } from "./harness.js";

describe("secret outputs with no encryption key (embedded, in memory)", () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({ dataDir: ":memory:" });
  });
  afterAll(async () => store.close());

  it("are not stored; the step reading one fails with a clear error", async () => {
    expect(store.cipher).toBeNull();
    const journal: Journal = { events: [], spans: [] };
    const registry = testRegistry(journal);
    const workers = startWorkers(store, registry, 1);
    try {
      const { runId } = await startRun(store, loadWorkflow("secret.yaml"), registry);
      const run = await waitForRun(store, runId);
      expect(run.state).toBe("failed");
      const rows = rowsOf<{ step_id: string; outputs: Record<string, unknown> | null; secret_outputs: string | null }>(
        await store.db.raw("select step_id, outputs, secret_outputs from steps where run_id = ? order by ord", [runId]),
      );
      // only the secret's name is kept, so the reader can be told what is missing
      expect(rows[0]).toMatchObject({ step_id: "password", outputs: { hint: "generated" }, secret_outputs: 'withheld:["value"]' });
      const use = run.steps.find((s) => s.stepId === "use")!;
      expect(use.state).toBe("failed");
      expect(use.error).toBe('output "value" of step "password" is secret and was not stored: no encryption key was configured when it ran (set CLUTCH_LUIGI_ENCRYPTION_KEY)');
      const everything = JSON.stringify(rows) + JSON.stringify(await listAuditEvents(store.db, { runId }));
      expect(everything).not.toMatch(/s3cr3t-/);
    } finally {
      await workers.stop();
    }
  });
});

describe("secret outputs read with another key", () => {
  it("fail with an error that says the key changed, not a cipher exception", async () => {
    const store = await openStore({ dataDir: ":memory:", encryptionKey: Buffer.alloc(32, 1).toString("base64") });
    const registry = testRegistry({ events: [], spans: [] });
    const workers = startWorkers(store, registry, 1);
    try {
      const { runId } = await startRun(store, loadWorkflow("secret.yaml"), registry);
      expect((await waitForRun(store, runId)).state).toBe("succeeded");
      const rekeyed = new PgWorkQueue({ ...store, cipher: createCipher(Buffer.alloc(32, 2)) });
      await expect(rekeyed.loadOutputs(runId, ["password"])).rejects.toThrow(
        'step "password" has encrypted outputs that the configured key cannot open (was CLUTCH_LUIGI_ENCRYPTION_KEY changed?)',
      );
      await expect(new PgWorkQueue({ ...store, cipher: null }).loadOutputs(runId, ["password"])).rejects.toThrow(/no encryption key is configured \(set CLUTCH_LUIGI_ENCRYPTION_KEY\)/);
    } finally {
      await workers.stop();
      await store.close();
    }
  });
});

