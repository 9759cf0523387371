/**
 * The successes a report batch holds for one run are counted in one go. With a run of
 * independent steps, a batch of eight successes locked and updated the run's row eight
 * times while holding it (and both workers' batches took turns on that row); now the
 * run's counters change once, and its queue is promoted once, for all of them.
 *
 * cl_run_after_successes_events is the run-level work of N successes (a single one
 * included: cl_run_after_attempt_events calls it for a success). cl_report groups a
 * run's attempts when all of them succeeded or were skipped; a run with any other
 * outcome in the batch takes its attempts one at a time, in step order, as before.
 *
 * Dependents count down by key: once each when no two successes of the group unblock
 * the same step (one single-table update), else once per distinct dependent by its
 * count (a join step whose two prerequisites finished in the same batch).
 */
import type { Knex } from "knex";
import { REPORT as REPORT_020 } from "./020_run_lock_late.js";
import { afterAttempt as afterAttempt021 } from "./021_promote_without_joins.js";

const SUCCESSES = `create function cl_run_after_successes_events(p_worker text, p_run uuid, p_count integer, p_dependents text[]) returns jsonb language plpgsql as $$
   declare
     v_actor text := 'worker:' || p_worker;
     r record;
     ev jsonb := '[]'::jsonb;
     d record;
   begin
     -- One run's reports serialize here, so a join step is promoted once and the run finishes once.
     select state, steps_left, active, max_parallel into r from runs where id = p_run for update;
     -- Another attempt of this batch ended the run, having seen these end: nothing is left to count.
     if r.state not in ('running', 'rolling_back') then return ev; end if;
     if r.state <> 'running' then
       update runs set active = active - p_count, steps_left = steps_left - p_count, updated_at = now() where id = p_run;
       return cl_reconcile_events(p_run, v_actor);
     end if;
     if r.steps_left = p_count then
       update runs set active = active - p_count, steps_left = 0, updated_at = now() where id = p_run;
       return cl_finish_run_events(p_run, 'succeeded', v_actor);
     end if;
     -- The dependents count down, then the queue is promoted in file order within the budget
     -- these successes free. With room in the budget nothing was queued before, so the queue
     -- holds what they unblocked; with room and no dependents, there is nothing to promote.
     if cardinality(p_dependents) > 0 then
       if cardinality(p_dependents) = (select count(distinct x) from unnest(p_dependents) x) then
         update steps set deps_left = deps_left - 1 where run_id = p_run and step_id = any(p_dependents);
       else
         for d in select x as step_id, count(*)::integer as n from unnest(p_dependents) x group by x loop
           update steps set deps_left = deps_left - d.n where run_id = p_run and step_id = d.step_id;
         end loop;
       end if;
     end if;
     if cardinality(p_dependents) > 0 or r.active >= r.max_parallel then
       ev := cl_promote_within_events(p_run, v_actor, r.max_parallel - r.active + p_count);
     end if;
     update runs set active = active - p_count + jsonb_array_length(ev), steps_left = steps_left - p_count, updated_at = now() where id = p_run;
     return ev;
   end $$`;

const AFTER_ATTEMPT_021 = afterAttempt021();
/** 021's success branch, from its `if` to the `elsif` of the next outcome. */
const SUCCESS_BRANCH_021 = /( {5}if v_forward and v_kind in \('succeeded', 'skipped'\) then\n[\s\S]*?\n)( {5}elsif v_forward and v_kind = 'failed' and v_retry is null then)/;

function afterAttempt(): string {
  if (!SUCCESS_BRANCH_021.test(AFTER_ATTEMPT_021)) throw new Error("expected 021's success branch in cl_run_after_attempt_events");
  // A success is a group of one; the other outcomes keep their branches.
  return AFTER_ATTEMPT_021.replace(SUCCESS_BRANCH_021, (_all, _success: string, next: string) => next.replace("elsif", "if")).replace(
    "   begin\n     -- One run's reports serialize here",
    "   begin\n     if v_forward and v_kind in ('succeeded', 'skipped') then\n       return cl_run_after_successes_events(p_worker, v_run, 1, p_dependents);\n     end if;\n     -- One run's reports serialize here",
  );
}

const REPORT = `create or replace function cl_report(p_worker text, p_items jsonb, p_claim integer, p_lease_ms bigint, p_notify boolean)
   returns jsonb language plpgsql set plan_cache_mode = force_generic_plan as $$
   declare
     it jsonb;
     res jsonb;
     statuses jsonb := '{}'::jsonb;
     ended jsonb[] := '{}';
     ev jsonb := '[]'::jsonb;
     claimed jsonb;
     n integer;
     i integer := 1;
     j integer;
     v_run uuid;
     v_all boolean;
     v_deps text[];
   begin
     -- The attempts first, each on its own step's row; then each run, in id order, held to commit.
     for it in select value from jsonb_array_elements(p_items) order by value->>'run_id', value->>'step_id' loop
       res := cl_end_attempt(p_worker, it);
       statuses := statuses || jsonb_build_object((it->>'run_id') || '/' || (it->>'step_id'), res->>'status');
       if res->>'status' = 'ok' then ended := ended || jsonb_build_object('item', it, 'end', res); end if;
     end loop;
     n := coalesce(array_length(ended, 1), 0);
     for k in 1 .. n loop
       ev := ev || (ended[k]->'end'->'events');
     end loop;
     while i <= n loop
       v_run := (ended[i]->'item'->>'run_id')::uuid;
       v_all := true;
       v_deps := '{}';
       j := i;
       while j <= n and (ended[j]->'item'->>'run_id')::uuid = v_run loop
         v_all := v_all and coalesce(ended[j]->'item'->>'phase', 'forward') = 'forward' and ended[j]->'item'->>'kind' in ('succeeded', 'skipped');
         v_deps := v_deps || array(select jsonb_array_elements_text(ended[j]->'end'->'dependents'));
         j := j + 1;
       end loop;
       if v_all then
         ev := ev || cl_run_after_successes_events(p_worker, v_run, j - i, v_deps);
       else
         for k in i .. j - 1 loop
           ev := ev || cl_run_after_attempt_events(p_worker, ended[k]->'item',
                         array(select jsonb_array_elements_text(ended[k]->'end'->'dependents')));
         end loop;
       end if;
       i := j;
     end loop;
     claimed := cl_claim_rows(p_worker, p_claim, p_lease_ms,
                              array(select distinct (value->>'run_id')::uuid from jsonb_array_elements(p_items)));
     if jsonb_array_length(claimed) < p_claim then
       claimed := claimed || cl_claim_rows(p_worker, p_claim - jsonb_array_length(claimed), p_lease_ms);
     end if;
     ev := ev || cl_claim_events(claimed, 'worker:' || p_worker);
     perform cl_commit_events(ev, p_notify, jsonb_array_length(claimed));
     return jsonb_build_object('statuses', statuses, 'claimed', claimed);
   end $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(SUCCESSES);
  await knex.raw(afterAttempt());
  await knex.raw(REPORT);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(REPORT_020);
  await knex.raw(AFTER_ATTEMPT_021);
  await knex.raw("drop function cl_run_after_successes_events(text, uuid, integer, text[])");
}
