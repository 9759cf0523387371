/**
 * A report holds its run's row for less time. Migration 015's cl_report_events locked
 * the run's row before anything else and kept it to commit, so every report of one run
 * waited for the previous one's whole transaction: its step rows, its attempts, its
 * claim, its audit append and its commit flush. With one run of independent steps, all
 * of both workers' reports took turns on that row.
 *
 * The report is now two functions, called in two passes by cl_report:
 *
 * - cl_end_attempt: the attempt's own rows (the step, the attempt, its audit event),
 *   which depend on nothing but the step row, locked by its key. Reports of one run
 *   do this side by side.
 * - cl_run_after_attempt_events: what the run does about it (counters, promotion,
 *   finishing, failing, undoing), with the run's row locked, as before.
 *
 * Lock order: a report locks its own leased steps (in key order) before its runs (in
 * id order). Nothing that holds a run's row waits for a leased step: the run-level
 * functions update only pending, ready, waiting and succeeded steps (and claims skip
 * locked ones), and a step a report holds is running or rolling back in every other
 * transaction's snapshot until that report commits, which it cannot do before it has
 * the run's row. So a transaction holding the run's row sees the report as not yet
 * happened, and the report, once it has the row, sees the run as that transaction
 * left it: the same serial order as before, decided by who takes the run's row first.
 * Lease expiry (steps, then the run) now takes locks in the same order as reports.
 *
 * Audit rows are in the order of the changes: every attempt's end, then what each run
 * did about them. An attempt's end is visible to the run-level work of the attempts
 * before it in the batch (the failing path may start undoing it, or finish the run);
 * a run that an earlier attempt of the batch finished is left as it is.
 */
import type { Knex } from "knex";
import { promoterAsOf017 } from "./017_claim_successors.js";
import { transitionFunction } from "./015_transitions.js";

