/**
 * Checking one audit row on its own: its hash covers its body, and its columns say
 * what the body says. `audit show` uses it for a run's rows; the whole chain
 * (links, gaps, head) is `verifyAuditChain`'s job.
 */
import { auditHash, canonicalJson, type AuditRow } from "../store/audit.js";

export function auditRowProblem(row: AuditRow): string | null {
  if (auditHash(row.prev_hash, row.body) !== row.hash) return "hash does not match the row's body";
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(row.body) as Record<string, unknown>;
  } catch {
    return "body is not JSON";
  }
  if (Number(body.seq) !== row.seq) return "seq differs from the hashed body";
  // Rows from audit-query carry `at` in the body's own spelling, so text equality is exact to the microsecond.
  if (body.at !== row.at) return "at differs from the hashed body";
  for (const k of ["kind", "run_id", "step_id", "actor"] as const) {
    if ((body[k] ?? null) !== row[k]) return `${k} differs from the hashed body`;
  }
  if (canonicalJson(body.data ?? {}) !== canonicalJson(row.data)) return "data differs from the hashed body";
  return null;
}
