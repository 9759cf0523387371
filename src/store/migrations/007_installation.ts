/**
 * Acting as the app, and undoing exactly:
 * - `runs.installation_id`: the GitHub App installation a run was started from (the
 *   merge webhook's `installation.id`). Workers on any machine mint the run's
 *   installation token from it; runs started without the app have none.
 * - `step_memos`: what a step found before its first change to the outside world (a
 *   team membership before a grant), written before the change and never overwritten,
 *   so a retry after a crash between the change and the stored result still knows it.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table runs add column installation_id bigint");
  await knex.raw(`create table step_memos (
    run_id uuid not null references runs(id) on delete cascade,
    step_id text not null,
    value jsonb not null,
    created_at timestamptz not null default now(),
    primary key (run_id, step_id)
  )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop table if exists step_memos");
  await knex.raw("alter table runs drop column if exists installation_id");
}
