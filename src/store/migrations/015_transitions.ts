/**
 * Every transition of a run or a step as one SQL function, the only definition there
 * is: the worker's reports, claims, lease expiry, deadlines, locks, cancel, retry and
 * roll back all call these, and each appends its audit rows (cl_audit) in the same
 * transaction as the change. Migration 002's completion functions are replaced;
 * its audit and claim functions stay as they are.
 *
 * Functions named `cl_*_events` change state inside the caller's transaction and
 * return the audit events for it to append; the others are the entry points, each a
 * transaction of its own. Every entry point that touches a run locks its row first,
 * and batches take runs in id order, so two transactions never wait on each other in
 * a cycle. (Since migration 020 a report first ends its attempts on their own step
 * rows, then locks the runs; see there for why that order is safe.)
 *
 * Also here: CHECK constraints that admit only the states src/engine/states.ts
 * lists, and a trigger (on when the session sets clutch_luigi.check_transitions,
 * as the tests do) that refuses any move not in STEP_TRANSITIONS / RUN_TRANSITIONS.
 */
import type { Knex } from "knex";
import { buildGraph } from "../../engine/graph.js";
import type { WorkflowSpec } from "../../formats/types.js";
import { rowsOf } from "../db.js";
import { stateRulesSql } from "../state-sql.js";
import { AUDIT_CHECKS, AUDIT_FUNCTION, quotedSchema } from "./005_audit_roles.js";
import { replaceableDefinition } from "./definitions.js";

