/**
 * One run per request: a run started from a pull request is keyed by
 * (repository, PR number, request path), however many merge events arrive and
 * whatever merge commit each one names. `idempotency_key` keeps its meaning
 * (one run per merge commit) beside it. Rows from before this migration get
 * the key too; where replayed merges already started more than one run for a
 * request, the earliest keeps it and the others are left without (they stay
 * readable, and their audit rows are untouched).
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table runs add column request_key text");
  await knex.raw(`update runs set request_key = k.key
    from (
      select id, (identity->>'repository') || '#' || (identity->>'pullRequest') || ':' || request_path as key,
             row_number() over (partition by identity->>'repository', identity->>'pullRequest', request_path order by created_at, id) as n
      from runs
      where identity->>'repository' is not null and identity->>'pullRequest' is not null
    ) k
    where runs.id = k.id and k.n = 1`);
  await knex.raw("create unique index runs_request_key on runs (request_key)");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop index if exists runs_request_key");
  await knex.raw("alter table runs drop column if exists request_key");
}
