/**
 * The statements that change many steps of one run are single-table statements, so
 * no plan can make them quadratic. The transition functions plan generically (018),
 * from statistics that describe the typical run (a few steps) or, in a database never
 * analyzed, a guess. For a run of 1,000 steps such a plan joined the steps to change
 * with a scan of the whole run, once per step: about 500,000 rows read to start a
 * 1,000-step run (207 of its 256 ms), to promote a step's 1,000 dependents, or to
 * retry 1,000 failed steps (test/integration/store/wide-run-plans.test.ts).
 *
 * - Promotion finds the last step the budget takes (an ordered read of the run's
 *   queue index), then updates the queue up to it, in one statement (the read is an
 *   uncorrelated subquery, run once).
 * - A success counts its dependents down by key and then promotes the queue, in both
 *   of 020's cases (budget full, budget with room): with room, nothing was queued
 *   before, so the queue holds exactly what the success unblocked. One promotion
 *   path instead of two.
 * - A retry reads each step's dependency count from a jsonb object by key, not from
 *   a join with the arrays it was given.
 */
import type { Knex } from "knex";
import { promoterAsOf017 } from "./017_claim_successors.js";
import { transitionFunction } from "./015_transitions.js";
import { RUN_AFTER_ATTEMPT } from "./020_run_lock_late.js";
import { replacedOnce } from "./definitions.js";

// Up to p_free queued steps, in file order: the last one the budget takes is found first (an
// ordered read of the queue index), then the queue is updated up to it, in one statement.
// The caller counts them in the run's `active`.
const PROMOTE_WITHIN = `create or replace function cl_promote_within_events(p_run uuid, p_actor text, p_free integer) returns jsonb language plpgsql as $$
   declare
     ev jsonb;
   begin
     with upd as (
       update steps s set
         state = case when s.after_ms > 0 then 'waiting' else 'ready' end,
         run_at = case when s.after_ms > 0 then clock_timestamp() + s.after_ms * interval '1 millisecond' else now() end,
         ready_at = clock_timestamp() + s.after_ms * interval '1 millisecond'
       where s.run_id = p_run and s.state = 'pending' and s.deps_left = 0
         and s.ord <= (select max(ord) from (
               select ord from steps where run_id = p_run and state = 'pending' and deps_left = 0 order by ord limit greatest(p_free, 0)) q)
       returning s.step_id, s.state, s.after_ms, s.ord
     )
     select coalesce(jsonb_agg(cl_event(
              case when state = 'waiting' then 'step.waiting' else 'step.ready' end, p_run, step_id, p_actor,
              case when state = 'waiting' then jsonb_build_object('timerMs', after_ms) else '{}'::jsonb end) order by ord), '[]'::jsonb)
       into ev from upd;
     return ev;
   end $$`;

const PROMOTE = `create or replace function cl_promote_events(p_run uuid, p_actor text) returns jsonb language plpgsql as $$
   declare
     ev jsonb := cl_promote_within_events(p_run, p_actor, (select max_parallel - active from runs where id = p_run));
   begin
     if jsonb_array_length(ev) > 0 then
       update runs set active = active + jsonb_array_length(ev) where id = p_run;
     end if;
     return ev;
   end $$`;

/** 020's two promoting branches of a success, from "The budget was full" to the end of the other. */
const SUCCESS_PROMOTION_020 = /( {7}elsif r\.active >= r\.max_parallel then\n[\s\S]*?ev := v_promoted;\n)/;

const SUCCESS_PROMOTION = `       else
         -- The dependents count down, then the queue is promoted in file order within the budget
         -- this success frees. With room in the budget nothing was queued before, so the queue
         -- holds what this success unblocked; with room and no dependents, nothing to promote.
         if cardinality(p_dependents) > 0 then
           update steps set deps_left = deps_left - 1 where run_id = v_run and step_id = any(p_dependents);
         end if;
         if cardinality(p_dependents) > 0 or r.active >= r.max_parallel then
           ev := cl_promote_within_events(v_run, v_actor, r.max_parallel - r.active + 1);
         end if;
         update runs set active = active - 1 + jsonb_array_length(ev), steps_left = steps_left - 1, updated_at = now() where id = v_run;
`;

/** cl_run_after_attempt_events as this migration re-creates it, for a later migration's down(). */
export function afterAttempt(): string {
  const sql = RUN_AFTER_ATTEMPT.replace(/^create function/, "create or replace function");
  const found = sql.match(SUCCESS_PROMOTION_020);
  if (!found || found.length !== 2) throw new Error("expected 020's promotion of a success in cl_run_after_attempt_events");
  return sql.replace(SUCCESS_PROMOTION_020, SUCCESS_PROMOTION).replace("     v_promoted jsonb;\n", "");
}

const RETRY_BY_JOIN = `     update steps s set state = 'pending', deps_left = k.deps_left,`;
const RETRY_BY_KEY = `     update steps s set state = 'pending', deps_left = (jsonb_object(p_steps, p_deps::text[])->>s.step_id)::integer,`;
const RETRY_FROM_JOIN = `     from unnest(p_steps, p_deps) as k(step_id, deps_left)
     where s.run_id = p_run and s.step_id = k.step_id;`;
const RETRY_FROM_KEYS = `     where s.run_id = p_run and s.step_id = any(p_steps);`;

const RETRY_015 = transitionFunction("cl_retry_run(p_run uuid");

export async function up(knex: Knex): Promise<void> {
  await knex.raw(PROMOTE_WITHIN);
  await knex.raw(PROMOTE);
  await knex.raw(afterAttempt());
  await knex.raw(replacedOnce(replacedOnce(RETRY_015, RETRY_BY_JOIN, RETRY_BY_KEY, "retry's set in 015"), RETRY_FROM_JOIN, RETRY_FROM_KEYS, "retry's join in 015"));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(promoterAsOf017("cl_promote_events(p_run uuid"));
  await knex.raw(RUN_AFTER_ATTEMPT.replace(/^create function/, "create or replace function"));
  await knex.raw(RETRY_015);
  await knex.raw("drop function cl_promote_within_events(uuid, text, integer)");
}
