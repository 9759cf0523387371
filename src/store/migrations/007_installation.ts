/**
 * The GitHub App installation a run was started from (the merge webhook's
 * `installation.id`). Workers on any machine mint the run's installation token from
 * it; runs started without the app (`clutch-luigi run`) have none.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table runs add column installation_id bigint");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("alter table runs drop column if exists installation_id");
}
