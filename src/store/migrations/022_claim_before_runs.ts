/**
 * A report batch of successes claims its runs' ready steps before it takes their
 * rows. After 020 a run's row is held from the run-level work to commit, and the
 * claim that followed it (about 1 ms a batch of eight) was inside that hold; with one
 * run of independent steps, both workers' reports took turns on the row for it. A
 * claim needs no run's row (a worker's idle claim takes none), so when every attempt
 * in the batch succeeded or was skipped, the steps of the batch's runs that are ready
 * already are claimed first. The run-level work then promotes, and a second claim
 * takes what it promoted (a chain's next step), then steps of any run, as before.
 *
 * A batch with any other outcome (a failure, a retry, a hand-back, an undo) claims
 * only after the run-level work, as before: a failure fails the run and cancels its
 * ready steps, and none of them may be started by the same transaction first.
 *
 * Audit rows stay in the order of the changes: the attempts' ends, the first claim,
 * the runs' work, the second claim.
 */
import type { Knex } from "knex";
import { REPORT as REPORT_020 } from "./020_run_lock_late.js";

const REPORT = `create or replace function cl_report(p_worker text, p_items jsonb, p_claim integer, p_lease_ms bigint, p_notify boolean)
   returns jsonb language plpgsql set plan_cache_mode = force_generic_plan as $$
   declare
     it jsonb;
     res jsonb;
     statuses jsonb := '{}'::jsonb;
     ended jsonb[] := '{}';
     ev jsonb := '[]'::jsonb;
     v_runs uuid[] := array(select distinct (value->>'run_id')::uuid from jsonb_array_elements(p_items));
     v_successes boolean := not exists (
       select 1 from jsonb_array_elements(p_items) x
       where coalesce(x->>'phase', 'forward') <> 'forward' or x->>'kind' not in ('succeeded', 'skipped'));
     claimed jsonb := '[]'::jsonb;
     more jsonb;
   begin
     -- The attempts first, each on its own step's row; then each run, in id order, held to commit.
     for it in select value from jsonb_array_elements(p_items) order by value->>'run_id', value->>'step_id' loop
       res := cl_end_attempt(p_worker, it);
       statuses := statuses || jsonb_build_object((it->>'run_id') || '/' || (it->>'step_id'), res->>'status');
       if res->>'status' = 'ok' then ended := ended || jsonb_build_object('item', it, 'end', res); end if;
     end loop;
     for i in 1 .. coalesce(array_length(ended, 1), 0) loop
       ev := ev || (ended[i]->'end'->'events');
     end loop;
     if v_successes then
       claimed := cl_claim_rows(p_worker, p_claim, p_lease_ms, v_runs);
       ev := ev || cl_claim_events(claimed, 'worker:' || p_worker);
     end if;
     for i in 1 .. coalesce(array_length(ended, 1), 0) loop
       ev := ev || cl_run_after_attempt_events(p_worker, ended[i]->'item',
                     array(select jsonb_array_elements_text(ended[i]->'end'->'dependents')));
     end loop;
     more := cl_claim_rows(p_worker, p_claim - jsonb_array_length(claimed), p_lease_ms, v_runs);
     if jsonb_array_length(claimed) + jsonb_array_length(more) < p_claim then
       more := more || cl_claim_rows(p_worker, p_claim - jsonb_array_length(claimed) - jsonb_array_length(more), p_lease_ms);
     end if;
     claimed := claimed || more;
     ev := ev || cl_claim_events(more, 'worker:' || p_worker);
     perform cl_commit_events(ev, p_notify, jsonb_array_length(claimed));
     return jsonb_build_object('statuses', statuses, 'claimed', claimed);
   end $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(REPORT);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(REPORT_020);
}