const END_ATTEMPT = `create function cl_end_attempt(p_worker text, p_item jsonb) returns jsonb language plpgsql as $$
   #variable_conflict use_column
   declare
     v_run uuid := (p_item->>'run_id')::uuid;
     v_step text := p_item->>'step_id';
     v_attempt integer := (p_item->>'attempt')::integer;
     v_kind text := p_item->>'kind';
     v_forward boolean := coalesce(p_item->>'phase', 'forward') = 'forward';
     v_class text := p_item->>'error_class';
     v_message text := p_item->>'message';
     v_retry bigint := (p_item->>'retry_in_ms')::bigint;
     v_actor text := 'worker:' || p_worker;
     v_base jsonb := jsonb_build_object('attempt', v_attempt);
     s record;
     ev jsonb;
     v_outcome text;
   begin
     select dependents into s from steps
       where run_id = v_run and step_id = v_step and lease_owner = p_worker
         and state = case when v_forward then 'running' else 'rolling_back' end
         and (case when v_forward then attempt else rb_attempt end) = v_attempt
       for update;
     if not found then return jsonb_build_object('status', 'lost'); end if;

     if v_forward and v_kind in ('succeeded', 'skipped') then
       update steps set lease_owner = null, lease_expires_at = null, state = v_kind, outputs = p_item->'outputs', secret_outputs = p_item->>'sealed', finished_at = clock_timestamp()
         where run_id = v_run and step_id = v_step;
       v_outcome := v_kind;
       ev := jsonb_build_array(cl_event('step.' || v_kind, v_run, v_step, v_actor,
               v_base || jsonb_build_object('outputs', coalesce(p_item->'output_names', '[]'::jsonb))
               || case when p_item->>'reason' is null then '{}'::jsonb else jsonb_build_object('reason', p_item->'reason') end));
     elsif v_forward and v_kind = 'park' then
       update steps set lease_owner = null, lease_expires_at = null, state = 'waiting', timer_done = true,
         run_at = now() + (p_item->>'delay_ms')::bigint * interval '1 millisecond',
         ready_at = now() + (p_item->>'delay_ms')::bigint * interval '1 millisecond'
         where run_id = v_run and step_id = v_step;
       v_outcome := 'parked';
       ev := jsonb_build_array(cl_event('step.waiting', v_run, v_step, v_actor, v_base || jsonb_build_object('timerMs', (p_item->>'delay_ms')::bigint)));
     elsif v_kind = 'interrupted' then
       if v_forward then
         update steps set lease_owner = null, lease_expires_at = null, state = 'ready', run_at = now(), ready_at = clock_timestamp() where run_id = v_run and step_id = v_step;
       else
         update steps set lease_owner = null, lease_expires_at = null, run_at = now() where run_id = v_run and step_id = v_step;
       end if;
       v_outcome := 'interrupted';
       v_class := 'interrupted';
       ev := jsonb_build_array(cl_event('step.interrupted', v_run, v_step, v_actor,
               v_base || jsonb_build_object('reason', v_message) || case when v_forward then '{}'::jsonb else jsonb_build_object('phase', 'rollback') end));
     elsif v_forward and v_kind = 'failed' and v_retry is not null then
       update steps set lease_owner = null, lease_expires_at = null, state = case when v_retry > 0 then 'waiting' else 'ready' end, failures = failures + 1,
         error_class = v_class, error = v_message,
         run_at = now() + v_retry * interval '1 millisecond', ready_at = now() + v_retry * interval '1 millisecond'
         where run_id = v_run and step_id = v_step;
       v_outcome := 'failed';
       ev := jsonb_build_array(cl_event('step.retrying', v_run, v_step, v_actor, v_base || jsonb_build_object('errorClass', v_class, 'delayMs', v_retry)));
     elsif v_forward and v_kind = 'failed' then
       v_outcome := case when v_class = 'cancelled' then 'cancelled' else 'failed' end;
       update steps set lease_owner = null, lease_expires_at = null, state = v_outcome, failures = failures + 1, error_class = v_class, error = v_message, finished_at = clock_timestamp()
         where run_id = v_run and step_id = v_step;
       ev := jsonb_build_array(cl_event('step.' || v_outcome, v_run, v_step, v_actor, v_base || jsonb_build_object('errorClass', v_class)));
     elsif not v_forward and v_kind = 'rolled_back' then
       update steps set lease_owner = null, lease_expires_at = null, state = 'rolled_back', finished_at = clock_timestamp() where run_id = v_run and step_id = v_step;
       v_outcome := 'rolled_back';
       ev := jsonb_build_array(cl_event('step.rolled_back', v_run, v_step, v_actor, v_base));
     elsif not v_forward and v_kind = 'rollback_failed' and v_retry is not null then
       update steps set lease_owner = null, lease_expires_at = null, run_at = now() + v_retry * interval '1 millisecond', error_class = v_class, error = v_message
         where run_id = v_run and step_id = v_step;
       v_outcome := 'failed';
       ev := jsonb_build_array(cl_event('step.rollback_retrying', v_run, v_step, v_actor, v_base || jsonb_build_object('errorClass', v_class, 'delayMs', v_retry)));
     elsif not v_forward and v_kind = 'rollback_failed' then
       update steps set lease_owner = null, lease_expires_at = null, state = 'rollback_failed', error_class = v_class, error = v_message, finished_at = clock_timestamp()
         where run_id = v_run and step_id = v_step;
       v_outcome := 'failed';
       ev := jsonb_build_array(cl_event('step.rollback_failed', v_run, v_step, v_actor, v_base || jsonb_build_object('errorClass', v_class)));
     else
       raise exception 'a % attempt cannot end as %', case when v_forward then 'forward' else 'rollback' end, v_kind
         using errcode = '22023';
     end if;

     update attempts set outcome = v_outcome, finished_at = now(),
       error_class = case when v_outcome in ('succeeded', 'skipped', 'parked', 'rolled_back') then null else v_class end,
       error = case when v_outcome in ('succeeded', 'skipped', 'parked', 'rolled_back') then null else v_message end
     where run_id = v_run and step_id = v_step and phase = case when v_forward then 'forward' else 'rollback' end and attempt = v_attempt;
     return jsonb_build_object('status', 'ok', 'events', ev, 'dependents', to_jsonb(s.dependents));
   end $$`;

