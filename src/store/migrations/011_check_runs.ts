/**
 * The check run this app currently shows for each (repository, head SHA,
 * check name), with a hash of what was written. The publisher compares a new
 * payload with the row before calling GitHub: unchanged is not written at all,
 * changed is updated in place, and only a conclusion GitHub will not let a
 * completed run change gets a new run. Rows are kept for a bounded time; a
 * check asked about after that is simply created again.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create table check_runs (
    repository text not null,
    head_sha text not null,
    name text not null,
    check_run_id bigint not null,
    status text not null,
    conclusion text,
    payload_hash text not null,
    annotations_hash text not null,
    updated_at timestamptz not null default now(),
    primary key (repository, head_sha, name)
  )`);
  await knex.raw("create index check_runs_updated_at on check_runs (updated_at)");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop table if exists check_runs");
}
