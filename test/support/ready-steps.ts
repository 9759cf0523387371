/**
 * Runs that each have one ready step and nothing else: the work other runs have in
 * flight, for tests and benches of what a claim reads. Inserted as rows, not started
 * through the engine, so thousands take a second. `spreadMs` spreads their `run_at`
 * over that many milliseconds a minute ago (0: all the same), so that all of them are
 * older than the steps of runs started afterwards.
 */
import type { Knex } from "knex";

export async function insertReadyRuns(db: Knex, n: number, opts: { workflow: string; spreadMs?: number }): Promise<void> {
  await db.raw(
    `insert into runs (id, workflow, request_path, spec, identity, state, steps_left)
     select gen_random_uuid(), ?, 'r', '{}', '{}', 'running', 1 from generate_series(1, ?::integer)`,
    [opts.workflow, n],
  );
  await db.raw(
    `insert into steps (run_id, step_id, ord, state, deps_left, idempotency_key, run_at)
     select id, 'only', 0, 'ready', 0, id::text, now() - interval '1 minute' + random() * ?::double precision * interval '1 millisecond'
     from runs where workflow = ?`,
    [opts.spreadMs ?? 0, opts.workflow],
  );
}
