/**
 * Creating a run is one statement: cl_create_run inserts the run, its report and its
 * steps and begins it (cl_begin_run_events, migration 015), in the transaction of
 * that statement. createRun used five round trips (BEGIN, two INSERTs, cl_begin_run,
 * COMMIT), and the audit chain's head, which cl_begin_run locks, stayed locked until
 * the client's COMMIT arrived: every worker's report waited behind that round trip.
 * cl_begin_run, whose only caller was createRun, is gone.
 */
import type { Knex } from "knex";
import { transitionFunction } from "./015_transitions.js";

const CREATE_RUN = `create function cl_create_run(p_run jsonb, p_steps jsonb, p_report jsonb, p_created jsonb, p_notify boolean)
   returns jsonb language plpgsql as $$
   declare
     v_run uuid := (p_run->>'id')::uuid;
     v_actor text := p_created->>'actor';
     v_existing record;
   begin
     insert into runs (id, idempotency_key, request_key, workflow, request_path, spec, identity, state, lock_key,
                       max_parallel, steps_left, installation_id, expiry_ms, expiry_max_ms)
     values (v_run, p_run->>'idempotency_key', p_run->>'request_key', p_run->>'workflow', p_run->>'request_path',
             p_run->'spec', p_run->'identity', 'waiting', p_run->>'lock_key', (p_run->>'max_parallel')::integer,
             (p_run->>'steps_left')::integer, (p_run->>'installation_id')::bigint, (p_run->>'expiry_ms')::bigint,
             (p_run->>'expiry_max_ms')::bigint)
     on conflict do nothing;
     if not found then
       -- Either key may be the one that matched; both name the same request's run.
       select id, state into v_existing from runs
         where idempotency_key = p_run->>'idempotency_key' or request_key = p_run->>'request_key'
         order by created_at limit 1;
       return jsonb_build_object('created', false, 'run_id', v_existing.id, 'state', v_existing.state);
     end if;
     if p_report is not null then
       insert into run_reports (run_id, details_url, default_branch, time_zone)
       values (v_run, p_report->>'details_url', p_report->>'default_branch', p_report->>'time_zone')
       on conflict do nothing;
     end if;
     insert into steps (run_id, step_id, ord, state, deps_left, after_ms, has_rollback, dependents, idempotency_key)
     select v_run, x.step_id, x.ord, 'pending', x.deps_left, x.after_ms, x.has_rollback, x.dependents, v_run || ':' || x.step_id
     from jsonb_to_recordset(p_steps) as x(step_id text, ord integer, deps_left integer, after_ms bigint, has_rollback boolean, dependents text[]);
     perform cl_commit_events(jsonb_build_array(p_created) || cl_begin_run_events(v_run, v_actor), p_notify);
     return jsonb_build_object('created', true, 'run_id', v_run, 'state', (select state from runs where id = v_run));
   end $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(CREATE_RUN);
  await knex.raw("drop function cl_begin_run(uuid, text, jsonb, boolean)");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(transitionFunction("cl_begin_run(p_run uuid"));
  await knex.raw("drop function if exists cl_create_run(jsonb, jsonb, jsonb, jsonb, boolean)");
}
