/**
 * The last verdict recorded for a pull request head: what the policy check
 * showed the reviewers before the merge. Read from the hashed
 * `request.evaluated` rows, newest first.
 */
import type { Knex } from "knex";
import { rowsOf } from "./db.js";

export interface RecordedEvaluation {
  seq: number;
  data: Record<string, unknown>;
}

export async function lastEvaluation(db: Knex, q: { repository: string; pullRequest: number; headSha: string }): Promise<RecordedEvaluation | null> {
  const row = rowsOf<{ seq: string | number; data: unknown }>(
    await db.raw(
      `select seq, data from audit_events
       where kind = 'request.evaluated' and data->>'repository' = ? and data->>'pullRequest' = ? and data->>'headSha' = ?
       order by seq desc limit 1`,
      [q.repository, String(q.pullRequest), q.headSha],
    ),
  )[0];
  if (!row) return null;
  const data = (typeof row.data === "string" ? JSON.parse(row.data) : row.data) as Record<string, unknown>;
  return { seq: Number(row.seq), data };
}

/** The reasons of the last `run.refused` row for a merge commit, or null if none was recorded. */
export async function lastRefusalReasons(db: Knex, q: { repository: string; pullRequest: number; commit: string }): Promise<string[] | null> {
  const row = rowsOf<{ data: unknown }>(
    await db.raw(
      `select data from audit_events
       where kind = 'run.refused' and data->>'repository' = ? and data->>'pullRequest' = ? and data->>'commit' = ?
       order by seq desc limit 1`,
      [q.repository, String(q.pullRequest), q.commit],
    ),
  )[0];
  if (!row) return null;
  const data = (typeof row.data === "string" ? JSON.parse(row.data) : row.data) as { reasons?: unknown };
  return Array.isArray(data.reasons) ? data.reasons.map(String) : [];
}