// p_dependents: the step's, as cl_end_attempt read them under its lock.
export const RUN_AFTER_ATTEMPT = `create function cl_run_after_attempt_events(p_worker text, p_item jsonb, p_dependents text[]) returns jsonb language plpgsql as $$
   #variable_conflict use_column
   declare
     v_run uuid := (p_item->>'run_id')::uuid;
     v_step text := p_item->>'step_id';
     v_kind text := p_item->>'kind';
     v_forward boolean := coalesce(p_item->>'phase', 'forward') = 'forward';
     v_class text := p_item->>'error_class';
     v_message text := p_item->>'message';
     v_retry bigint := (p_item->>'retry_in_ms')::bigint;
     v_actor text := 'worker:' || p_worker;
     r record;
     ev jsonb := '[]'::jsonb;
     v_promoted jsonb;
   begin
     -- One run's reports serialize here, so a join step is promoted once and the run finishes once.
     select state, steps_left, active, max_parallel into r from runs where id = v_run for update;
     -- Another attempt of this batch ended the run, having seen this one end: nothing is left to count.
     if r.state not in ('running', 'rolling_back') then return ev; end if;

     if v_forward and v_kind in ('succeeded', 'skipped') then
       if r.state <> 'running' then
         update runs set active = active - 1, steps_left = steps_left - 1, updated_at = now() where id = v_run;
         ev := cl_reconcile_events(v_run, v_actor);
       elsif r.steps_left = 1 then
         update runs set active = active - 1, steps_left = 0, updated_at = now() where id = v_run;
         ev := cl_finish_run_events(v_run, 'succeeded', v_actor);
       elsif r.active >= r.max_parallel then
         -- The budget was full: steps may be queued behind it, in any order, so promote from the whole run.
         update steps set deps_left = deps_left - 1 where run_id = v_run and step_id = any(p_dependents);
         update runs set active = active - 1, steps_left = steps_left - 1, updated_at = now() where id = v_run;
         ev := cl_promote_events(v_run, v_actor);
       else
         -- The budget had room, so nothing was queued behind it: the only steps to promote
         -- are the dependents this success unblocks, as many as the budget holds, by file order.
         -- One statement counts down their dependencies and promotes them.
         with d as (
           select step_id, ord from steps
           where run_id = v_run and step_id = any(p_dependents) and state = 'pending' and deps_left = 1
           order by ord limit greatest(r.max_parallel - r.active + 1, 0)
         ),
         upd as (
           update steps t set deps_left = t.deps_left - 1,
             state = case when d.step_id is null then t.state when t.after_ms > 0 then 'waiting' else 'ready' end,
             run_at = case when d.step_id is null then t.run_at else case when t.after_ms > 0 then clock_timestamp() + t.after_ms * interval '1 millisecond' else now() end end,
             ready_at = case when d.step_id is null then t.ready_at else clock_timestamp() + t.after_ms * interval '1 millisecond' end
           from unnest(p_dependents) as k(step_id) left join d on d.step_id = k.step_id
           where t.run_id = v_run and t.step_id = k.step_id
           returning t.step_id, t.state, t.after_ms, t.ord, d.step_id is not null as promoted
         )
         select coalesce(jsonb_agg(cl_event(
                  case when state = 'waiting' then 'step.waiting' else 'step.ready' end, v_run, step_id, v_actor,
                  case when state = 'waiting' then jsonb_build_object('timerMs', after_ms) else '{}'::jsonb end) order by ord)
                  filter (where promoted), '[]'::jsonb)
           into v_promoted from upd;
         update runs set active = active - 1 + jsonb_array_length(v_promoted), steps_left = steps_left - 1, updated_at = now() where id = v_run;
         ev := v_promoted;
       end if;
     elsif v_forward and v_kind = 'failed' and v_retry is null then
       update runs set active = active - 1 where id = v_run;
       ev := cl_fail_run_events(v_run, format('step %s failed (%s): %s', v_step, v_class, v_message), v_actor);
     elsif not v_forward and (v_kind = 'rolled_back' or (v_kind = 'rollback_failed' and v_retry is null)) then
       ev := cl_reconcile_events(v_run, v_actor);
     elsif v_forward and r.state = 'rolling_back' then
       -- A retry or a hand-back (park, interrupted) in a run that is failing meanwhile is cancelled, not run.
       ev := cl_reconcile_events(v_run, v_actor);
     end if;
     return ev;
   end $$`;

export const REPORT = `create or replace function cl_report(p_worker text, p_items jsonb, p_claim integer, p_lease_ms bigint, p_notify boolean)
   returns jsonb language plpgsql set plan_cache_mode = force_generic_plan as $$
   declare
     it jsonb;
     res jsonb;
     statuses jsonb := '{}'::jsonb;
     ended jsonb[] := '{}';
     ev jsonb := '[]'::jsonb;
     claimed jsonb;
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
     for i in 1 .. coalesce(array_length(ended, 1), 0) loop
       ev := ev || cl_run_after_attempt_events(p_worker, ended[i]->'item',
                     array(select jsonb_array_elements_text(ended[i]->'end'->'dependents')));
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
  await knex.raw(END_ATTEMPT);
  await knex.raw(RUN_AFTER_ATTEMPT);
  await knex.raw(REPORT);
  await knex.raw("drop function cl_report_events(text, jsonb)");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(promoterAsOf017("cl_report_events(p_worker text"));
  await knex.raw(transitionFunction("cl_report(p_worker text"));
  await knex.raw("alter function cl_report(text, jsonb, integer, bigint, boolean) set plan_cache_mode = force_generic_plan");
  await knex.raw("drop function cl_run_after_attempt_events(text, jsonb, text[])");
  await knex.raw("drop function cl_end_attempt(text, jsonb)");
}
