/**
 * The webhook delivery queue (migration 010). The request path records a
 * delivery and answers; processors claim deliveries under a lease, process them
 * and mark them done, or schedule a retry, or give up (`dead`, error kept).
 *
 * - Replays: a delivery id seen before is recorded once. GitHub's redelivery
 *   reuses the id, so it is ignored while the first copy is queued or done, and
 *   puts a dead delivery back in the queue.
 * - Order: deliveries sharing an ordering key (one pull request) are claimed one
 *   at a time, oldest first; a later one waits while an earlier one is pending,
 *   retrying or running. Dead ones do not hold the others up.
 * - Crashes: a claimed delivery whose lease runs out is claimable again.
 */
import type { Knex } from "knex";
import { rowsOf } from "./db.js";
import { storableJson, storableText } from "./storable.js";

/** Woken by every new delivery, so idle processors in any replica look at once. */
export const DELIVERY_CHANNEL = "clutch_luigi_deliveries";

export interface NewDelivery {
  /** X-GitHub-Delivery. */
  id: string;
  /** X-GitHub-Event, e.g. `pull_request`. */
  event: string;
  action: string | null;
  installationId: number | null;
  /** `owner/name`. */
  repository: string | null;
  pullNumber: number | null;
  /** Deliveries with the same key are processed one at a time in received order; null: no order needed. */
  orderingKey: string | null;
  payload: unknown;
}

export interface StoredDelivery extends NewDelivery {
  /** Attempts so far, this one included. */
  attempts: number;
  receivedAt: Date;
}

/** `queued`: new; `requeued`: a dead delivery redelivered; `duplicate`: already queued or done. */
export type RecordOutcome = "queued" | "requeued" | "duplicate";

/**
 * The payload as jsonb accepts it. A PR's title or body may hold a NUL or an
 * unpaired surrogate, which jsonb refuses: such a delivery would fail to be
 * stored on every redelivery, and the PR would never be evaluated. JSON.stringify
 * writes both as escapes, so only a payload whose text shows one is walked.
 */
function storablePayload(payload: unknown): string {
  const text = JSON.stringify(payload) ?? "null";
  return /\\u0000|\\ud[89a-f]/i.test(text) ? JSON.stringify(storableJson(payload)) : text;
}

const textOrNull = (s: string | null): string | null => (s === null ? null : storableText(s));

export async function recordDelivery(db: Knex, d: NewDelivery): Promise<RecordOutcome> {
  const rows = rowsOf<{ requeued: boolean }>(
    await db.raw(
      `insert into webhook_deliveries (id, event, action, installation_id, repository, pull_number, ordering_key, payload)
       values (?, ?, ?, ?, ?, ?, ?, ?::jsonb)
       on conflict (id) do update set state = 'pending', attempts = 0, next_at = now(), last_error = null,
         payload = excluded.payload, claimed_by = null, claimed_until = null, completed_at = null
       where webhook_deliveries.state = 'dead'
       returning (xmax <> 0) as requeued`,
      [d.id, storableText(d.event), textOrNull(d.action), d.installationId, textOrNull(d.repository), d.pullNumber, textOrNull(d.orderingKey), storablePayload(d.payload)],
    ),
  );
  if (rows.length === 0) return "duplicate";
  await db.raw("select pg_notify(?, '')", [DELIVERY_CHANNEL]);
  return rows[0]!.requeued ? "requeued" : "queued";
}

interface DeliveryRow {
  id: string;
  event: string;
  action: string | null;
  installation_id: string | number | null;
  repository: string | null;
  pull_number: number | null;
  ordering_key: string | null;
  payload: unknown;
  attempts: number;
  received_at: Date | string;
}

const toStored = (r: DeliveryRow): StoredDelivery => ({
  id: r.id,
  event: r.event,
  action: r.action,
  installationId: r.installation_id === null ? null : Number(r.installation_id),
  repository: r.repository,
  pullNumber: r.pull_number,
  orderingKey: r.ordering_key,
  payload: typeof r.payload === "string" ? JSON.parse(r.payload) : r.payload,
  attempts: Number(r.attempts),
  receivedAt: new Date(r.received_at),
});

/**
 * Claims up to `limit` deliveries for `owner` for `leaseMs`: pending ones that are
 * due, and running ones whose lease ran out (their process died). Of each ordering
 * key only the oldest unfinished delivery is claimable.
 */
