/**
 * The claim that rides a report, for one reported run, as other runs' ready steps pile
 * up: migration 019's definition against 002's (one statement for every claim, the
 * runs as a filter on the claimable index), on the same database and rows. Each row
 * of other runs is one ready step; each call claims the one ready step of a run
 * picked at random, inside a transaction that is rolled back, with the generic plans
 * cl_report uses (migration 018). A profiling tool, not one of the `npm run` benches:
 *
 *   tsx test/bench/claim-scope.ts          TEST_DATABASE_URL names the server
 */
import { openStore, rowsOf } from "../../src/store/db.js";
import { hotPathFunction } from "../../src/store/migrations/002_hot_path.js";
import { CLAIM_ROWS } from "../../src/store/migrations/019_claim_by_run.js";
import { createTestDatabase } from "../support/pg.js";
import { insertReadyRuns } from "../support/ready-steps.js";

const CALLS = 200;
const REPS = 5;
const DEFINITIONS = [
  ["002: one statement", hotPathFunction("cl_claim_rows(")],
  ["019: by run", CLAIM_ROWS],
  // the bound: the same round trip doing no work
  ["`select 1`", null],
] as const;

const db = await createTestDatabase("cl_claim_scope");
const store = await openStore({ databaseUrl: db.url, checkTransitions: false });
const k = store.db;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  console.log("| ready steps of other runs | definition | ms a claim (median) |\n|--:|---|--:|");
  for (const n of [200, 2_000, 20_000]) {
    await k.raw("delete from runs");
    await insertReadyRuns(k, n, { workflow: "w", spreadMs: 1000 });
    await k.raw("vacuum analyze steps");
    const runs = rowsOf<{ id: string }>(await k.raw("select id from runs order by random() limit ?", [CALLS])).map((r) => r.id);
    for (const [label, definition] of DEFINITIONS) {
      if (definition) await k.raw(definition);
      const sql = definition ? "select cl_claim_rows('bench', 1, 60000, array[?]::uuid[])" : "select 1 where ?::uuid is not null";
      const perCall: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const trx = await k.transaction();
        try {
          await trx.raw("set local plan_cache_mode = force_generic_plan");
          const t0 = process.hrtime.bigint();
          for (const run of runs) await trx.raw(sql, [run]);
          perCall.push(Number(process.hrtime.bigint() - t0) / 1e6 / runs.length);
        } finally {
          await trx.rollback();
        }
      }
      console.log(`| ${n.toLocaleString("en-US")} | ${label} | ${median(perCall).toFixed(3)} |`);
    }
  }
  console.log(`\n${CALLS} calls a repetition, median of ${REPS}; each call is one round trip from this process.`);
} finally {
  await store.close();
  await db.drop();
}
