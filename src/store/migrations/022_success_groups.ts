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
import { replacedOnce } from "./definitions.js";

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

/** 020's pass over the runs, one call per attempt. */
const PER_ATTEMPT_020 = `     for i in 1 .. coalesce(array_length(ended, 1), 0) loop
       ev := ev || cl_run_after_attempt_events(p_worker, ended[i]->'item',
                     array(select jsonb_array_elements_text(ended[i]->'end'->'dependents')));
     end loop;
`;

/** The pass over the runs: a run whose attempts all succeeded in one call, any other run one call per attempt. */
const PER_RUN = `     n := coalesce(array_length(ended, 1), 0);
     g := 1;
     while g <= n loop
       v_run := (ended[g]->'item'->>'run_id')::uuid;
       v_all := true;
       v_deps := '{}';
       j := g;
       while j <= n and (ended[j]->'item'->>'run_id')::uuid = v_run loop
         v_all := v_all and coalesce(ended[j]->'item'->>'phase', 'forward') = 'forward' and ended[j]->'item'->>'kind' in ('succeeded', 'skipped');
         v_deps := v_deps || array(select jsonb_array_elements_text(ended[j]->'end'->'dependents'));
         j := j + 1;
       end loop;
       if v_all then
         ev := ev || cl_run_after_successes_events(p_worker, v_run, j - g, v_deps);
       else
         for k in g .. j - 1 loop
           ev := ev || cl_run_after_attempt_events(p_worker, ended[k]->'item',
                         array(select jsonb_array_elements_text(ended[k]->'end'->'dependents')));
         end loop;
       end if;
       g := j;
     end loop;
`;

const REPORT = replacedOnce(
  replacedOnce(REPORT_020, PER_ATTEMPT_020, PER_RUN, "pass over the runs in 020's cl_report"),
  "     claimed jsonb;\n",
  "     claimed jsonb;\n     n integer;\n     g integer;\n     j integer;\n     v_run uuid;\n     v_all boolean;\n     v_deps text[];\n",
  "declaration of claimed in 020's cl_report",
);

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
