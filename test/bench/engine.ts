/**
 * `npm run bench:engine`: engine throughput and latency on real Postgres with 1, 2
 * and 4 worker processes, next to pgbench (the server's physical bound) and
 * graphile-worker (the peer) on the same server. Prints a markdown table.
 *
 *   TEST_DATABASE_URL   admin URL (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_WORKERS       e.g. "1,2,4"      BENCH_CONCURRENCY  steps per worker (8)
 *   BENCH_REPS          repetitions of every scenario (3); the table shows medians
 *
 * Our scenarios and the peer's alternate within each repetition, so a burst of noise
 * on this shared machine lands on both rather than on one.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import pg from "pg";
import { makeWorkerUtils } from "graphile-worker";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { openStore, type Store } from "../../src/store/db.js";
import { createRun } from "../../src/store/runs.js";
import type { StepSpec, WorkflowSpec } from "../../src/formats/types.js";

const WORKERS = (process.env.BENCH_WORKERS ?? "1,2,4").split(",").map(Number);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const here = (f: string): string => new URL(f, import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
}

async function spawnProcs(script: string, n: number, env: Record<string, string>): Promise<Proc[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      new Promise<Proc>((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", here(script)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        let out = "";
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("ready")) resolve({ child, exited });
        });
        child.once("exit", (code) => reject(new Error(`${script} exited ${code}`)));
      }),
    ),
  );
}

async function stopProcs(ps: Proc[]): Promise<void> {
  for (const p of ps) p.child.kill("SIGTERM");
  await Promise.all(ps.map((p) => p.exited));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function commits(admin: pg.Client, db: string): Promise<number> {
  const r = await admin.query("select xact_commit from pg_stat_database where datname = $1", [db]);
  return Number(r.rows[0].xact_commit);
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const IDENTITY = { repository: "bench/ops", requester: { login: "bench", type: "User" }, approvers: [] };
const wf = (name: string, steps: StepSpec[]): WorkflowSpec => ({ apiVersion: "clutch-luigi/v1", kind: "Workflow", name, steps });
const req = (w: WorkflowSpec) => ({ apiVersion: "clutch-luigi/v1" as const, kind: "Request" as const, workflow: w.name, reason: "bench" });

interface Row {
  scenario: string;
  workers: number;
  steps: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  commitsPerStep: number;
}

async function waitAllFinished(q: pg.Client, runIds: string[], pollMs = 100): Promise<void> {
  for (;;) {
    const r = await q.query("select count(*)::int as n from runs where id = any($1) and finished_at is null", [runIds]);
    benchQueries++;
    if (r.rows[0].n === 0) return;
    await sleep(runIds.length === 1 ? 5 : pollMs);
  }
}

/** Statements this bench itself ran in the measured database, to take out of the commit count. */
let benchQueries = 0;

async function scenario(name: string, db: TestDatabase, store: Store, admin: pg.Client, q: pg.Client, n: number, create: () => Promise<string[]>): Promise<Row> {
  await q.query("truncate attempts, steps, locks, runs cascade");
  const before = await commits(admin, db.name);
  benchQueries = 0;
  const procs = await spawnProcs("./engine-worker.ts", n, { DATABASE_URL: db.url, CONCURRENCY: String(CONCURRENCY) });
  await sleep(300);
  const runIds = await create();
  await waitAllFinished(q, runIds);
  await stopProcs(procs);
  await sleep(1_200); // exited backends have flushed their counters; let the stats settle
  const after = await commits(admin, db.name) - benchQueries;
  const t = await q.query(
    `select extract(epoch from max(finished_at) - min(created_at)) as secs, sum(steps_left) as left,
            count(*) filter (where state <> 'succeeded') as bad
     from runs where id = any($1)`,
    [runIds],
  );
  if (Number(t.rows[0].bad) > 0) throw new Error(`${name}: ${t.rows[0].bad} runs did not succeed`);
  const lat = await q.query(
    "select extract(epoch from started_at - ready_at) * 1000 as ms from steps where run_id = any($1) order by 1",
    [runIds],
  );
  const ms = lat.rows.map((r) => Number(r.ms));
  const steps = ms.length;
  const seconds = Number(t.rows[0].secs);
  // Commits: every transaction in the database while the scenario ran (worker start-up and
  // shutdown, createRun, claims, completions, heartbeats, LISTEN), minus the bench's own polls.
  return { scenario: name, workers: n, steps, seconds, perSecond: steps / seconds, p50: pct(ms, 50), p99: pct(ms, 99), commitsPerStep: (after - before) / steps };
  void store;
}

async function graphilePeer(db: TestDatabase, admin: pg.Client, n: number): Promise<Row> {
  const utils = await makeWorkerUtils({ connectionString: db.url });
  try {
    await utils.migrate();
    const q = new pg.Client({ connectionString: db.url });
    await q.connect();
    try {
      const before = await commits(admin, db.name);
      const procs = await spawnProcs("./graphile-peer.ts", n, { DATABASE_URL: db.url, CONCURRENCY: String(CONCURRENCY) });
      await sleep(300);
      const start = Date.now();
      let polls = 0;
      await utils.addJobs(Array.from({ length: 1_000 }, () => ({ identifier: "noop", payload: {} })));
      for (;;) {
        const r = await q.query("select count(*)::int as n from graphile_worker._private_jobs");
        polls++;
        if (r.rows[0].n === 0) break;
        await sleep(20);
      }
      const seconds = (Date.now() - start) / 1000;
      await stopProcs(procs);
      await sleep(1_200);
      const after = (await commits(admin, db.name)) - polls;
      return { scenario: "graphile-worker 1,000 no-op jobs", workers: n, steps: 1_000, seconds, perSecond: 1_000 / seconds, p50: NaN, p99: NaN, commitsPerStep: (after - before) / 1_000 };
    } finally {
      await q.end();
    }
  } finally {
    await utils.release();
  }
}