const FUNCTIONS: string[] = [
  `create function cl_event(p_kind text, p_run uuid, p_step text, p_actor text, p_data jsonb default '{}'::jsonb)
   returns jsonb language sql immutable as $$
     select jsonb_build_object('kind', p_kind, 'run_id', p_run, 'step_id', p_step, 'actor', p_actor, 'data', coalesce(p_data, '{}'::jsonb))
   $$`,

  // Steps these events made claimable now: whether idle workers are worth waking.
  `create function cl_queued(p_events jsonb) returns integer language sql immutable as $$
     select count(*)::integer from jsonb_array_elements(p_events) e
     where e->>'kind' in ('step.ready', 'step.retrying', 'step.interrupted', 'step.rolling_back')
   $$`,

  `create function cl_commit_events(p_events jsonb, p_notify boolean, p_claimed integer default 0) returns void language plpgsql as $$
   begin
     if p_notify and cl_queued(p_events) > p_claimed then perform pg_notify('clutch_luigi_work', ''); end if;
     perform cl_audit(p_events);
   end $$`,

  // Queued steps whose dependencies are done move to ready (or waiting, for after:), within the run's parallelism.
  `create function cl_promote_events(p_run uuid, p_actor text) returns jsonb language plpgsql as $$
   declare
     ev jsonb;
   begin
     with budget as (select greatest(max_parallel - active, 0) as free from runs where id = p_run),
          picked as (
            select step_id from steps
            where run_id = p_run and state = 'pending' and deps_left = 0
            order by ord limit (select free from budget)
            for update
          ),
          upd as (
            update steps s set
              state = case when s.after_ms > 0 then 'waiting' else 'ready' end,
              run_at = clock_timestamp() + s.after_ms * interval '1 millisecond',
              ready_at = clock_timestamp() + s.after_ms * interval '1 millisecond'
            from picked where s.run_id = p_run and s.step_id = picked.step_id
            returning s.step_id, s.state, s.after_ms, s.ord
          )
     select coalesce(jsonb_agg(cl_event(
              case when state = 'waiting' then 'step.waiting' else 'step.ready' end, p_run, step_id, p_actor,
              case when state = 'waiting' then jsonb_build_object('timerMs', after_ms) else '{}'::jsonb end) order by ord), '[]'::jsonb)
       into ev from upd;
     if jsonb_array_length(ev) > 0 then
       update runs set active = active + jsonb_array_length(ev) where id = p_run;
     end if;
     return ev;
   end $$`,

  `create function cl_start_run_events(p_run uuid, p_actor text) returns jsonb language plpgsql as $$
   begin
     update runs set state = 'running', updated_at = now(),
       deadline = case when (spec->>'timeoutMs') is null then null
                       else now() + (spec->>'timeoutMs')::bigint * interval '1 millisecond' end
     where id = p_run;
     return jsonb_build_array(cl_event('run.started', p_run, null, p_actor)) || cl_promote_events(p_run, p_actor);
   end $$`,

  `create function cl_take_lock(p_key text, p_run uuid) returns boolean language plpgsql as $$
   begin
     insert into locks (key, run_id) values (p_key, p_run) on conflict (key) do nothing;
     return found;
   end $$`,

  // The oldest run waiting on a free key takes it and starts.
  `create function cl_hand_on_lock_events(p_key text, p_actor text) returns jsonb language plpgsql as $$
   declare
     v_next uuid;
   begin
     select id into v_next from runs where state = 'waiting' and lock_key = p_key
       order by created_at, id limit 1 for update skip locked;
     if v_next is null or not cl_take_lock(p_key, v_next) then return '[]'::jsonb; end if;
     return jsonb_build_array(cl_event('lock.acquired', v_next, null, p_actor, jsonb_build_object('key', p_key)))
            || cl_start_run_events(v_next, p_actor);
   end $$`,

  `create function cl_finish_run_events(p_run uuid, p_final text, p_actor text) returns jsonb language plpgsql as $$
   declare
     v_lock text;
     v_error text;
     ev jsonb;
   begin
     update runs set state = p_final, finished_at = now(), updated_at = now(), active = 0 where id = p_run
       returning lock_key, error into v_lock, v_error;
     ev := jsonb_build_array(cl_event('run.' || p_final, p_run, null, p_actor,
             case when v_error is null then '{}'::jsonb else jsonb_build_object('error', v_error) end));
     if v_lock is not null then
       delete from locks where key = v_lock and run_id = p_run;
       if found then
         ev := ev || jsonb_build_array(cl_event('lock.released', p_run, null, p_actor, jsonb_build_object('key', v_lock)))
                  || cl_hand_on_lock_events(v_lock, p_actor);
       end if;
     end if;
     return ev;
   end $$`,

  // A run's steps that never started (queued, ready, on a timer) are cancelled.
  `create function cl_cancel_unstarted_events(p_run uuid, p_actor text) returns jsonb language plpgsql as $$
   declare
     ev jsonb;
   begin
     with c as (
       update steps set state = 'cancelled', finished_at = now()
       where run_id = p_run and state in ('pending', 'ready', 'waiting')
       returning step_id, ord
     )
     select coalesce(jsonb_agg(cl_event('step.cancelled', p_run, step_id, p_actor) order by ord), '[]'::jsonb) into ev from c;
     return ev;
   end $$`,

  // The failing path, run after every event of a failing run (the run row locked by
  // the caller): cancel what never started, start undoing each succeeded step none of
  // whose dependents is still standing, and finish the run once nothing is in flight.
  // A dependent whose own undo failed still stands, so its prerequisites stay put.
  `create function cl_reconcile_events(p_run uuid, p_actor text) returns jsonb language plpgsql as $$
   declare
     r record;
     ev jsonb;
     more jsonb;
     v_final text;
   begin
     select state, cancel_requested into r from runs where id = p_run;
     if not found or r.state <> 'rolling_back' then return '[]'::jsonb; end if;
     ev := cl_cancel_unstarted_events(p_run, p_actor);
     with rb as (
       update steps s set state = 'rolling_back', run_at = now(), ready_at = clock_timestamp(),
         -- the interruption cap counts lost leases of the undo, not of the forward run
         interruptions = 0
       where s.run_id = p_run and s.state = 'succeeded' and s.has_rollback
         and not exists (
           select 1 from steps d
           where d.run_id = p_run and d.step_id = any(s.dependents)
             and (d.state in ('running', 'rolling_back', 'rollback_failed') or (d.state = 'succeeded' and d.has_rollback)))
       returning s.step_id, s.ord
     )
     select coalesce(jsonb_agg(cl_event('step.rolling_back', p_run, step_id, p_actor) order by ord desc), '[]'::jsonb) into more from rb;
     ev := ev || more;
     update runs set active = (select count(*) from steps where run_id = p_run and state in ('ready', 'running', 'waiting')) where id = p_run;
     if not exists (select 1 from steps where run_id = p_run and state in ('running', 'rolling_back')) then
       v_final := case
         when exists (select 1 from steps where run_id = p_run and state = 'rollback_failed') then 'rollback_failed'
         when r.cancel_requested then 'cancelled'
         when exists (select 1 from steps where run_id = p_run and state = 'rolled_back') then 'rolled_back'
         else 'failed' end;
       ev := ev || cl_finish_run_events(p_run, v_final, p_actor);
     end if;
     return ev;
   end $$`,

  `create function cl_fail_run_events(p_run uuid, p_error text, p_actor text) returns jsonb language plpgsql as $$
   declare
     ev jsonb := '[]'::jsonb;
   begin
     update runs set state = 'rolling_back', error = coalesce(error, p_error), updated_at = now()
       where id = p_run and state = 'running';
     if found then ev := jsonb_build_array(cl_event('run.rolling_back', p_run, null, p_actor, jsonb_build_object('error', p_error))); end if;
     return ev || cl_reconcile_events(p_run, p_actor);
   end $$`,

  // A run begins (created, or retried): it takes its lock, or waits for it.
  `create function cl_begin_run_events(p_run uuid, p_actor text) returns jsonb language plpgsql as $$
   declare
     v_lock text;
   begin
     select lock_key into v_lock from runs where id = p_run;
     if v_lock is not null and not cl_take_lock(v_lock, p_run) then
       update runs set state = 'waiting' where id = p_run and state <> 'waiting';
       return jsonb_build_array(cl_event('run.waiting', p_run, null, p_actor, jsonb_build_object('lock', v_lock)));
     end if;
     return case when v_lock is null then '[]'::jsonb
                 else jsonb_build_array(cl_event('lock.acquired', p_run, null, p_actor, jsonb_build_object('key', v_lock))) end
            || cl_start_run_events(p_run, p_actor);
   end $$`,

  // One attempt's end, as the worker reports it (p_item: run_id, step_id, phase,
  // attempt, kind and the kind's fields). Status lost: the step is no longer this
  // worker's (its lease expired and another worker took it), and nothing changes.
  `create function cl_report_events(p_worker text, p_item jsonb) returns jsonb language plpgsql as $$
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
     r record;
     s record;
     ev jsonb;
     v_outcome text;
     v_promoted jsonb;
   begin
     -- The run first: one run's reports serialize, so a join step is promoted once and the run finishes once.
     select state, steps_left, active, max_parallel into r from runs where id = v_run for update;
     if not found then return jsonb_build_object('status', 'lost'); end if;
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
       if r.state <> 'running' then
         update runs set active = active - 1, steps_left = steps_left - 1, updated_at = now() where id = v_run;
         ev := ev || cl_reconcile_events(v_run, v_actor);
       elsif r.steps_left = 1 then
         update runs set active = active - 1, steps_left = 0, updated_at = now() where id = v_run;
         ev := ev || cl_finish_run_events(v_run, 'succeeded', v_actor);
       elsif r.active >= r.max_parallel then
         -- The budget was full: steps may be queued behind it, in any order, so promote from the whole run.
         update steps set deps_left = deps_left - 1 where run_id = v_run and step_id = any(s.dependents);
         update runs set active = active - 1, steps_left = steps_left - 1, updated_at = now() where id = v_run;
         ev := ev || cl_promote_events(v_run, v_actor);
       else
         -- The budget had room, so nothing was queued behind it: the only steps to promote
         -- are the dependents this success unblocks, as many as the budget holds, by file order.
         -- One statement counts down their dependencies and promotes them.
         with d as (
           select step_id, ord from steps
           where run_id = v_run and step_id = any(s.dependents) and state = 'pending' and deps_left = 1
           order by ord limit greatest(r.max_parallel - r.active + 1, 0)
         ),
         upd as (
           update steps t set deps_left = t.deps_left - 1,
             state = case when d.step_id is null then t.state when t.after_ms > 0 then 'waiting' else 'ready' end,
             run_at = case when d.step_id is null then t.run_at else clock_timestamp() + t.after_ms * interval '1 millisecond' end,
             ready_at = case when d.step_id is null then t.ready_at else clock_timestamp() + t.after_ms * interval '1 millisecond' end
           from unnest(s.dependents) as k(step_id) left join d on d.step_id = k.step_id
           where t.run_id = v_run and t.step_id = k.step_id
           returning t.step_id, t.state, t.after_ms, t.ord, d.step_id is not null as promoted
         )
         select coalesce(jsonb_agg(cl_event(
                  case when state = 'waiting' then 'step.waiting' else 'step.ready' end, v_run, step_id, v_actor,
                  case when state = 'waiting' then jsonb_build_object('timerMs', after_ms) else '{}'::jsonb end) order by ord)
                  filter (where promoted), '[]'::jsonb)
           into v_promoted from upd;
         update runs set active = active - 1 + jsonb_array_length(v_promoted), steps_left = steps_left - 1, updated_at = now() where id = v_run;
         ev := ev || v_promoted;
       end if;
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
       update runs set active = active - 1 where id = v_run;
       ev := ev || cl_fail_run_events(v_run, format('step %s failed (%s): %s', v_step, v_class, v_message), v_actor);
     elsif not v_forward and v_kind = 'rolled_back' then
       update steps set lease_owner = null, lease_expires_at = null, state = 'rolled_back', finished_at = clock_timestamp() where run_id = v_run and step_id = v_step;
       v_outcome := 'rolled_back';
       ev := jsonb_build_array(cl_event('step.rolled_back', v_run, v_step, v_actor, v_base)) || cl_reconcile_events(v_run, v_actor);
     elsif not v_forward and v_kind = 'rollback_failed' and v_retry is not null then
       update steps set lease_owner = null, lease_expires_at = null, run_at = now() + v_retry * interval '1 millisecond', error_class = v_class, error = v_message
         where run_id = v_run and step_id = v_step;
       v_outcome := 'failed';
       ev := jsonb_build_array(cl_event('step.rollback_retrying', v_run, v_step, v_actor, v_base || jsonb_build_object('errorClass', v_class, 'delayMs', v_retry)));
     elsif not v_forward and v_kind = 'rollback_failed' then
       update steps set lease_owner = null, lease_expires_at = null, state = 'rollback_failed', error_class = v_class, error = v_message, finished_at = clock_timestamp()
         where run_id = v_run and step_id = v_step;
       v_outcome := 'failed';
       ev := jsonb_build_array(cl_event('step.rollback_failed', v_run, v_step, v_actor, v_base || jsonb_build_object('errorClass', v_class)))
             || cl_reconcile_events(v_run, v_actor);
     else
       raise exception 'a % attempt cannot end as %', case when v_forward then 'forward' else 'rollback' end, v_kind
         using errcode = '22023';
     end if;

     update attempts set outcome = v_outcome, finished_at = now(),
       error_class = case when v_outcome in ('succeeded', 'skipped', 'parked', 'rolled_back') then null else v_class end,
       error = case when v_outcome in ('succeeded', 'skipped', 'parked', 'rolled_back') then null else v_message end
     where run_id = v_run and step_id = v_step and phase = case when v_forward then 'forward' else 'rollback' end and attempt = v_attempt;
     -- A retry or a hand-back in a run that is failing meanwhile is cancelled, not run.
     if v_forward and r.state = 'rolling_back' and (v_kind in ('park', 'interrupted') or (v_kind = 'failed' and v_retry is not null)) then
       ev := ev || cl_reconcile_events(v_run, v_actor);
     end if;
     return jsonb_build_object('status', 'ok', 'events', ev);
   end $$`,

  // The worker's reports, batched: all of them in run order, then the next steps
  // claimed (this batch's runs first, so a run stays on the worker that loaded it),
  // then the audit rows, in one transaction and one round trip.
  `create function cl_report(p_worker text, p_items jsonb, p_claim integer, p_lease_ms bigint, p_notify boolean)
   returns jsonb language plpgsql as $$
   declare
     it jsonb;
     res jsonb;
     statuses jsonb := '{}'::jsonb;
     ev jsonb := '[]'::jsonb;
     claimed jsonb;
   begin
     for it in select value from jsonb_array_elements(p_items) order by value->>'run_id', value->>'step_id' loop
       res := cl_report_events(p_worker, it);
       statuses := statuses || jsonb_build_object((it->>'run_id') || '/' || (it->>'step_id'), res->>'status');
       if res->>'status' = 'ok' then ev := ev || (res->'events'); end if;
     end loop;
     claimed := cl_claim_rows(p_worker, p_claim, p_lease_ms,
                              array(select distinct (value->>'run_id')::uuid from jsonb_array_elements(p_items)));
     if jsonb_array_length(claimed) < p_claim then
       claimed := claimed || cl_claim_rows(p_worker, p_claim - jsonb_array_length(claimed), p_lease_ms);
     end if;
     ev := ev || cl_claim_events(claimed, 'worker:' || p_worker);
     perform cl_commit_events(ev, p_notify, jsonb_array_length(claimed));
     return jsonb_build_object('statuses', statuses, 'claimed', claimed);
   end $$`,

  // Leases whose worker stopped heartbeating: the step goes back to the queue, or, after
  // p_max interruptions, fails for good (an undo fails as rollback_failed), so a step that
  // takes down every worker that runs it is not retried for ever.
  `create function cl_reclaim_expired(p_worker text, p_all boolean, p_max integer, p_notify boolean) returns integer language plpgsql as $$
   declare
     v_actor text := 'worker:' || p_worker;
     v_rows jsonb;
     ev jsonb;
     x record;
   begin
     with exp as (
       select run_id, step_id, state as prev_state, lease_owner as prev_owner from steps
       where lease_owner is not null and (lease_expires_at < now() or p_all)
       order by lease_expires_at limit 100
       for update skip locked
     ),
     upd as (
       update steps s set
         lease_owner = null, lease_expires_at = null, run_at = now(), ready_at = clock_timestamp(),
         state = case when s.interruptions + 1 < p_max then (case when exp.prev_state = 'running' then 'ready' else exp.prev_state end)
                      when exp.prev_state = 'running' then 'failed' else 'rollback_failed' end,
         error_class = case when s.interruptions + 1 >= p_max then 'interrupted' else s.error_class end,
         error = case when s.interruptions + 1 >= p_max
                      then 'interrupted ' || (s.interruptions + 1) || ' times: every worker running it stopped heartbeating'
                      else s.error end,
         finished_at = case when s.interruptions + 1 >= p_max then now() else s.finished_at end,
         interruptions = s.interruptions + 1
       from exp where s.run_id = exp.run_id and s.step_id = exp.step_id
       returning s.run_id, s.step_id, s.state, exp.prev_state, s.attempt, s.rb_attempt, exp.prev_owner
     ),
     att as (
       update attempts a set outcome = 'interrupted', error_class = 'interrupted',
         error = 'lease expired: worker ' || upd.prev_owner || ' stopped heartbeating', finished_at = now()
       from upd
       where a.run_id = upd.run_id and a.step_id = upd.step_id and a.outcome = 'running'
         and a.phase = case when upd.prev_state = 'running' then 'forward' else 'rollback' end
         and a.attempt = case when upd.prev_state = 'running' then upd.attempt else upd.rb_attempt end
     )
     select jsonb_agg(to_jsonb(upd) order by run_id, step_id) into v_rows from upd;
     if v_rows is null then return 0; end if;
     select jsonb_agg(cl_event('step.interrupted', (u->>'run_id')::uuid, u->>'step_id', v_actor, jsonb_build_object(
              'attempt', case when u->>'prev_state' = 'running' then u->'attempt' else u->'rb_attempt' end,
              'phase', case when u->>'prev_state' = 'running' then 'forward' else 'rollback' end,
              'worker', u->'prev_owner'))) into ev from jsonb_array_elements(v_rows) u;
     for x in select (u->>'run_id')::uuid as run_id, u->>'step_id' as step_id, u->>'state' as state,
                     (u->>'attempt')::integer as attempt, (u->>'rb_attempt')::integer as rb_attempt
              from jsonb_array_elements(v_rows) u where u->>'state' in ('failed', 'rollback_failed') loop
       perform 1 from runs where id = x.run_id for update;
       if x.state = 'failed' then
         ev := ev || jsonb_build_array(cl_event('step.failed', x.run_id, x.step_id, v_actor, jsonb_build_object('attempt', x.attempt, 'errorClass', 'interrupted')));
         update runs set active = active - 1 where id = x.run_id;
         ev := ev || cl_fail_run_events(x.run_id, format('step %s failed (interrupted): interrupted %s times', x.step_id, p_max), v_actor);
       else
         ev := ev || jsonb_build_array(cl_event('step.rollback_failed', x.run_id, x.step_id, v_actor, jsonb_build_object('attempt', x.rb_attempt, 'errorClass', 'interrupted')))
                  || cl_reconcile_events(x.run_id, v_actor);
       end if;
     end loop;
     perform cl_commit_events(ev, p_notify);
     return jsonb_array_length(v_rows);
   end $$`,

  // Runs past their deadline fail (the failing path undoes what they did), and runs
  // left waiting by a lock hand-off that raced with their creation get their lock.
  `create function cl_expire_runs(p_worker text, p_notify boolean) returns integer language plpgsql as $$
   declare
     v_actor text := 'worker:' || p_worker;
     ev jsonb := '[]'::jsonb;
     v_id uuid;
     v_key text;
     n integer := 0;
   begin
     for v_id in select id from runs where deadline < now() and state = 'running' order by id limit 20 for update skip locked loop
       ev := ev || cl_fail_run_events(v_id, 'run timed out', v_actor);
       n := n + 1;
     end loop;
     for v_key in select distinct lock_key from runs w
                  where state = 'waiting' and lock_key is not null and not exists (select 1 from locks l where l.key = w.lock_key)
                  order by 1 limit 20 loop
       ev := ev || cl_hand_on_lock_events(v_key, v_actor);
     end loop;
     perform cl_commit_events(ev, p_notify);
     return n;
   end $$`,

  // Ask a run to stop: what never started is cancelled, running steps see
  // cancel_requested and abort, what succeeded is undone. A run that is not active is
  // left as it is. Returns the run's state afterwards (null: no such run).
  `create function cl_cancel_run(p_run uuid, p_actor text, p_origin jsonb, p_notify boolean) returns text language plpgsql as $$
   declare
     v_state text;
     ev jsonb;
   begin
     select state into v_state from runs where id = p_run for update;
     if not found then return null; end if;
     if v_state not in ('running', 'waiting', 'rolling_back') then return v_state; end if;
     update runs set cancel_requested = true, updated_at = now() where id = p_run;
     ev := jsonb_build_array(cl_event('run.cancel_requested', p_run, null, p_actor, p_origin));
     if v_state = 'waiting' then
       -- Only what never started: a retried run waiting for its lock keeps the steps it already did.
       ev := ev || cl_cancel_unstarted_events(p_run, p_actor) || cl_finish_run_events(p_run, 'cancelled', p_actor);
     else
       ev := ev || cl_fail_run_events(p_run, 'cancelled by ' || p_actor, p_actor);
     end if;
     perform cl_commit_events(ev, p_notify);
     return (select state from runs where id = p_run);
   end $$`,

  // A new run begins: p_created is its run.created event (built by the caller, which
  // knows the request), then it takes its lock or waits for it. Returns its state.
  `create function cl_begin_run(p_run uuid, p_actor text, p_created jsonb, p_notify boolean) returns text language plpgsql as $$
   begin
     perform cl_commit_events(jsonb_build_array(p_created) || cl_begin_run_events(p_run, p_actor), p_notify);
     return (select state from runs where id = p_run);
   end $$`,

  // "Retry failed steps" (the steps and how many of their needs run again come from
  // the pure planner, src/engine/rerun.ts): the run becomes active again as the same
  // run. A rolled-back step gets a new idempotency key: its first effect was undone.
  `create function cl_retry_run(p_run uuid, p_actor text, p_steps text[], p_deps integer[], p_origin jsonb, p_notify boolean)
   returns text language plpgsql as $$
   declare
     v_from text;
   begin
     select state into v_from from runs where id = p_run for update;
     if v_from is null or v_from not in ('failed', 'rolled_back') then
       raise exception 'run % is %: only a failed or rolled-back run can be retried', p_run, v_from using errcode = '55000';
     end if;
     update steps s set state = 'pending', deps_left = k.deps_left,
       failures = 0, interruptions = 0, timer_done = false, error_class = null, error = null,
       outputs = null, secret_outputs = null, started_at = null, finished_at = null, run_at = now(), ready_at = null,
       idempotency_key = case when s.state = 'rolled_back' then s.run_id::text || ':' || s.step_id || '@' || s.attempt else s.idempotency_key end
     from unnest(p_steps, p_deps) as k(step_id, deps_left)
     where s.run_id = p_run and s.step_id = k.step_id;
     update runs set error = null, cancel_requested = false, finished_at = null, active = 0, steps_left = cardinality(p_steps), updated_at = now()
       where id = p_run;
     perform cl_commit_events(
       jsonb_build_array(cl_event('run.retried', p_run, null, p_actor, jsonb_build_object('from', v_from, 'steps', to_jsonb(p_steps)) || p_origin))
       || cl_begin_run_events(p_run, p_actor), p_notify);
     return (select state from runs where id = p_run);
   end $$`,

  // "Roll back" of a succeeded run (a person's request, a revoke, an expiry firing),
  // in the caller's transaction: its undoable steps are undone, dependents first, by
  // the failing path. It holds its lock while it undoes, and is refused when another
  // run holds it now. Returns status ok (with the steps and events), or the refusal:
  // not-rollbackable, nothing-to-undo, lock-held (with the holder); a refusal changes nothing.
  `create function cl_roll_back_events(p_run uuid, p_actor text, p_request_kind text, p_origin jsonb, p_error text)
   returns jsonb language plpgsql as $$
   declare
     r record;
     v_steps jsonb;
     ev jsonb := '[]'::jsonb;
   begin
     select state, lock_key into r from runs where id = p_run for update;
     if not found then return jsonb_build_object('status', 'not-found'); end if;
     if r.state <> 'succeeded' then return jsonb_build_object('status', 'not-rollbackable', 'state', r.state); end if;
     select coalesce(jsonb_agg(step_id order by ord), '[]'::jsonb) into v_steps
       from steps where run_id = p_run and state = 'succeeded' and has_rollback;
     if jsonb_array_length(v_steps) = 0 then return jsonb_build_object('status', 'nothing-to-undo', 'state', r.state); end if;
     if r.lock_key is not null then
       if not cl_take_lock(r.lock_key, p_run) then
         return jsonb_build_object('status', 'lock-held', 'state', r.state,
                                   'holder', (select run_id from locks where key = r.lock_key));
       end if;
       ev := jsonb_build_array(cl_event('lock.acquired', p_run, null, p_actor, jsonb_build_object('key', r.lock_key)));
     end if;
     update runs set state = 'rolling_back', error = p_error, cancel_requested = false, finished_at = null, updated_at = now() where id = p_run;
     ev := ev || jsonb_build_array(
       cl_event(p_request_kind, p_run, null, p_actor, jsonb_build_object('steps', v_steps) || p_origin),
       cl_event('run.rolling_back', p_run, null, p_actor, jsonb_build_object('error', p_error)));
     return jsonb_build_object('status', 'ok', 'steps', v_steps, 'events', ev || cl_reconcile_events(p_run, p_actor));
   end $$`,

  `create function cl_roll_back_run(p_run uuid, p_actor text, p_request_kind text, p_origin jsonb, p_error text, p_notify boolean)
   returns jsonb language plpgsql as $$
   declare
     res jsonb := cl_roll_back_events(p_run, p_actor, p_request_kind, p_origin, p_error);
   begin
     if res->>'status' = 'ok' then perform cl_commit_events(res->'events', p_notify); end if;
     return res - 'events';
   end $$`,

  // The optional check that every state change is one the engine's tables allow.
  `create function cl_refuse_illegal_move() returns trigger language plpgsql as $$
   begin
     if coalesce(current_setting('clutch_luigi.check_transitions', true), '') <> 'on' then return new; end if;
     if tg_table_name = 'steps' then
       if not exists (select 1 from cl_step_moves where from_state = old.state and to_state = new.state) then
         raise exception 'illegal step transition % → % (run %, step %)', old.state, new.state, new.run_id, new.step_id using errcode = '23514';
       end if;
     elsif not exists (select 1 from cl_run_moves where from_state = old.state and to_state = new.state) then
       raise exception 'illegal run transition % → % (run %)', old.state, new.state, new.id using errcode = '23514';
     end if;
     return new;
   end $$`,
  `create trigger steps_legal_moves before update of state on steps
     for each row when (old.state is distinct from new.state) execute function cl_refuse_illegal_move()`,
  `create trigger runs_legal_moves before update of state on runs
     for each row when (old.state is distinct from new.state) execute function cl_refuse_illegal_move()`,
];

