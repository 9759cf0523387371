/**
 * Which GitHub Actions workflow run a `github.workflow-dispatch` step started. A
 * callback for the step is accepted only from that workflow run (its OIDC token's
 * `run_id` and `repository`), so another run of the same repository cannot report
 * on the step's behalf. A retried step dispatches again and replaces its row.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create table workflow_dispatches (
    run_id uuid not null,
    step_id text not null,
    repository text not null,
    workflow_run_id bigint not null,
    dispatched_at timestamptz not null default now(),
    primary key (run_id, step_id),
    foreign key (run_id, step_id) references steps(run_id, step_id) on delete cascade
  )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop table if exists workflow_dispatches");
}
