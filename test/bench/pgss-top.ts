/**
 * Top statements from pg_stat_statements, per step, for profiling `bench:engine` against a
 * private cluster started with pg_stat_statements.track=all (so the statements inside the
 * plpgsql transition functions are listed too, and a function's own line includes them):
 *
 *   tsx test/bench/pgss-top.ts reset          before the run
 *   tsx test/bench/pgss-top.ts STEPS          after it: every database, top TOP (25) by total time
 *
 * TEST_DATABASE_URL names the cluster. Never point it at a shared server: reset clears everyone's.
 */
import pg from "pg";
import { ADMIN_URL } from "../support/pg.js";

const arg = process.argv[2];
// the bench's pgbench bound and its set-up and tear-down are not the engine's work
const OURS = `query not ilike '%pgbench%' and query !~* '^\\s*(drop|create|truncate|copy|vacuum|alter)'`;
const c = new pg.Client({ connectionString: ADMIN_URL });
await c.connect();
try {
  await c.query("create extension if not exists pg_stat_statements");
  if (arg === "reset") {
    await c.query("select pg_stat_statements_reset()");
  } else {
    const steps = Number(arg);
    if (!Number.isFinite(steps) || steps <= 0) throw new Error("usage: pgss-top.ts reset | STEPS");
    const top = await c.query(
      `select toplevel, calls, total_exec_time as ms, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) as q
       from pg_stat_statements where ${OURS} order by total_exec_time desc limit $1`,
      [Number(process.env.TOP ?? 25)],
    );
    const sum = await c.query(`select sum(total_exec_time) as ms, sum(calls) as calls from pg_stat_statements where toplevel and ${OURS}`);
    process.stdout.write(`top-level statements: ${(Number(sum.rows[0].ms) / steps * 1000).toFixed(0)} µs and ${(Number(sum.rows[0].calls) / steps).toFixed(2)} calls a step\n`);
    process.stdout.write("| µs a step | calls a step | ms a call | level | statement |\n|--:|--:|--:|---|---|\n");
    for (const r of top.rows)
      process.stdout.write(`| ${((Number(r.ms) / steps) * 1000).toFixed(0)} | ${(Number(r.calls) / steps).toFixed(2)} | ${(Number(r.ms) / Number(r.calls)).toFixed(3)} | ${r.toplevel ? "top" : "nested"} | \`${String(r.q).replace(/\|/g, "\\|")}\` |\n`);
  }
} finally {
  await c.end();
}
