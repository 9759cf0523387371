/** Clutch Luigi's side of `bench:engine`: runs created with createRun, steps run by engine-worker.ts processes. */
import pg from "pg";
import { createTestDatabase } from "../support/pg.js";
import { openStore } from "../../src/store/db.js";
import { createRun } from "../../src/store/runs.js";
import type { StepSpec, WorkflowSpec } from "../../src/formats/types.js";
import { inWindow, sleep, type Measured, type Shape, type System } from "./bench-support.js";

const IDENTITY = { repository: "bench/ops", requester: { login: "bench", type: "User" }, approvers: [] };
const wf = (name: string, steps: StepSpec[]): WorkflowSpec => ({ apiVersion: "clutch-luigi/v1", kind: "Workflow", name, steps });
const req = (w: WorkflowSpec) => ({ apiVersion: "clutch-luigi/v1" as const, kind: "Request" as const, workflow: w.name, reason: "bench" });
const wide = (n: number): WorkflowSpec => wf(`bench-wide-${n}`, Array.from({ length: n }, (_, i) => ({ id: `s${i}`, uses: "noop" })));
const chain = wf("bench-chain", Array.from({ length: 5 }, (_, i) => ({ id: `c${i}`, uses: "noop", ...(i > 0 ? { needs: [`c${i - 1}`] } : {}) })));

export async function ourSystem(admin: pg.Client, concurrency: number): Promise<System> {
  const db = await createTestDatabase("cl_bench");
  const store = await openStore({ databaseUrl: db.url, poolMax: 4 });
  const q = new pg.Client({ connectionString: db.url });
  await q.connect();
  let polls = 0;
  const create = (w: WorkflowSpec) => createRun(store, { ...IDENTITY, workflow: w, request: req(w), requestPath: "bench.yaml", maxParallel: w.steps.length });

  async function waitFinished(runIds: string[], pollMs: number): Promise<void> {
    for (;;) {
      polls++;
      const r = await q.query("select count(*)::int as n from runs where id = any($1) and finished_at is null", [runIds]);
      if (r.rows[0].n === 0) return;
      await sleep(pollMs);
    }
  }

  async function window(workers: number, work: () => Promise<string[]>): Promise<Measured> {
    await q.query("truncate attempts, steps, locks, runs cascade");
    const { result, commits } = await inWindow(
      { admin, db: db.name, script: "./engine-worker.ts", workers, env: { DATABASE_URL: db.url, CONCURRENCY: String(concurrency) }, benchTxns: () => polls },
      async () => {
        const ids = await work();
        return async () => ids;
      },
    );
    const t = await q.query(
      `select extract(epoch from max(finished_at) - min(created_at)) as secs, extract(epoch from max(created_at) - min(created_at)) as creating,
            count(*) filter (where state <> 'succeeded') as bad
       from runs where id = any($1)`,
      [result],
    );
    if (Number(t.rows[0].bad) > 0) throw new Error(`clutch-luigi: ${t.rows[0].bad} runs did not succeed`);
    if (process.env.BENCH_VERBOSE) process.stderr.write(`clutch-luigi: ${result.length} runs created over ${Number(t.rows[0].creating).toFixed(2)} s of ${Number(t.rows[0].secs).toFixed(2)} s\n`);
    const lat = await q.query("select extract(epoch from started_at - ready_at) * 1000 as ms from steps where run_id = any($1)", [result]);
    return { steps: lat.rows.length, seconds: Number(t.rows[0].secs), latencies: lat.rows.map((r) => Number(r.ms)), commits };
  }

  return {
    name: "clutch-luigi",
    measure: (shape: Shape, workers: number) =>
      window(workers, async () => {
        const ids: string[] = [];
        if (shape.kind === "independent") {
          const w = wide(shape.width);
          for (let i = 0; i < shape.runs; i++) ids.push((await create(w)).runId);
        } else {
          // four creators at a time, like webhooks arriving together
          for (let i = 0; i < shape.runs; i += 4) {
            const batch = await Promise.all(Array.from({ length: Math.min(4, shape.runs - i) }, () => create(chain)));
            ids.push(...batch.map((b) => b.runId));
          }
        }
        await waitFinished(ids, 50);
        return ids;
      }),
    probe: (count: number, workers: number) =>
      window(workers, async () => {
        const one = wide(1);
        const ids: string[] = [];
        for (let i = 0; i < count; i++) {
          const { runId } = await create(one);
          ids.push(runId);
          await waitFinished([runId], 5);
          await sleep(20);
        }
        return ids;
      }),
    async close() {
      await q.end();
      await store.close();
      await db.drop();
    },
  };
}
