/**
 * The worker's hot entry points plan their statements once per connection, not once
 * per call. Statements in a plpgsql function are planned with their parameters'
 * values ("custom" plans) and keep being re-planned while a generic plan does not
 * look cheaper; for these functions that was a third of Postgres's CPU under load
 * (perf: GetCachedPlan → pg_plan_query, most of it the claim's and the promotion's
 * CTEs). Their statements are all keyed lookups and the claim's index scan, whose
 * best plan does not depend on the values. The setting is scoped to these calls
 * (functions they call inherit it), not to the database or the connection.
 *
 * A later migration that re-creates one of these functions must set it again:
 * CREATE OR REPLACE drops a function's settings.
 */
import type { Knex } from "knex";

const GENERIC_PLAN_FUNCTIONS = [
  "cl_report(text, jsonb, integer, bigint, boolean)",
  "cl_claim(text, integer, bigint)",
  "cl_create_run(jsonb, jsonb, jsonb, jsonb, boolean)",
];

export async function up(knex: Knex): Promise<void> {
  for (const f of GENERIC_PLAN_FUNCTIONS) await knex.raw(`alter function ${f} set plan_cache_mode = force_generic_plan`);
}

export async function down(knex: Knex): Promise<void> {
  for (const f of GENERIC_PLAN_FUNCTIONS) await knex.raw(`alter function ${f} reset plan_cache_mode`);
}
