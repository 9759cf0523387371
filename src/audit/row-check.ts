/**
 * Checking one audit row on its own: its hash covers its body, and its columns say
 * what the body says. `audit show` uses it for a run's rows; the whole chain
 * (links, gaps, head) is `verifyAuditChain`'s job.
 */
import { auditHash, bodyMismatch, type AuditRow } from "../store/audit.js";

export function auditRowProblem(row: AuditRow): string | null {
  if (auditHash(row.prev_hash, row.body) !== row.hash) return "hash does not match the row's body";
  return bodyMismatch(row);
}
