/**
 * The claim that follows a report, for the reported runs' steps, looks those steps up
 * by their run instead of walking every claimable step. cl_claim_rows had one
 * statement for both claims, `(p_runs is null or run_id = any(p_runs))`, and one plan
 * for it (the claimable index in run_at order, the runs as a filter): with 2,000
 * chains in flight, each report's claim read past the other runs' ready steps
 * (pg_stat_statements: 0.61 ms a call, 0.24 ms of a chain step's 1.6 ms of database
 * work). Now each case is its own statement with its own plan, the run-scoped one
 * finding its steps by key: the same rows, leases, attempts and result as before.
 */
import type { Knex } from "knex";
import { hotPathFunction } from "./002_hot_path.js";

/** A step no worker holds, in a state a worker takes; the new index covers exactly these rows. */
const UNHELD = `lease_owner is null and state in ('ready', 'waiting', 'rolling_back')`;
const CLAIMABLE = `${UNHELD} and run_at <= now()`;

/** The steps one claim takes, as `cand`: any claimable ones, oldest first. */
const PICK_ANY = `cand as (
       select run_id, step_id, state as prev_state from steps where ${CLAIMABLE}
       order by run_at limit p_limit for update skip locked
     )`;

/**
 * The reported runs' claimable steps, oldest first: each run's from its own index
 * (steps_claimable_run), at most p_limit a run, then the oldest p_limit of those.
 */
const PICK_RUNS = `cand as (
       select c.run_id, c.step_id, c.prev_state from unnest(p_runs) as r(id)
       cross join lateral (
         select run_id, step_id, state as prev_state, run_at from steps
         where run_id = r.id and ${CLAIMABLE}
         order by run_at limit p_limit for update skip locked
       ) c
       order by c.run_at limit p_limit
     )`;

/**
 * Taking the picked steps (the lease, the attempt row, the steps as the worker reads
 * them) is 002's statement after its pick, unchanged: taken from 002's definition.
 */
const TAKE = ((): string => {
  const def = hotPathFunction("cl_claim_rows(");
  const from = def.indexOf("     upd as (");
  const last = "from upd join runs r on r.id = upd.run_id;";
  const to = def.indexOf(last);
  if (from < 0 || to < from) throw new Error("migration 002's cl_claim_rows has no `upd as (` … join runs statement");
  return def.slice(from, to + last.length);
})();

const claimStatement = (pick: string): string => `with ${pick},\n${TAKE}`;

// Two statements, so that each is planned for its own pick.
export const CLAIM_ROWS = `create or replace function cl_claim_rows(p_worker text, p_limit integer, p_lease_ms bigint, p_runs uuid[] default null)
   returns jsonb language plpgsql as $$
   #variable_conflict use_column
   declare
     out jsonb;
   begin
     if p_limit <= 0 then return '[]'::jsonb; end if;
     if p_runs is null then
       ${claimStatement(PICK_ANY)}
     else
       ${claimStatement(PICK_RUNS)}
     end if;
     return out;
   end $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create index steps_claimable_run on steps (run_id, run_at) where ${UNHELD}`);
  await knex.raw(CLAIM_ROWS);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(hotPathFunction("cl_claim_rows("));
  await knex.raw("drop index if exists steps_claimable_run");
}