/**
 * 015's definition of one of its functions, named by the start of its signature, as
 * CREATE OR REPLACE: for a later migration that re-creates it changed, or restores it.
 */
export function transitionFunction(signature: string): string {
  return replaceableDefinition(FUNCTIONS, signature, "015");
}

/**
 * cl_audit as 005 wrote it (same checks, same rows, same hashes), but appending the
 * rows in one INSERT after the chain is computed: the head stays locked from its
 * update to commit, and one statement per row was most of that time.
 */
const AUDIT_FUNCTION_BATCHED = (schema: string): string => `create or replace function cl_audit(events jsonb) returns void
   language plpgsql security definer set search_path = pg_catalog, ${schema} as $$
   declare
     n integer;
     s bigint;
     prev text;
     b text;
     t timestamptz := clock_timestamp();
     e jsonb;
     extra text;
     bodies text[] := '{}';
     prevs text[] := '{}';
     hashes text[] := '{}';
   begin
${AUDIT_CHECKS}     -- The row lock on the head serializes appenders until commit: one chain, no forks.
     update audit_head set seq = seq + n where id = 1 returning seq - n, hash into s, prev;
     for e in select value from jsonb_array_elements(events) loop
       s := s + 1;
       b := jsonb_build_object(
         'seq', s,
         'at', to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
         'kind', e->>'kind',
         'run_id', e->'run_id',
         'step_id', e->'step_id',
         'actor', e->>'actor',
         'data', coalesce(nullif(e->'data', 'null'::jsonb), '{}'::jsonb))::text;
       prevs := prevs || prev;
       prev := encode(sha256(convert_to(prev || E'\\n' || b, 'UTF8')), 'hex');
       bodies := bodies || b;
       hashes := hashes || prev;
     end loop;
     insert into audit_events (seq, at, kind, run_id, step_id, actor, data, prev_hash, hash, body)
     select s - n + x.i, t, x.e->>'kind', (x.e->>'run_id')::uuid, x.e->>'step_id', x.e->>'actor',
            coalesce(nullif(x.e->'data', 'null'::jsonb), '{}'::jsonb), prevs[x.i], hashes[x.i], bodies[x.i]
     from jsonb_array_elements(events) with ordinality as x(e, i);
     update audit_head set hash = prev where id = 1;
   end $$`;

