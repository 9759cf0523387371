/**
 * The engine's schema. The claim and completion paths are single statements over
 * these tables, so the indexes below are chosen for exactly those queries.
 */
import type { Knex } from "knex";

const UP: string[] = [
  `create table runs (
        id uuid primary key,
        idempotency_key text unique,
        workflow text not null,
        request_path text not null,
        spec jsonb not null,
        identity jsonb not null,
        state text not null,
        lock_key text,
        max_parallel integer not null default 16,
        active integer not null default 0,
        steps_left integer not null,
        deadline timestamptz,
        cancel_requested boolean not null default false,
        error text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        finished_at timestamptz
      )`,
  `create index runs_lock_waiting on runs (lock_key, created_at) where state = 'waiting'`,
  `create index runs_deadline on runs (deadline) where deadline is not null and finished_at is null`,
  `create table steps (
        run_id uuid not null references runs(id) on delete cascade,
        step_id text not null,
        ord integer not null,
        state text not null,
        deps_left integer not null,
        after_ms bigint not null default 0,
        has_rollback boolean not null default true,
        attempt integer not null default 0,
        rb_attempt integer not null default 0,
        failures integer not null default 0,
        interruptions integer not null default 0,
        timer_done boolean not null default false,
        run_at timestamptz not null default now(),
        ready_at timestamptz,
        started_at timestamptz,
        finished_at timestamptz,
        lease_owner text,
        lease_expires_at timestamptz,
        idempotency_key text not null,
        outputs jsonb,
        secret_outputs text,
        error_class text,
        error text,
        primary key (run_id, step_id)
      )`,
  `create index steps_claimable on steps (run_at) where lease_owner is null and state in ('ready', 'waiting', 'rolling_back')`,
  `create index steps_queued on steps (run_id, ord) where state = 'pending' and deps_left = 0`,
  `create index steps_leased on steps (lease_expires_at) where lease_owner is not null`,
  `create table attempts (
        run_id uuid not null,
        step_id text not null,
        attempt integer not null,
        phase text not null,
        worker text not null,
        started_at timestamptz not null default now(),
        finished_at timestamptz,
        outcome text not null,
        error_class text,
        error text,
        primary key (run_id, step_id, phase, attempt),
        foreign key (run_id, step_id) references steps(run_id, step_id) on delete cascade
      )`,
  `create table locks (
        key text primary key,
        run_id uuid not null references runs(id) on delete cascade,
        acquired_at timestamptz not null default now()
      )`,
  `create table audit_head (
        id integer primary key check (id = 1),
        seq bigint not null,
        hash text not null
      )`,
  `insert into audit_head (id, seq, hash) values (1, 0, '')`,
  `create table audit_events (
        seq bigint primary key,
        at timestamptz not null,
        kind text not null,
        run_id uuid,
        step_id text,
        actor text not null,
        data jsonb not null,
        prev_hash text not null,
        hash text not null,
        body text not null
      )`,
  `create index audit_events_run on audit_events (run_id, seq)`,
  `-- Append-only: the chain is only worth something if rows cannot be edited in place.
      create function audit_events_immutable() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_events is append-only';
      end $$`,
  `create trigger audit_events_no_update before update or delete on audit_events
        for each row execute function audit_events_immutable()`,
];

export async function up(knex: Knex): Promise<void> {
  // One statement per call: PGlite runs each query as a prepared statement.
  for (const sql of UP) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ["audit_events", "audit_head", "locks", "attempts", "steps", "runs"]) {
    await knex.raw(`drop table if exists ${t}`);
  }
  await knex.raw("drop function if exists audit_events_immutable()");
}
