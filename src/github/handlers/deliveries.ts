/**
 * Replay protection by delivery id (X-GitHub-Delivery). The webhook signature
 * proves GitHub sent a payload, not that it is new: a delivery handled to the
 * end is never handled again. A delivery that failed stays open, so GitHub's
 * own redelivery (which reuses the id) is handled in full.
 */
import type { Knex } from "knex";
import { rowsOf } from "../../store/db.js";

/** GitHub's delivery ids are GUIDs; anything far off that shape is refused before it reaches SQL. */
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;

export function isDeliveryId(id: unknown): id is string {
  return typeof id === "string" && DELIVERY_ID.test(id);
}

/** Records the delivery; false when it was already handled to completion (a replay). */
export async function beginDelivery(db: Knex, id: string, event: string): Promise<boolean> {
  const rows = rowsOf<{ id: string }>(
    await db.raw(
      `insert into webhook_deliveries (id, event) values (?, ?)
       on conflict (id) do update set attempts = webhook_deliveries.attempts + 1
       where webhook_deliveries.completed_at is null
       returning id`,
      [id, event],
    ),
  );
  return rows.length > 0;
}

/**
 * How long handled ids are kept. GitHub keeps deliveries for redelivery for a
 * few days; a replay older than this is handled again, which is safe because
 * every handler is idempotent (facts re-read, one run per merge commit).
 */
export const DELIVERY_RETENTION_DAYS = 30;

/** Marks the delivery handled, and forgets ids past the retention (an index range scan). */
export async function completeDelivery(db: Knex, id: string): Promise<void> {
  await db.raw("update webhook_deliveries set completed_at = now() where id = ?", [id]);
  await db.raw(`delete from webhook_deliveries where received_at < now() - make_interval(days => ?)`, [DELIVERY_RETENTION_DAYS]);
}