export async function claimDeliveries(db: Knex, opts: { owner: string; leaseMs: number; limit: number }): Promise<StoredDelivery[]> {
  const rows = rowsOf<DeliveryRow>(
    await db.raw(
      `update webhook_deliveries d
          set state = 'running', claimed_by = ?, claimed_until = now() + ? * interval '1 millisecond', attempts = d.attempts + 1
        where d.id in (
          select c.id from webhook_deliveries c
           where c.state in ('pending', 'running')
             and ((c.state = 'pending' and c.next_at <= now()) or (c.state = 'running' and c.claimed_until < now()))
             and (c.ordering_key is null or not exists (
                   select 1 from webhook_deliveries e
                    where e.ordering_key = c.ordering_key and e.state in ('pending', 'running') and e.seq < c.seq))
           order by c.seq
           limit ?
           for update skip locked)
        returning d.id, d.event, d.action, d.installation_id, d.repository, d.pull_number, d.ordering_key, d.payload, d.attempts, d.received_at`,
      [opts.owner, opts.leaseMs, opts.limit],
    ),
  );
  return rows.map(toStored).sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
}

/** Extends a lease still held; false when it was lost (another process took the delivery over). */
export async function extendDeliveryLease(db: Knex, id: string, owner: string, leaseMs: number): Promise<boolean> {
  const rows = rowsOf(
    await db.raw(
      `update webhook_deliveries set claimed_until = now() + ? * interval '1 millisecond'
        where id = ? and claimed_by = ? and state = 'running' returning id`,
      [leaseMs, id, owner],
    ),
  );
  return rows.length > 0;
}

/**
 * How long done ids are kept for replay protection. GitHub keeps deliveries for
 * redelivery for a few days; a replay older than this is processed again, which
 * is safe because every handler is idempotent (facts re-read, one run per merge commit).
 */
export const DELIVERY_RETENTION_DAYS = 30;

/** Marks a delivery done (its payload is dropped: only the id is needed from now on); false when the lease was lost. */
export async function completeDelivery(db: Knex, id: string, owner: string): Promise<boolean> {
  const rows = rowsOf(
    await db.raw(
      `update webhook_deliveries set state = 'done', completed_at = now(), payload = null, claimed_by = null, claimed_until = null, last_error = null
        where id = ? and claimed_by = ? and state = 'running' returning id`,
      [id, owner],
    ),
  );
  // Forget done ids past the retention (a range scan of the received_at index).
  await db.raw(`delete from webhook_deliveries where received_at < now() - make_interval(days => ?) and state = 'done'`, [DELIVERY_RETENTION_DAYS]);
  return rows.length > 0;
}

/** An attempt failed: retry after `retryInMs`, or (null) give up and keep the delivery as dead. */
export async function failDelivery(db: Knex, id: string, owner: string, error: string, retryInMs: number | null): Promise<boolean> {
  const rows = rowsOf(
    await db.raw(
      `update webhook_deliveries
          set state = ?, next_at = now() + ? * interval '1 millisecond', last_error = ?, claimed_by = null, claimed_until = null
        where id = ? and claimed_by = ? and state = 'running' returning id`,
      [retryInMs === null ? "dead" : "pending", retryInMs ?? 0, error.slice(0, 4000), id, owner],
    ),
  );
  return rows.length > 0;
}

/** Hands a delivery in hand back (the process is stopping): claimable at once, the attempt not counted. */
export async function releaseDelivery(db: Knex, id: string, owner: string): Promise<void> {
  await db.raw(
    `update webhook_deliveries set state = 'pending', next_at = now(), claimed_by = null, claimed_until = null, attempts = greatest(attempts - 1, 0)
      where id = ? and claimed_by = ? and state = 'running'`,
    [id, owner],
  );
}

/** Deliveries not yet done or dead (pending, retrying or running). */
export async function openDeliveryCount(db: Knex): Promise<number> {
  return Number(rowsOf<{ n: number }>(await db.raw("select count(*)::int as n from webhook_deliveries where state in ('pending', 'running')"))[0]?.n ?? 0);
}

export interface DeliveryState {
  id: string;
  state: "pending" | "running" | "done" | "dead";
  attempts: number;
  lastError: string | null;
}

/** One delivery's state, for logs, tests and operators. */
export async function deliveryState(db: Knex, id: string): Promise<DeliveryState | undefined> {
  const row = rowsOf<{ id: string; state: DeliveryState["state"]; attempts: number; last_error: string | null }>(
    await db.raw("select id, state, attempts, last_error from webhook_deliveries where id = ?", [id]),
  )[0];
  return row && { id: row.id, state: row.state, attempts: Number(row.attempts), lastError: row.last_error };
}
