/** What every system's driver in `bench:engine` shares: worker processes, commit counts, statistics. */
import { spawn, type ChildProcess } from "node:child_process";
import type pg from "pg";

const here = (f: string): string => new URL(f, import.meta.url).pathname;

export interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
  /** Everything the process printed on stdout so far. */
  output(): string;
}

/** Starts `n` copies of a bench worker script and resolves once each has printed "ready". */
export async function spawnProcs(script: string, n: number, env: Record<string, string>): Promise<Proc[]> {
  const extra = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  return Promise.all(
    Array.from({ length: n }, () =>
      new Promise<Proc>((resolve, reject) => {
        const child = spawn(process.execPath, [...extra, "--import", "tsx", here(script)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        let out = "";
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("ready")) resolve({ child, exited, output: () => out });
        });
        child.once("exit", (code) => reject(new Error(`${script} exited ${code}`)));
      }),
    ),
  );
}

export async function stopProcs(ps: Proc[]): Promise<void> {
  for (const p of ps) p.child.kill("SIGTERM");
  await Promise.all(ps.map((p) => p.exited));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Committed transactions in one database, as the statistics collector last saw them. */
export async function commits(admin: pg.Client, db: string): Promise<number> {
  const r = await admin.query("select xact_commit from pg_stat_database where datname = $1", [db]);
  return Number(r.rows[0].xact_commit);
}

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const median = (xs: number[]): number => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

export const fmt = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : "—");

/** A workload: `runs` runs of either `width` independent steps or a 5-step chain. */
export interface Shape {
  size: "1k" | "10k";
  kind: "independent" | "chains";
  runs: number;
  /** Steps per run. */
  width: number;
}

export const shapeLabel = (s: Shape): string =>
  s.kind === "independent" ? `${s.size}: ${s.runs} run${s.runs > 1 ? "s" : ""} × ${s.width} independent` : `${s.size}: ${s.runs} runs × 5-step chain`;

/** What one system measured for one shape, or for the idle probe. */
export interface Measured {
  steps: number;
  seconds: number;
  /** ready→start of every step, ms, any order. */
  latencies: number[];
  commits: number;
}

/** One system, driven by the bench: its own database, its own worker processes. */
export interface System {
  name: string;
  /** Runs `shape` with `workers` fresh worker processes and measures it. */
  measure(shape: Shape, workers: number): Promise<Measured>;
  /** Single-step runs created one at a time against idle workers. */
  probe(count: number, workers: number): Promise<Measured>;
  close(): Promise<void>;
}

export interface Window {
  admin: pg.Client;
  db: string;
  script: string;
  workers: number;
  env: Record<string, string>;
  /** Transactions the bench itself ran in `db` so far (its polls), taken out of the count. */
  benchTxns(): number;
}

/**
 * Starts the workers, runs `work`, stops them and counts every transaction committed in
 * the database meanwhile: the workers' start-up and shutdown, creating the work, claims,
 * completions, heartbeats, polls; less the bench's own. Exited backends flush their
 * statistics, so the count is read after the workers are gone. `work` returns what to
 * read afterwards, given the processes' output.
 */
export async function inWindow<T>(w: Window, work: () => Promise<(procs: Proc[]) => Promise<T>>): Promise<{ result: T; commits: number }> {
  const before = (await commits(w.admin, w.db)) - w.benchTxns();
  const procs = await spawnProcs(w.script, w.workers, w.env);
  await sleep(300);
  // CLOCK_MONOTONIC in µs, the clock of V8's CPU profiles: cpuprofile-top.ts cuts a
  // worker's profile to this window, leaving out its start-up
  const from = process.hrtime.bigint() / 1000n;
  const collect = await work();
  if (process.env.BENCH_VERBOSE) process.stderr.write(`window ${w.script} ${from} ${process.hrtime.bigint() / 1000n}\n`);
  await stopProcs(procs);
  await sleep(1_200);
  const after = (await commits(w.admin, w.db)) - w.benchTxns();
  return { result: await collect(procs), commits: after - before };
}
