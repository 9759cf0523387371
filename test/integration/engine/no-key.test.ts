/**
 * Without an encryption key a secret output is not stored at all: never in plain
 * text as a fallback. A step that needs it then fails, saying why.
 */
import { expect, it } from "vitest";
import { rowsOf } from "../../../src/store/db.js";
import { listAuditEvents } from "../../../src/store/audit.js";
import { createCipher } from "../../../src/store/cipher.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { memoryBackend } from "./backends.js";
import { describeEngine } from "./fixture.js";
import { loadWorkflow } from "./harness.js";

describeEngine("secret outputs with no encryption key (embedded, in memory)", (env) => {
  it("are not stored; the step reading one fails with a clear error", async () => {
    expect(env.store.cipher).toBeNull();
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("secret.yaml"));
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("failed");
    const rows = rowsOf<{ step_id: string; outputs: Record<string, unknown> | null; secret_outputs: string | null }>(
      await env.store.db.raw("select step_id, outputs, secret_outputs from steps where run_id = ? order by ord", [runId]),
    );
    // only the secret's name is kept, so the reader can be told what is missing
    expect(rows[0]).toMatchObject({ step_id: "password", outputs: { hint: "generated" }, secret_outputs: 'withheld:["value"]' });
    const use = run.steps.find((s) => s.stepId === "use")!;
    expect(use.state).toBe("failed");
    expect(use.error).toBe('output "value" of step "password" is secret and was not stored: no encryption key was configured when it ran (set CLUTCH_LUIGI_ENCRYPTION_KEY)');
    const everything = JSON.stringify(rows) + JSON.stringify(await listAuditEvents(env.store.db, { runId }));
    expect(everything).not.toMatch(/s3cr3t-/);
  });
}, { backends: [memoryBackend(null)] });

describeEngine("secret outputs read with another key", (env) => {
  it("fail with an error that says the key changed, not a cipher exception", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("secret.yaml"));
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    const rekeyed = new PgWorkQueue({ ...env.store, cipher: createCipher(Buffer.alloc(32, 2)) });
    await expect(rekeyed.loadOutputs(runId, ["password"])).rejects.toThrow(
      'step "password" has encrypted outputs that the configured key cannot open (was CLUTCH_LUIGI_ENCRYPTION_KEY changed?)',
    );
    await expect(new PgWorkQueue({ ...env.store, cipher: null }).loadOutputs(runId, ["password"])).rejects.toThrow(/no encryption key is configured \(set CLUTCH_LUIGI_ENCRYPTION_KEY\)/);
  });
}, { backends: [memoryBackend(Buffer.alloc(32, 1).toString("base64"))] });
