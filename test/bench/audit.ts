/**
 * `npm run bench:audit`: 1,000,000 audit rows on a real Postgres server (a fresh
 * database on TEST_DATABASE_URL), then `audit export`, `audit report` and
 * `audit verify` each in a child process of its own, so each one's peak RSS is its
 * own and not the seeding's. Prints a table: rows, seconds, peak RSS.
 * BENCH_AUDIT_ROWS overrides the row count.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createTestDatabase } from "../support/pg.js";
import { openStore } from "../../src/store/db.js";
import { executeExport } from "../../src/cli/commands/audit/export.js";
import { executeReport, parseReport } from "../../src/cli/commands/audit/report.js";
import { executeVerify } from "../../src/cli/commands/audit/verify.js";
import type { CliIO } from "../../src/cli/command.js";

const ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
const BATCH = 10_000;
/** One run every 50 rows: a run.created row, then its step rows. */
const RUN_EVERY = 50;

function quietIO(): CliIO {
  return { stdout: { write: () => true }, stderr: { write: () => true }, cwd: process.cwd(), env: {} };
}

async function child(mode: string, url: string, out: string): Promise<void> {
  const store = await openStore({ databaseUrl: url, poolMax: 2, migrate: false });
  const t0 = performance.now();
  let code: number;
  if (mode === "export") code = await executeExport(store, { format: "jsonl", out }, quietIO());
  else if (mode === "report") code = await executeReport(store, parseReport(["--since", "2000-01-01", "--format", "csv", "--out", out], process.cwd()), quietIO());
  else code = await executeVerify(store, { anchors: [] }, quietIO());
  const ms = performance.now() - t0;
  await store.close();
  process.stdout.write(JSON.stringify({ code, ms, maxRssKb: process.resourceUsage().maxRSS }) + "\n");
}

async function seed(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const t0 = performance.now();
  try {
    for (let start = 0; start < ROWS; start += BATCH) {
      const n = Math.min(BATCH, ROWS - start);
      // Built server-side: one call appends a batch, as the engine's batched completions do.
      await c.query(
        `select cl_audit(jsonb_agg(case when i % $3 = 0 then
            jsonb_build_object('kind', 'run.created', 'run_id', md5('r' || (i / $3))::uuid, 'actor', 'alice',
              'data', jsonb_build_object('workflow', 'rotate-db-credentials', 'repository', 'acme/ops', 'pullRequest', i / $3,
                'requester', 'alice', 'approvers', jsonb_build_array('bob'), 'approvals', jsonb_build_array(jsonb_build_object('login', 'bob', 'reviewId', i)), 'breakGlass', false))
          when i % $3 = $3 - 1 then
            jsonb_build_object('kind', 'run.succeeded', 'run_id', md5('r' || (i / $3))::uuid, 'actor', 'worker:w1', 'data', '{}'::jsonb)
          else
            jsonb_build_object('kind', 'step.succeeded', 'run_id', md5('r' || (i / $3))::uuid, 'step_id', 's' || (i % $3), 'actor', 'worker:w1',
              'data', jsonb_build_object('attempt', 1, 'outputs', jsonb_build_array('value')))
          end order by i))
         from generate_series($1::bigint, $2::bigint) i`,
        [start, start + n - 1, RUN_EVERY],
      );
    }
  } finally {
    await c.end();
  }
  return performance.now() - t0;
}

function runChild(mode: string, url: string, out: string): { code: number; ms: number; maxRssKb: number } {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", mode, url, out], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${mode} child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as { code: number; ms: number; maxRssKb: number };
}

async function main(): Promise<void> {
  const db = await createTestDatabase("cl_bench_audit");
  const dir = mkdtempSync(join(tmpdir(), "cl-bench-audit-"));
  try {
    const store = await openStore({ databaseUrl: db.url, poolMax: 2 });
    await store.close();
    const seedMs = await seed(db.url);
    console.log(`seeded ${ROWS.toLocaleString("en")} rows in ${(seedMs / 1000).toFixed(1)} s (${Math.round(ROWS / (seedMs / 1000)).toLocaleString("en")} rows/s)`);
    const rows: string[][] = [];
    for (const mode of ["export", "report", "verify"]) {
      const out = join(dir, `${mode}.out`);
      const r = runChild(mode, db.url, out);
      if (r.code !== 0) throw new Error(`${mode} exited ${r.code}`);
      const size = mode === "verify" ? "" : `${(statSync(out).size / 1e6).toFixed(0)} MB`;
      rows.push([`audit ${mode}`, ROWS.toLocaleString("en"), (r.ms / 1000).toFixed(1), `${Math.round(r.maxRssKb / 1024)} MB`, size]);
    }
    const head = ["command", "rows", "seconds", "peak RSS", "output"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
    console.log(line(head));
    console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
    for (const r of rows) console.log(line(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}

if (process.argv[2] === "--child") await child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
