/**
 * What GitHub shows of each run started from a pull request: its `clutch-luigi/run`
 * check run and its outcome comment. The audit chain is the change log: a report is
 * due when the run has an audit row newer than the one its check last showed
 * (`wanted_seq > published_seq`). One scanner, guarded by the cursor row, marks
 * reports due from new audit rows, so no engine transition pays for reporting.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create table run_reports (
    run_id uuid primary key references runs(id) on delete cascade,
    details_url text,
    default_branch text,
    time_zone text,
    check_run_id bigint,
    check_state text,
    check_hash text,
    comment_id bigint,
    comment_hash text,
    anchored_seq bigint not null default 0,
    wanted_seq bigint not null default 1,
    published_seq bigint not null default 0,
    next_at timestamptz not null default now(),
    claimed_until timestamptz,
    failures integer not null default 0,
    last_error text,
    created_at timestamptz not null default now()
  )`);
  await knex.raw("create index run_reports_due on run_reports (next_at) where wanted_seq > published_seq");
  // anchored_*: the periodic anchor of the chain head (on top of the one at every run's end).
  await knex.raw("create table run_report_cursor (id integer primary key check (id = 1), seq bigint not null, anchored_at timestamptz, anchored_seq bigint not null default 0)");
  // History before this migration has nothing to report.
  await knex.raw("insert into run_report_cursor (id, seq) select 1, seq from audit_head where id = 1");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop table if exists run_report_cursor");
  await knex.raw("drop table if exists run_reports");
}
