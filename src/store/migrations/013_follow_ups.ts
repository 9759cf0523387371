/**
 * Break-glass follow-ups: a run that bypassed the usual approvals stays "open" until a
 * code owner of its request file records a review of it afterwards. The partial index
 * keeps the open ones cheap to list and count however long the history grows.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table runs add column followed_up_at timestamptz, add column followed_up_by text");
  await knex.raw("create index runs_open_follow_ups on runs (created_at) where followed_up_at is null and (identity->>'breakGlass') = 'true'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop index if exists runs_open_follow_ups");
  await knex.raw("alter table runs drop column if exists followed_up_at, drop column if exists followed_up_by");
}
