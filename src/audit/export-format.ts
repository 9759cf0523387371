/**
 * What `audit export` writes: every column an outside verifier needs (prev_hash,
 * hash and the hashed body) in JSON lines or RFC 4180 CSV.
 */
import type { AuditRow } from "../store/audit.js";

export type ExportFormat = "jsonl" | "csv";

export const CSV_COLUMNS = ["seq", "at", "kind", "run_id", "step_id", "actor", "data", "prev_hash", "hash", "body"] as const;

/** Key order is fixed so two exports of the same rows are byte-identical. */
export function jsonlLine(row: AuditRow): string {
  const { seq, at, kind, run_id, step_id, actor, data, prev_hash, hash, body } = row;
  return JSON.stringify({ seq, at, kind, run_id, step_id, actor, data, prev_hash, hash, body }) + "\n";
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(",") + "\r\n";
}

export function csvLine(row: AuditRow): string {
  const cells = CSV_COLUMNS.map((c) => {
    const v = row[c];
    if (v === null) return "";
    return csvField(typeof v === "object" ? JSON.stringify(v) : String(v));
  });
  return cells.join(",") + "\r\n";
}
