/** graphile-worker's side of `bench:engine`: jobs added with WorkerUtils, run by graphile-peer.ts processes. */
import pg from "pg";
import { makeWorkerUtils } from "graphile-worker";
import { createTestDatabase } from "../support/pg.js";
import { inWindow, sleep, type Measured, type Proc, type Shape, type System } from "./bench-support.js";

interface PeerStats {
  latencies: number[];
  lastEnd: number;
}

function peerStats(procs: Proc[]): PeerStats {
  const all = procs.map((p) => {
    const line = p.output().split("\n").find((l) => l.startsWith("stats "));
    if (!line) throw new Error("graphile-peer printed no stats");
    return JSON.parse(line.slice("stats ".length)) as PeerStats;
  });
  return { latencies: all.flatMap((s) => s.latencies), lastEnd: Math.max(...all.map((s) => s.lastEnd)) };
}

export async function graphileSystem(admin: pg.Client, concurrency: number): Promise<System> {
  const db = await createTestDatabase("cl_bench_graphile");
  const utils = await makeWorkerUtils({ connectionString: db.url });
  await utils.migrate();
  const q = new pg.Client({ connectionString: db.url });
  await q.connect();
  let polls = 0;

  async function waitEmpty(pollMs: number): Promise<void> {
    for (;;) {
      polls++;
      const r = await q.query("select count(*)::int as n from graphile_worker._private_jobs");
      if (r.rows[0].n === 0) return;
      await sleep(pollMs);
    }
  }

  async function window(workers: number, work: () => Promise<void>): Promise<Measured> {
    let start = 0;
    const { result, commits } = await inWindow(
      { admin, db: db.name, script: "./graphile-peer.ts", workers, env: { DATABASE_URL: db.url, CONCURRENCY: String(concurrency) }, benchTxns: () => polls },
      async () => {
        start = Date.now();
        await work();
        return async (procs) => peerStats(procs);
      },
    );
    return { steps: result.latencies.length, seconds: (result.lastEnd - start) / 1000, latencies: result.latencies, commits };
  }

  return {
    name: "graphile-worker",
    measure: (shape: Shape, workers: number) =>
      window(workers, async () => {
        // a run is one batch: its jobs are inserted in one transaction, as createRun inserts a run's steps
        for (let i = 0; i < shape.runs; i += shape.kind === "independent" ? 1 : shape.runs) {
          const jobs = shape.kind === "independent" ? Array.from({ length: shape.width }, () => ({ identifier: "noop", payload: {} })) : Array.from({ length: shape.runs }, () => ({ identifier: "chain", payload: { i: 0 } }));
          await utils.addJobs(jobs);
        }
        await waitEmpty(50);
      }),
    probe: (count: number, workers: number) =>
      window(workers, async () => {
        for (let i = 0; i < count; i++) {
          await utils.addJob("noop", {});
          await waitEmpty(5);
          await sleep(20);
        }
      }),
    async close() {
      await q.end();
      await utils.release();
      await db.drop();
    },
  };
}
