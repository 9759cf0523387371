/**
 * Runs a catalog workflow to the end of its time: a real worker with the production
 * step context, until the run's change has been undone by its expiry. `during` runs
 * once while the change is in force.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import { createStepContextFactory } from "../../../src/actions/context.js";
import { defaultRegistry } from "../../../src/actions/index.js";
import { Worker } from "../../../src/engine/worker.js";
import { checkWorkflow } from "../../../src/formats/check-workflow.js";
import { parseSource } from "../../../src/formats/source.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { parseServerConfig } from "../../../src/server-config/load.js";
import { rowsOf, type Store } from "../../../src/store/db.js";
import { activeExpiry } from "../../../src/store/expiries.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { createRun, getRun, type RunStatus } from "../../../src/store/runs.js";
import { testSigner } from "./context-helper.js";

const ROOT = join(import.meta.dirname, "../../..");
export const registry = defaultRegistry();

/** The catalog's workflow, validated; `loosen` names params whose enum the test replaces by any string. */
export async function catalogWorkflow(name: string, loosen: string[] = []): Promise<WorkflowSpec> {
  const file = join(ROOT, "workflows", `${name}.yaml`);
  const parsed = parseSource(file, await readFile(file, "utf8"));
  if (!parsed.ok) throw new Error(`${file} does not parse`);
  const checked = checkWorkflow(parsed.doc, registry);
  expect(checked.problems).toEqual([]);
  const w = structuredClone(checked.workflow!);
  for (const p of loosen) (w.params as { properties: Record<string, unknown> }).properties[p] = { type: "string" };
  return w;
}

export async function runThroughExpiry(store: Store, serverConfig: string, workflow: WorkflowSpec, params: Record<string, unknown>, during: () => Promise<void>): Promise<RunStatus> {
  const config = parseServerConfig(serverConfig, "server.yaml", {});
  const contextFactory = createStepContextFactory({ signer: await testSigner(), config, services: {}, sink: () => undefined });
  const { runId } = await createRun(store, {
    repository: "acme/ops",
    requester: { login: "dana", type: "User" },
    approvers: [{ login: "bob", reviewId: 80 }],
    workflow,
    request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: workflow.name, reason: "INC-912", params },
    requestPath: `requests/${workflow.name}-${Date.now()}.yaml`,
    registry,
  });
  const ctl = new AbortController();
  const queue = new PgWorkQueue(store, { leaseMs: 5_000 });
  const errors: unknown[] = [];
  const loop = new Worker({ queue, registry, contextFactory, concurrency: 2, leaseMs: 5_000, pollMs: 50, onError: (e) => errors.push(e) }).run(ctl.signal);
  try {
    const end = Date.now() + 20_000;
    let saw = false;
    for (;;) {
      const run = (await getRun(store, runId))!;
      const inForce = run.state === "succeeded" && (await activeExpiry(store.db, runId)) !== null;
      if (inForce && !saw) {
        saw = true;
        await during();
      }
      if (saw && (await runIsOver(store, run))) return (await getRun(store, runId))!;
      if (run.state !== "succeeded" && (await runIsOver(store, run))) return run;
      if (Date.now() > end) throw new Error(`run ${runId} did not reach its expiry: ${run.state} ${JSON.stringify(run.steps)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    ctl.abort();
    await loop;
    await queue.close();
    expect(errors).toEqual([]);
  }
}

/**
 * Whether a run is over, a time-bound one included: finished, and if it succeeded with
 * a timer, the timer has fired and (read again, after that) the run is still as it was.
 */
export async function runIsOver(store: Store, run: RunStatus): Promise<boolean> {
  if (!["succeeded", "rolled_back", "rollback_failed", "failed", "cancelled"].includes(run.state)) return false;
  if (run.state !== "succeeded") return true;
  const rows = rowsOf<{ fired_at: unknown }>(await store.db.raw("select fired_at from run_expiries where run_id = ?", [run.runId]));
  if (rows.length === 0) return true;
  if (rows[0]!.fired_at === null) return false;
  return (await getRun(store, run.runId))!.state === "succeeded";
}
