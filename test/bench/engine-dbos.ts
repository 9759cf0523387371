/**
 * DBOS Transact's side of `bench:engine`: workflows enqueued with DBOSClient, run by
 * dbos-peer.ts processes. DBOS keeps its own timings: a workflow's created_at (when it
 * was enqueued) and every step's started_at / completed_at, all epoch ms.
 */
import pg from "pg";
import { DBOS, DBOSClient } from "@dbos-inc/dbos-sdk";
import { createTestDatabase } from "../support/pg.js";
import { inWindow, sleep, type Measured, type Shape, type System } from "./bench-support.js";
import { APP, APP_VERSION, CHAIN, ONE, QUEUE } from "./dbos-names.js";

export async function dbosSystem(admin: pg.Client, concurrency: number): Promise<System> {
  const db = await createTestDatabase("cl_bench_dbos");
  const log = console.log;
  console.log = () => undefined; // why: DBOS.migrate announces itself on stdout, which is the bench's table
  try {
    await DBOS.migrate(db.url);
  } finally {
    console.log = log;
  }
  const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: APP, systemDatabasePoolSize: 2 });
  const q = new pg.Client({ connectionString: db.url });
  await q.connect();
  let polls = 0;
  const opts = (workflowName: string) => ({ queueName: QUEUE, workflowName, appVersion: APP_VERSION });

  async function waitDone(pollMs: number): Promise<void> {
    for (;;) {
      polls++;
      const r = await q.query("select count(*)::int as n from dbos.workflow_status where status in ('ENQUEUED', 'PENDING')");
      if (r.rows[0].n === 0) return;
      await sleep(pollMs);
    }
  }

  /** `runs` transactions, each enqueueing `perRun` workflows: DBOS's equal of createRun's one transaction per run. */
  async function enqueue(workflowName: string, runs: number, perRun: number): Promise<void> {
    const tx = new pg.Client({ connectionString: db.url });
    await tx.connect();
    try {
      for (let r = 0; r < runs; r++) {
        await tx.query("begin");
        for (let i = 0; i < perRun; i++) await client.enqueueInTransaction(tx, opts(workflowName));
        await tx.query("commit");
      }
    } finally {
      await tx.end();
    }
  }

  async function window(workers: number, work: () => Promise<void>): Promise<Measured> {
    await q.query("truncate dbos.workflow_status cascade");
    const { commits } = await inWindow(
      { admin, db: db.name, script: "./dbos-peer.ts", workers, env: { DATABASE_URL: db.url, CONCURRENCY: String(concurrency), NODE_NO_WARNINGS: "1" /* DBOS trips pg's query-while-busy deprecation */ }, benchTxns: () => polls },
      async () => {
        await work();
        return async () => undefined;
      },
    );
    const t = await q.query(
      `select (max(completed_at) - min(created_at)) / 1000.0 as secs, count(*) filter (where status <> 'SUCCESS') as bad from dbos.workflow_status`,
    );
    if (Number(t.rows[0].bad) > 0) throw new Error(`dbos: ${t.rows[0].bad} workflows did not succeed`);
    // ready: the first step when its workflow was enqueued, every later one when the step before it completed
    const lat = await q.query(
      `select o.started_at_epoch_ms - coalesce(lag(o.completed_at_epoch_ms) over (partition by o.workflow_uuid order by o.function_id), w.created_at) as ms
       from dbos.operation_outputs o join dbos.workflow_status w using (workflow_uuid)`,
    );
    return { steps: lat.rows.length, seconds: Number(t.rows[0].secs), latencies: lat.rows.map((r) => Number(r.ms)), commits };
  }

  return {
    name: "dbos",
    measure: (shape: Shape, workers: number) =>
      window(workers, async () => {
        if (shape.kind === "independent") await enqueue(ONE, shape.runs, shape.width);
        else await enqueue(CHAIN, 1, shape.runs);
        await waitDone(50);
      }),
    probe: (count: number, workers: number) =>
      window(workers, async () => {
        for (let i = 0; i < count; i++) {
          await client.enqueue(opts(ONE));
          await waitDone(5);
          await sleep(20);
        }
      }),
    async close() {
      await q.end();
      await client.destroy();
      await db.drop();
    },
  };
}