const DROPPED = [
  "cl_complete_many(text, jsonb, integer, bigint, boolean)",
  "cl_complete_one(uuid, text, text, integer, text, jsonb, text, jsonb, text[])",
];

/** Who each step's success unblocks, stored so the failing path can order undos in SQL. */
async function backfillDependents(knex: Knex): Promise<void> {
  const runs = rowsOf<{ id: string; spec: { workflow: WorkflowSpec } | string }>(
    await knex.raw("select id, spec from runs where id in (select distinct run_id from steps)"),
  );
  for (const run of runs) {
    const spec = typeof run.spec === "string" ? (JSON.parse(run.spec) as { workflow: WorkflowSpec }) : run.spec;
    const graph = buildGraph(spec.workflow);
    const ids = [...graph.nodes.keys()];
    await knex.raw(
      `update steps s set dependents = coalesce((select array_agg(x) from jsonb_array_elements_text(k.deps) x), '{}')
       from unnest(?::text[], ?::jsonb[]) as k(step_id, deps) where s.run_id = ? and s.step_id = k.step_id`,
      [ids, ids.map((id) => JSON.stringify(graph.nodes.get(id)!.dependents)), run.id],
    );
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table steps add column dependents text[] not null default '{}'");
  await backfillDependents(knex);
  for (const f of DROPPED) await knex.raw(`drop function if exists ${f}`);
  for (const sql of [...stateRulesSql(), ...FUNCTIONS]) await knex.raw(sql);
  await knex.raw(AUDIT_FUNCTION_BATCHED(await quotedSchema(knex)));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop trigger if exists steps_legal_moves on steps");
  await knex.raw("drop trigger if exists runs_legal_moves on runs");
  for (const f of [
    "cl_refuse_illegal_move()",
    "cl_roll_back_run(uuid, text, text, jsonb, text, boolean)",
    "cl_roll_back_events(uuid, text, text, jsonb, text)",
    "cl_retry_run(uuid, text, text[], integer[], jsonb, boolean)",
    "cl_begin_run(uuid, text, jsonb, boolean)",
    "cl_cancel_run(uuid, text, jsonb, boolean)",
    "cl_expire_runs(text, boolean)",
    "cl_reclaim_expired(text, boolean, integer, boolean)",
    "cl_report(text, jsonb, integer, bigint, boolean)",
    "cl_report_events(text, jsonb)",
    "cl_begin_run_events(uuid, text)",
    "cl_fail_run_events(uuid, text, text)",
    "cl_reconcile_events(uuid, text)",
    "cl_cancel_unstarted_events(uuid, text)",
    "cl_finish_run_events(uuid, text, text)",
    "cl_hand_on_lock_events(text, text)",
    "cl_take_lock(text, uuid)",
    "cl_start_run_events(uuid, text)",
    "cl_promote_events(uuid, text)",
    "cl_commit_events(jsonb, boolean, integer)",
    "cl_queued(jsonb)",
    "cl_event(text, uuid, text, text, jsonb)",
  ]) {
    await knex.raw(`drop function if exists ${f}`);
  }
  for (const t of ["cl_step_moves", "cl_run_moves"]) await knex.raw(`drop table if exists ${t}`);
  await knex.raw(AUDIT_FUNCTION(await quotedSchema(knex)));
  for (const [t, c] of [["steps", "steps_state_known"], ["runs", "runs_state_known"], ["attempts", "attempts_phase_known"], ["attempts", "attempts_outcome_known"]]) {
    await knex.raw(`alter table ${t} drop constraint if exists ${c}`);
  }
  await knex.raw("alter table steps drop column if exists dependents");
}
