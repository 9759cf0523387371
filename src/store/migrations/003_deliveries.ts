/**
 * Webhook deliveries already handled, keyed by GitHub's delivery id
 * (X-GitHub-Delivery). The signature proves a payload came from GitHub but not
 * that it is new; a delivery id seen to completion is not handled again.
 * A delivery whose handling failed stays open, so GitHub's redelivery (same id)
 * is handled in full.
 */
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create table webhook_deliveries (
    id text primary key,
    event text not null,
    received_at timestamptz not null default now(),
    attempts integer not null default 1,
    completed_at timestamptz
  )`);
  await knex.raw("create index webhook_deliveries_received_at on webhook_deliveries (received_at)");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop table if exists webhook_deliveries");
}
