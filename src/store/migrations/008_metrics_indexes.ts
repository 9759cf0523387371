/**
 * `/metrics` reads unfinished runs and the last hour's finished ones on every scrape
 * (cached for a few seconds). These partial indexes keep both reads proportional to
 * what they count, not to the history of runs.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("create index runs_unfinished on runs (state) where finished_at is null");
  await knex.raw("create index runs_finished_at on runs (finished_at) where finished_at is not null");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop index if exists runs_unfinished");
  await knex.raw("drop index if exists runs_finished_at");
}
