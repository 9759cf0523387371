/**
 * A run's steps are found by key, whatever the planner believes a run holds. The
 * transition functions plan generically (migration 018), from statistics in which a
 * run has a step or two, or, never analyzed, a guess; for a 1,000-step run a plan
 * that finds each promoted step by scanning the whole run reads 500,000 rows. Read
 * from the server's per-transaction counters (pg_stat_xact_user_tables), on Postgres,
 * in a database whose steps were never analyzed.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Knex } from "knex";
import { describeEngine } from "../engine/fixture.js";
import { BACKENDS } from "../engine/backends.js";
import { rowsOf } from "../../../src/store/db.js";
import { readingSteps } from "../../support/steps-read.js";

const WIDE = 1000;
/** Reads a step may cost (found, locked, updated, promoted); the quadratic plans read about WIDE / 2 a step. */
const LINEAR = 10 * WIDE;

/** A running run of `WIDE` steps plus, when `root`, one running step that all of them need. */
async function insertWideRun(db: Knex, opts: { state: string; runState?: string; root?: boolean }): Promise<string> {
  const id = rowsOf<{ id: string }>(
    await db.raw(
      `insert into runs (id, workflow, request_path, spec, identity, state, steps_left, active, max_parallel)
       values (gen_random_uuid(), 'wide', 'r', '{}', '{}', ?, ?, ?, ?) returning id`,
      [opts.runState ?? "running", WIDE + (opts.root ? 1 : 0), opts.root ? 1 : 0, WIDE + 1],
    ),
  )[0]!.id;
  await db.raw(
    `insert into steps (run_id, step_id, ord, state, deps_left, idempotency_key, finished_at)
     select ?, 's' || i, i, ?, ?, ? || i, case when ? in ('failed', 'cancelled') then now() end from generate_series(1, ?::integer) i`,
    [id, opts.state, opts.root ? 1 : 0, `${id}:`, opts.state, WIDE],
  );
  if (opts.root) {
    await db.raw(
      `insert into steps (run_id, step_id, ord, state, deps_left, idempotency_key, attempt, lease_owner, lease_expires_at, started_at, dependents)
       values (?, 'root', 0, 'running', 0, ?, 1, 'plans-test', now() + interval '1 minute', now(), array(select 's' || i from generate_series(1, ?::integer) i))`,
      [id, `${id}:root`, WIDE],
    );
    await db.raw("insert into attempts (run_id, step_id, attempt, phase, worker, outcome) values (?, 'root', 1, 'forward', 'plans-test', 'running')", [id]);
  }
  return id;
}

describeEngine("a wide run's transitions on $name", (env) => {
  beforeAll(async () => {
    // A new database, whose steps were never analyzed: the plans the bench's fresh database got.
    await env.store.db.raw("alter table steps set (autovacuum_enabled = off)");
  });
  afterAll(async () => {
    await env.store.db.raw("alter table steps reset (autovacuum_enabled)");
    await env.store.db.raw("delete from runs where workflow = 'wide'");
  });

  it("promotes 1,000 queued steps reading each once (a run's start, a full budget freed)", async () => {
    const run = await insertWideRun(env.store.db, { state: "pending" });
    const { out, read } = await readingSteps<unknown[]>(env.store.db, "select cl_promote_events(?, 'test') as r", [run]);
    expect(out).toHaveLength(WIDE);
    expect(read).toBeLessThan(LINEAR);
  });

  it("promotes the 1,000 dependents of a step that succeeded reading each once (a fan-out)", async () => {
    const run = await insertWideRun(env.store.db, { state: "pending", root: true });
    const item = { run_id: run, step_id: "root", attempt: 1, kind: "succeeded", outputs: {}, output_names: [] };
    const { out, read } = await readingSteps<{ statuses: Record<string, string> }>(
      env.store.db,
      "select cl_report('plans-test', ?::jsonb, 0, 60000, false) as r",
      [JSON.stringify([item])],
    );
    expect(out.statuses).toEqual({ [`${run}/root`]: "ok" });
    expect(read).toBeLessThan(LINEAR);
  });

  it("retries a run of 1,000 failed steps reading each once", async () => {
    const run = await insertWideRun(env.store.db, { state: "failed", runState: "failed" });
    const ids = Array.from({ length: WIDE }, (_, i) => `s${i + 1}`);
    const { out, read } = await readingSteps<string>(
      env.store.db,
      "select cl_retry_run(?, 'test', ?::text[], ?::int[], '{}'::jsonb, false) as r",
      [run, ids, ids.map(() => 0)],
    );
    expect(out).toBe("running");
    expect(read).toBeLessThan(LINEAR);
  });
}, { backends: BACKENDS.filter((b) => b.name === "pg") });
