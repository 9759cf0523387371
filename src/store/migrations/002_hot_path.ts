/**
 * The hot path as server-side functions: appending to the audit chain, claiming
 * steps, and finishing steps that succeeded (promote their dependents, maybe finish
 * the run, claim the next steps) each cost one round trip and one commit. Every
 * other transition (failures, rollback, cancel, locks) stays in TypeScript
 * transactions, which call cl_audit for their audit rows.
 *
 * The audit chain serializes commits (its head row stays locked until commit), so
 * throughput is bounded by commits per second: cl_complete_many finishes all the
 * steps a worker has ready to report in one transaction. It handles them in run
 * order, so two batches lock run rows in the same order and cannot deadlock.
 *
 * Audit rows are hashed over `body`, the row's canonical text as Postgres renders
 * it (jsonb output is deterministic), so the chain is built here, without a second
 * round trip under the chain-head lock, and verified anywhere by hashing the
 * stored text and checking it matches the row's columns.
 */
import type { Knex } from "knex";
import { replaceableDefinition } from "./definitions.js";

const UP: string[] = [
  `create function cl_audit(events jsonb) returns void language plpgsql as $$
   declare
     n integer := coalesce(jsonb_array_length(events), 0);
     s bigint;
     prev text;
     cur text;
     b text;
     t timestamptz := clock_timestamp();
     e jsonb;
   begin
     if n = 0 then return; end if;
     -- The row lock on the head serializes appenders until commit: one chain, no forks.
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
         'data', coalesce(e->'data', '{}'::jsonb))::text;
       cur := encode(sha256(convert_to(prev || E'\\n' || b, 'UTF8')), 'hex');
       insert into audit_events (seq, at, kind, run_id, step_id, actor, data, prev_hash, hash, body)
       values (s, t, e->>'kind', (e->>'run_id')::uuid, e->>'step_id', e->>'actor', coalesce(e->'data', '{}'::jsonb), prev, cur, b);
       prev := cur;
     end loop;
     update audit_head set hash = prev where id = 1;
   end $$`,

  // p_runs: only steps of these runs (null: any). Finishing a step first claims more
  // of the same runs, so a run tends to stay on the worker that already loaded it.
  `create function cl_claim_rows(p_worker text, p_limit integer, p_lease_ms bigint, p_runs uuid[] default null)
   returns jsonb language plpgsql as $$
   #variable_conflict use_column
   declare
     out jsonb;
   begin
     if p_limit <= 0 then return '[]'::jsonb; end if;
     with cand as (
       select run_id, step_id, state as prev_state from steps
       where lease_owner is null and state in ('ready', 'waiting', 'rolling_back') and run_at <= now()
         and (p_runs is null or run_id = any(p_runs))
       order by run_at
       limit p_limit
       for update skip locked
     ),
     upd as (
       update steps s set
         state = case when cand.prev_state = 'rolling_back' then 'rolling_back' else 'running' end,
         attempt = case when cand.prev_state = 'rolling_back' then s.attempt else s.attempt + 1 end,
         rb_attempt = case when cand.prev_state = 'rolling_back' then s.rb_attempt + 1 else s.rb_attempt end,
         lease_owner = p_worker,
         lease_expires_at = now() + p_lease_ms * interval '1 millisecond',
         started_at = clock_timestamp()
       from cand
       where s.run_id = cand.run_id and s.step_id = cand.step_id
       returning s.run_id, s.step_id, s.state, s.attempt, s.rb_attempt, s.failures, s.timer_done, s.idempotency_key
     ),
     att as (
       insert into attempts (run_id, step_id, attempt, phase, worker, outcome)
       select run_id, step_id,
              case when state = 'rolling_back' then rb_attempt else attempt end,
              case when state = 'rolling_back' then 'rollback' else 'forward' end,
              p_worker, 'running'
       from upd
       returning 1
     )
     select coalesce(jsonb_agg(to_jsonb(upd) || jsonb_build_object('deadline', r.deadline)), '[]'::jsonb) into out
     from upd join runs r on r.id = upd.run_id;
     return out;
   end $$`,

  `create function cl_claim_events(p_rows jsonb, p_actor text) returns jsonb language sql immutable as $$
     select coalesce(jsonb_agg(jsonb_build_object(
       'kind', case when x->>'state' = 'rolling_back' then 'step.rollback_started' else 'step.running' end,
       'run_id', x->'run_id', 'step_id', x->'step_id', 'actor', p_actor,
       'data', jsonb_build_object('attempt', case when x->>'state' = 'rolling_back' then x->'rb_attempt' else x->'attempt' end))), '[]'::jsonb)
     from jsonb_array_elements(p_rows) x
   $$`,

  `create function cl_claim(p_worker text, p_limit integer, p_lease_ms bigint) returns jsonb language plpgsql as $$
   declare
     rows jsonb := cl_claim_rows(p_worker, p_limit, p_lease_ms);
   begin
     perform cl_audit(cl_claim_events(rows, 'worker:' || p_worker));
     return rows;
   end $$`,

  `create function cl_complete_one(p_run uuid, p_step text, p_worker text, p_attempt integer, p_kind text,
                                   p_outputs jsonb, p_sealed text, p_output_names jsonb, p_dependents text[])
   returns jsonb language plpgsql as $$
   #variable_conflict use_column
   declare
     r record;
     actor text := 'worker:' || p_worker;
     events jsonb;
     promoted jsonb := '[]'::jsonb;
     n_zero integer := 0;
   begin
     -- Lock the run first: completions of one run serialize, so a join step is
     -- promoted exactly once and the last step finishes the run exactly once.
     select state, steps_left, lock_key, active, max_parallel into r from runs where id = p_run for update;
     if not found or r.state <> 'running' or (r.steps_left = 1 and r.lock_key is not null) then
       return jsonb_build_object('status', 'slow');
     end if;
     update steps set state = p_kind, outputs = p_outputs, secret_outputs = p_sealed,
                      finished_at = clock_timestamp(), lease_owner = null, lease_expires_at = null
     where run_id = p_run and step_id = p_step and lease_owner = p_worker and attempt = p_attempt and state = 'running';
     if not found then return jsonb_build_object('status', 'lost'); end if;
     update attempts set outcome = p_kind, finished_at = now()
     where run_id = p_run and step_id = p_step and phase = 'forward' and attempt = p_attempt;
     events := jsonb_build_array(jsonb_build_object('kind', 'step.' || p_kind, 'run_id', p_run, 'step_id', p_step,
                                 'actor', actor, 'data', jsonb_build_object('attempt', p_attempt, 'outputs', p_output_names)));
     if cardinality(p_dependents) > 0 then
       with d as (update steps set deps_left = deps_left - 1 where run_id = p_run and step_id = any(p_dependents) returning deps_left)
       select count(*) filter (where deps_left = 0) into n_zero from d;
     end if;
     update runs set active = active - 1, steps_left = steps_left - 1, updated_at = now() where id = p_run;
     if r.steps_left = 1 then
       update runs set state = 'succeeded', finished_at = now(), active = 0 where id = p_run;
       events := events || jsonb_build_array(jsonb_build_object('kind', 'run.succeeded', 'run_id', p_run, 'actor', actor, 'data', '{}'::jsonb));
     elsif n_zero > 0 or r.active >= r.max_parallel then
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
              returning s.step_id, s.state, s.after_ms
            )
       select coalesce(jsonb_agg(to_jsonb(upd)), '[]'::jsonb) into promoted from upd;
       if jsonb_array_length(promoted) > 0 then
         update runs set active = active + jsonb_array_length(promoted) where id = p_run;
         events := events || (
           select jsonb_agg(jsonb_build_object(
             'kind', case when p->>'state' = 'waiting' then 'step.waiting' else 'step.ready' end,
             'run_id', p_run, 'step_id', p->'step_id', 'actor', actor,
             'data', case when p->>'state' = 'waiting' then jsonb_build_object('timerMs', p->'after_ms') else '{}'::jsonb end))
           from jsonb_array_elements(promoted) p);
       end if;
     end if;
     return jsonb_build_object('status', 'ok', 'events', events, 'promoted', jsonb_array_length(promoted));
   end $$`,

  `create function cl_complete_many(p_worker text, p_items jsonb, p_claim integer, p_lease_ms bigint, p_notify boolean)
   returns jsonb language plpgsql as $$
   declare
     it jsonb;
     res jsonb;
     statuses jsonb := '{}'::jsonb;
     events jsonb := '[]'::jsonb;
     promoted integer := 0;
     claimed jsonb;
   begin
     for it in select value from jsonb_array_elements(p_items) order by value->>'run_id', value->>'step_id' loop
       res := cl_complete_one((it->>'run_id')::uuid, it->>'step_id', p_worker, (it->>'attempt')::integer, it->>'kind',
                              it->'outputs', it->>'sealed', it->'output_names',
                              array(select jsonb_array_elements_text(it->'dependents')));
       statuses := statuses || jsonb_build_object((it->>'run_id') || '/' || (it->>'step_id'), res->>'status');
       if res->>'status' = 'ok' then
         events := events || (res->'events');
         promoted := promoted + (res->>'promoted')::integer;
       end if;
     end loop;
     claimed := cl_claim_rows(p_worker, p_claim, p_lease_ms,
                              array(select distinct (value->>'run_id')::uuid from jsonb_array_elements(p_items)));
     if jsonb_array_length(claimed) < p_claim then
       claimed := claimed || cl_claim_rows(p_worker, p_claim - jsonb_array_length(claimed), p_lease_ms);
     end if;
     events := events || cl_claim_events(claimed, 'worker:' || p_worker);
     if p_notify and promoted > jsonb_array_length(claimed) then
       perform pg_notify('clutch_luigi_work', '');
     end if;
     perform cl_audit(events);
     return jsonb_build_object('statuses', statuses, 'claimed', claimed);
   end $$`,
];

/** 002's definition of one of its functions (see definitions.ts). */
export function hotPathFunction(signature: string): string {
  return replaceableDefinition(UP, signature, "002");
}

export async function up(knex: Knex): Promise<void> {
  for (const sql of UP) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  for (const f of [
    "cl_complete_many(text, jsonb, integer, bigint, boolean)",
    "cl_complete_one(uuid, text, text, integer, text, jsonb, text, jsonb, text[])",
    "cl_claim(text, integer, bigint)",
    "cl_claim_events(jsonb, text)",
    "cl_claim_rows(text, integer, bigint, uuid[])",
    "cl_audit(jsonb)",
  ]) {
    await knex.raw(`drop function if exists ${f}`);
  }
}
