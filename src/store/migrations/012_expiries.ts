/**
 * Time-bound runs. A run created from a workflow with `expires:` carries its terms
 * (`expiry_ms`, `expiry_max_ms`); the moment it succeeds a trigger arms its timer in
 * `run_expiries`, whichever path (the hot-path function or the slow path) finished
 * it, so the clock starts when the change is in place, never when the request was
 * written, and the timer is in the same transaction as the success. Workers fire due
 * timers with SKIP LOCKED; a fired timer keeps its row, with the outcome.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table runs add column expiry_ms bigint, add column expiry_max_ms bigint");
  await knex.raw(`create table run_expiries (
    run_id uuid primary key references runs(id) on delete cascade,
    started_at timestamptz not null,
    expires_at timestamptz not null,
    max_at timestamptz not null,
    extensions integer not null default 0,
    fired_at timestamptz,
    outcome text
  )`);
  await knex.raw("create index run_expiries_due on run_expiries (expires_at) where fired_at is null");
  // One extension per approved request, however many merge events arrive for it.
  await knex.raw(`create table run_extensions (
    request_key text primary key,
    run_id uuid not null references runs(id) on delete cascade,
    from_at timestamptz not null,
    to_at timestamptz not null,
    at timestamptz not null default now()
  )`);
  await knex.raw(`create function cl_arm_expiry() returns trigger language plpgsql as $$
    begin
      if new.expiry_ms is not null and new.state = 'succeeded' and old.state is distinct from 'succeeded' then
        insert into run_expiries (run_id, started_at, expires_at, max_at)
        values (new.id, now(), now() + new.expiry_ms * interval '1 millisecond', now() + new.expiry_max_ms * interval '1 millisecond')
        on conflict (run_id) do update set started_at = excluded.started_at, expires_at = excluded.expires_at,
          max_at = excluded.max_at, extensions = 0, fired_at = null, outcome = null;
      end if;
      return new;
    end $$`);
  await knex.raw("create trigger runs_arm_expiry after update of state on runs for each row execute function cl_arm_expiry()");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop trigger if exists runs_arm_expiry on runs");
  await knex.raw("drop function if exists cl_arm_expiry()");
  await knex.raw("drop table if exists run_extensions");
  await knex.raw("drop table if exists run_expiries");
  await knex.raw("alter table runs drop column if exists expiry_ms, drop column if exists expiry_max_ms");
}
