/**
 * The delivery ledger becomes a queue. The webhook request only stores the
 * delivery (payload included) and answers; processors in every replica claim
 * rows with `FOR UPDATE SKIP LOCKED` under a lease, so a process killed
 * mid-delivery leaves it to another once the lease runs out. Deliveries of one
 * pull request share an ordering key and are processed one at a time in the
 * order they were received (`seq`).
 *
 * Rows recorded before this migration that never completed carry no payload
 * and cannot be processed: they are removed, so GitHub's redelivery of one is
 * taken as new (which is what an open row meant before).
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("delete from webhook_deliveries where completed_at is null");
  await knex.raw(`alter table webhook_deliveries
    add column seq bigint generated always as identity,
    add column action text,
    add column installation_id bigint,
    add column repository text,
    add column pull_number integer,
    add column ordering_key text,
    add column payload jsonb,
    add column state text not null default 'done',
    add column next_at timestamptz not null default now(),
    add column claimed_by text,
    add column claimed_until timestamptz,
    add column last_error text,
    add constraint webhook_deliveries_state check (state in ('pending', 'running', 'done', 'dead'))`);
  // Existing rows were handled to completion; new ones start pending and count attempts from zero.
  await knex.raw("alter table webhook_deliveries alter column state set default 'pending', alter column attempts set default 0");
  // The claim reads only unfinished rows: both indexes stay as small as the backlog.
  await knex.raw("create index webhook_deliveries_due on webhook_deliveries (next_at) where state in ('pending', 'running')");
  await knex.raw("create index webhook_deliveries_open_key on webhook_deliveries (ordering_key, seq) where state in ('pending', 'running')");
  await knex.raw("create index webhook_deliveries_dead on webhook_deliveries (received_at) where state = 'dead'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop index if exists webhook_deliveries_due");
  await knex.raw("drop index if exists webhook_deliveries_open_key");
  await knex.raw("drop index if exists webhook_deliveries_dead");
  await knex.raw(`alter table webhook_deliveries
    drop constraint if exists webhook_deliveries_state,
    drop column seq, drop column action, drop column installation_id, drop column repository,
    drop column pull_number, drop column ordering_key, drop column payload, drop column state,
    drop column next_at, drop column claimed_by, drop column claimed_until, drop column last_error`);
  await knex.raw("alter table webhook_deliveries alter column attempts set default 1");
}
