/**
 * Firing the timers of time-bound runs, from every worker's maintenance pass. Each
 * due timer is taken with SKIP LOCKED and fired in one transaction with the undo it
 * starts and its `run.expired` row, so an expiry is never half-applied and two
 * workers never fire the same one. The clock is the database's, so workers' clocks
 * do not matter, and a timer that fell due while every process was down fires on
 * the first pass after they come back.
 */
import type { Knex } from "knex";
import { undoError } from "../engine/undo-cause.js";
import { appendAudit, type AuditEvent } from "./audit.js";
import { claimDueExpiries, settleExpiry } from "./expiries.js";
import { rollBackSucceededRun, RunControlRefusal } from "./run-control.js";

/** How long a timer whose run cannot be undone right now (its lock is held) waits before it is tried again. */
const BLOCKED_RETRY = "30 seconds";

export async function fireDueExpiries(db: Knex, actor: string, notify: boolean, max = 20): Promise<number> {
  let fired = 0;
  for (let i = 0; i < max; i++) {
    const more = await db.transaction(async (trx: Knex.Transaction) => {
      const [due] = await claimDueExpiries(trx, 1);
      if (!due) return false;
      const audit: AuditEvent[] = [];
      try {
        await rollBackSucceededRun(trx, due.runId, actor, notify, {
          requestKind: "run.expired",
          origin: { expiresAt: due.expiresAt.toISOString() },
          error: undoError("expired", due.expiresAt.toISOString()),
        });
        await settleExpiry(trx, due.runId, "expired");
        fired++;
      } catch (e) {
        if (!(e instanceof RunControlRefusal)) throw e;
        if (e.code === "lock-held") {
          // Another run holds the lock now: undoing under it is what the lock forbids. Try again shortly.
          await trx.raw(`update run_expiries set expires_at = now() + interval '${BLOCKED_RETRY}' where run_id = ?`, [due.runId]);
          audit.push({ kind: "run.expiry_delayed", runId: due.runId, actor, data: { reason: e.message } });
        } else if (e.code === "nothing-to-undo") {
          // Every step found its goal already in place (a member granted membership): the
          // expiry passes with nothing to put back, and says so.
          await settleExpiry(trx, due.runId, "expired");
          audit.push({ kind: "run.expired", runId: due.runId, actor, data: { expiresAt: due.expiresAt.toISOString(), undone: [], note: "no step changed anything, so nothing is undone" } });
          fired++;
        } else {
          // Retried, rolled back or otherwise no longer in force: nothing is left to undo.
          await settleExpiry(trx, due.runId, "not_in_force");
        }
      }
      await appendAudit(trx, audit);
      return true;
    });
    if (!more) break;
  }
  return fired;
}
