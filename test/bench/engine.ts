/**
 * `npm run bench:engine`: Clutch Luigi's engine next to graphile-worker and DBOS Transact,
 * on the same Postgres server (each in its own database), with the same number of worker
 * processes and the same steps in flight per process. Prints one markdown table.
 *
 *   TEST_DATABASE_URL   admin URL (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_WORKERS       worker processes per system (2)
 *   BENCH_CONCURRENCY   steps in flight per worker process (8)
 *   BENCH_REPS          repetitions (3); the table shows medians
 *   BENCH_SHAPES        sizes and/or single shapes, e.g. "1k" or "10k-chains" (1k,10k)
 *   BENCH_PROBE         idle-latency probe: single-step runs, one at a time (50)
 *   BENCH_SYSTEMS       e.g. "clutch-luigi" to run only ours (all three)
 *   DBOS_POLL_MS        DBOS's queue polling interval (10)
 *   BENCH_PGBENCH       0 to skip pgbench's bound (1)
 *
 * Every repetition runs every shape on every system, rotating which system goes first,
 * so a burst of noise on this shared machine lands on all of them rather than on one.
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import pg from "pg";
import { ADMIN_URL } from "../support/pg.js";
import { fmt, median, pct, shapeLabel, type Measured, type Shape, type System } from "./bench-support.js";
import { ourSystem } from "./engine-ours.js";
import { graphileSystem } from "./engine-graphile.js";
import { dbosSystem } from "./engine-dbos.js";

const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const PROBE = Number(process.env.BENCH_PROBE ?? 50);
const SIZES = (process.env.BENCH_SHAPES ?? "1k,10k").split(",");
const ONLY = process.env.BENCH_SYSTEMS?.split(",");
const OURS = "clutch-luigi";

const SHAPES: Shape[] = (
  [
    { size: "1k", kind: "independent", runs: 1, width: 1_000 },
    { size: "1k", kind: "chains", runs: 200, width: 5 },
    { size: "10k", kind: "independent", runs: 10, width: 1_000 },
    { size: "10k", kind: "chains", runs: 2_000, width: 5 },
  ] as const
).filter((s) => SIZES.includes(s.size) || SIZES.includes(`${s.size}-${s.kind}`));

interface Row {
  shape: string;
  system: string;
  steps: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  commitsPerStep: number;
}

function row(shape: string, system: string, m: Measured): Row {
  const ms = [...m.latencies].sort((a, b) => a - b);
  return { shape, system, steps: m.steps, seconds: m.seconds, perSecond: m.steps / m.seconds, p50: pct(ms, 50), p99: pct(ms, 99), commitsPerStep: m.commits / m.steps };
}

function medians(rows: Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.shape}\u0000${r.system}`, [...(groups.get(`${r.shape}\u0000${r.system}`) ?? []), r]);
  const col = (g: Row[], k: keyof Omit<Row, "shape" | "system">) => median(g.map((r) => r[k]));
  return [...groups.values()].map((g) => ({
    shape: g[0]!.shape,
    system: g[0]!.system,
    steps: g[0]!.steps,
    seconds: col(g, "seconds"),
    perSecond: col(g, "perSecond"),
    p50: col(g, "p50"),
    p99: col(g, "p99"),
    commitsPerStep: col(g, "commitsPerStep"),
  }));
}

function pgbench(db: string, args: string[]): number {
  const u = new URL(ADMIN_URL);
  const base = ["-h", u.hostname, "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres")];
  const out = execFileSync("pgbench", [...base, ...args, db], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const m = out.match(/tps = ([\d.]+)/);
  return m ? Number(m[1]) : NaN;
}

const ratio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "—");
const holds = (ok: boolean): string => (ok ? "holds" : "**misses**");

function table(rows: Row[], probes: Row[]): string[] {
  const rate = (shape: string, system: string) => rows.find((r) => r.shape === shape && r.system === system)?.perSecond ?? NaN;
  const lines = [
    "| shape | system | steps | seconds | steps/s | vs graphile | vs DBOS | ready→start p50 ms | p99 ms | commits/step |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows.map((r) => {
      const ours = r.system === OURS;
      const vsG = ours ? ratio(r.perSecond / rate(r.shape, "graphile-worker")) : "";
      const vsD = ours ? ratio(r.perSecond / rate(r.shape, "dbos")) : "";
      return `| ${r.shape} | ${r.system} | ${r.steps} | ${fmt(r.seconds, 2)} | ${fmt(r.perSecond)} | ${vsG} | ${vsD} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.commitsPerStep, 2)} |`;
    }),
    ...probes.map((r) => `| idle probe: ${r.steps} single-step runs, one at a time | ${r.system} | ${r.steps} | | | | | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.commitsPerStep, 2)} |`),
  ];
  return lines;
}

function targets(rows: Row[], probes: Row[]): string[] {
  const out: string[] = [];
  const ours = rows.filter((r) => r.system === OURS);
  const peer = (r: Row, system: string) => rows.find((x) => x.shape === r.shape && x.system === system)?.perSecond ?? NaN;
  for (const r of ours) {
    const g = r.perSecond / peer(r, "graphile-worker");
    const d = r.perSecond / peer(r, "dbos");
    if (Number.isFinite(g)) out.push(`- ${r.shape}: ≥ 1.0× graphile-worker: ${ratio(g)}, ${holds(g >= 1)}`);
    if (Number.isFinite(d)) out.push(`- ${r.shape}: ≥ 3× DBOS: ${ratio(d)}, ${holds(d >= 3)}`);
    out.push(`- ${r.shape}: ≤ 2 commits/step: ${fmt(r.commitsPerStep, 2)}, ${holds(r.commitsPerStep <= 2)}`);
  }
  for (const kind of ["independent", "chains"]) {
    const k1 = ours.find((r) => r.shape.startsWith("1k:") && r.shape.includes(kind === "chains" ? "chain" : "independent"));
    const k10 = ours.find((r) => r.shape.startsWith("10k:") && r.shape.includes(kind === "chains" ? "chain" : "independent"));
    if (k1 && k10) out.push(`- ${kind}: 10k rate ≥ 1k rate: ${fmt(k10.perSecond)} vs ${fmt(k1.perSecond)} steps/s, ${holds(k10.perSecond >= k1.perSecond)}`);
  }
  const probe = probes.find((r) => r.system === OURS);
  if (probe) out.push(`- idle ready→start p50 ≤ 5 ms: ${fmt(probe.p50, 1)} ms, ${holds(probe.p50 <= 5)}`);
  return out;
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const systems: System[] = [];
  const rows: Row[] = [];
  const probes: Row[] = [];
  try {
    const makers = { [OURS]: ourSystem, "graphile-worker": graphileSystem, dbos: dbosSystem };
    for (const [name, make] of Object.entries(makers)) if (!ONLY || ONLY.includes(name)) systems.push(await make(admin, CONCURRENCY));
    for (let rep = 0; rep < REPS; rep++) {
      const order = systems.map((_, i) => systems[(i + rep) % systems.length]!);
      for (const shape of SHAPES)
        for (const s of order) {
          rows.push(row(shapeLabel(shape), s.name, await s.measure(shape, WORKERS)));
          const r = rows[rows.length - 1]!;
          process.stderr.write(`rep ${rep + 1}/${REPS} ${r.shape} ${r.system}: ${fmt(r.perSecond)} steps/s, ${fmt(r.commitsPerStep, 2)} commits/step\n`);
        }
      if (PROBE > 0)
        for (const s of order) {
          probes.push(row("probe", s.name, await s.probe(PROBE, WORKERS)));
          process.stderr.write(`rep ${rep + 1}/${REPS} probe ${s.name}: p50 ${fmt(probes[probes.length - 1]!.p50, 1)} ms\n`);
        }
    }
    const pgbDb = `cl_bench_pgb_${Date.now().toString(36)}`;
    await admin.query(`create database "${pgbDb}"`);
    let bound = "";
    if (process.env.BENCH_PGBENCH !== "0") try {
      execFileSync("pgbench", ["-i", "-q", "-s", "1", "-h", new URL(ADMIN_URL).hostname, "-p", new URL(ADMIN_URL).port || "5432", "-U", "postgres", pgbDb], { stdio: "ignore" });
      const w4 = pgbench(pgbDb, ["-N", "-c", "4", "-j", "2", "-T", "3"]);
      const w1 = pgbench(pgbDb, ["-N", "-c", "1", "-j", "1", "-T", "3"]);
      bound = `pgbench on the same server (3 s each, simple-update -N): ${fmt(w4)} TPS with 4 clients, ${fmt(w1)} TPS with 1 client.`;
    } finally {
      await admin.query(`drop database if exists "${pgbDb}" with (force)`);
    }
    const sorted = medians(rows).sort((a, b) => SHAPES.findIndex((s) => shapeLabel(s) === a.shape) - SHAPES.findIndex((s) => shapeLabel(s) === b.shape));
    const probeRows = medians(probes);
    const lines = [
      `Postgres ${(await admin.query("show server_version")).rows[0].server_version}, ${os.cpus().length} cores; ${WORKERS} worker processes per system, ${CONCURRENCY} steps in flight per process; no-op steps; median of ${REPS} repetition${REPS > 1 ? "s" : ""}`,
      "",
      ...table(sorted, probeRows),
      "",
      bound,
      "",
      "Targets:",
      ...targets(sorted, probeRows),
    ];
    process.stdout.write(lines.join("\n") + "\n");
  } finally {
    for (const s of systems) await s.close();
    await admin.end();
  }
}

await main();