function pgbench(adminUrl: string, db: string, args: string[]): number {
  const u = new URL(adminUrl);
  const base = ["-h", u.hostname, "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres")];
  const out = execFileSync("pgbench", [...base, ...args, db], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const m = out.match(/tps = ([\d.]+)/);
  return m ? Number(m[1]) : NaN;
}

const fmt = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : "—");

const median = (xs: number[]): number => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

/** One row per (scenario, workers): the median of every measured column over the repetitions. */
function medians(rows: Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.workers}\u0000${r.scenario}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => ({
    scenario: g[0]!.scenario,
    workers: g[0]!.workers,
    steps: g[0]!.steps,
    seconds: median(g.map((r) => r.seconds)),
    perSecond: median(g.map((r) => r.perSecond)),
    p50: median(g.map((r) => r.p50)),
    p99: median(g.map((r) => r.p99)),
    commitsPerStep: median(g.map((r) => r.commitsPerStep)),
  }));
}

async function main(): Promise<void> {
  const db = await createTestDatabase("cl_bench");
  const peerDb = await createTestDatabase("cl_bench_peer");
  const pgbDb = await createTestDatabase("cl_bench_pgb");
  const store = await openStore({ databaseUrl: db.url, poolMax: 4 });
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" });
  const q = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await q.connect();
  const rows: Row[] = [];
  try {
    const adminUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
    execFileSync("pgbench", ["-i", "-q", "-s", "1", "-h", new URL(adminUrl).hostname, "-U", "postgres", pgbDb.name], { stdio: "ignore" });
    const tpsRead = pgbench(adminUrl, pgbDb.name, ["-S", "-c", "4", "-j", "2", "-T", "5"]);
    const tpsWrite = pgbench(adminUrl, pgbDb.name, ["-N", "-c", "4", "-j", "2", "-T", "5"]);
    const tpsSerial = pgbench(adminUrl, pgbDb.name, ["-N", "-c", "1", "-j", "1", "-T", "5"]);

    const wide = wf("bench-wide", Array.from({ length: 1_000 }, (_, i) => ({ id: `s${i}`, uses: "noop" })));
    const chain = wf("bench-chain", Array.from({ length: 5 }, (_, i) => ({ id: `c${i}`, uses: "noop", ...(i > 0 ? { needs: [`c${i - 1}`] } : {}) })));
    for (const n of WORKERS) for (let rep = 1; rep <= REPS; rep++) {
      rows.push(await scenario("1 run × 1,000 independent noop steps", db, store, admin, q, n, async () => [
        (await createRun(store, { ...IDENTITY, workflow: wide, request: req(wide), requestPath: "bench.yaml", maxParallel: 1_000 })).runId,
      ]));
      process.stderr.write(`done: wide × ${n} (rep ${rep})\n`);
      rows.push(await scenario("200 runs × 5-step chain", db, store, admin, q, n, async () => {
        const ids: string[] = [];
        // four creators at a time, like webhooks arriving together
        for (let i = 0; i < 200; i += 4) {
          const batch = await Promise.all([0, 1, 2, 3].map(() => createRun(store, { ...IDENTITY, workflow: chain, request: req(chain), requestPath: "bench.yaml" })));
          ids.push(...batch.map((b) => b.runId));
        }
        return ids;
      }));
      process.stderr.write(`done: chains × ${n} (rep ${rep})\n`);
      rows.push(await scenario("latency probe: 20 chains one at a time", db, store, admin, q, n, async () => {
        const ids: string[] = [];
        for (let i = 0; i < 20; i++) {
          const { runId } = await createRun(store, { ...IDENTITY, workflow: chain, request: req(chain), requestPath: "bench.yaml" });
          ids.push(runId);
          await waitAllFinished(q, [runId]);
          await sleep(20);
        }
        return ids;
      }).then((r) => ({ ...r, perSecond: NaN })));
      rows.push(await graphilePeer(peerDb, admin, n));
      process.stderr.write(`done: graphile × ${n} (rep ${rep})\n`);
    }
    const lines = [
      `Postgres ${(await admin.query("show server_version")).rows[0].server_version}, ${(await import("node:os")).cpus().length} cores, ${CONCURRENCY} steps in flight per worker process, median of ${REPS} repetitions`,
      "",
      "| scenario | worker processes | steps | seconds | steps/s | vs peer | ready→start p50 ms | p99 ms | commits/step |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...medians(rows).map((r, _i, all) => {
        const peer = all.find((x) => x.workers === r.workers && x.scenario.startsWith("graphile"));
        const ratio = peer && !r.scenario.startsWith("graphile") ? r.perSecond / peer.perSecond : NaN;
        return `| ${r.scenario} | ${r.workers} | ${r.steps} | ${fmt(r.seconds, 2)} | ${fmt(r.perSecond)} | ${Number.isFinite(ratio) ? `${fmt(ratio * 100)} %` : "—"} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.commitsPerStep, 2)} |`;
      }),
      "",
      `pgbench on the same server (5 s each): select-only ${fmt(tpsRead)} TPS (4 clients); simple-update (-N) ${fmt(tpsWrite)} TPS (4 clients), ${fmt(tpsSerial)} TPS (1 client).`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  } finally {
    await q.end();
    await admin.end();
    await store.close();
    await db.drop();
    await peerDb.drop();
    await pgbDb.drop();
  }
}

await main();
