/**
 * A workflow run's callback wakes the step that dispatched it: the accepted callback
 * is noted on the dispatch, and the waiting step looks for it every second instead of
 * waiting for its next poll of GitHub.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table workflow_dispatches add column callback_at timestamptz, add column callback_status text");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("alter table workflow_dispatches drop column if exists callback_at, drop column if exists callback_status");
}
