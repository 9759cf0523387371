/**
 * `audit list` as a table: fixed columns, widths taken from the rows shown, and the
 * summary cut to the terminal's width when there is one.
 */
import type { AuditRow } from "../store/audit.js";
import { summarizeAuditRow } from "./summary.js";

/** The first block of a run id: enough to tell runs apart, and `--run` accepts it. */
export function shortRunId(runId: string | null): string {
  return runId ? runId.slice(0, 8) : "-";
}

/** `2026-11-29 08:51:31.123` (UTC, as stored). */
export function displayTime(at: string): string {
  return at.replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1");
}

export function renderAuditTable(rows: AuditRow[], width?: number): string[] {
  const cells = rows.map((r) => [String(r.seq), displayTime(r.at), r.kind, shortRunId(r.run_id), r.step_id ?? "-", r.actor]);
  const head = ["SEQ", "TIME (UTC)", "KIND", "RUN", "STEP", "ACTOR"];
  const widths = head.map((h, i) => Math.min(i === 5 ? 32 : 40, Math.max(h.length, ...cells.map((c) => c[i]!.length))));
  const fit = (text: string, w: number): string => (text.length > w ? `${text.slice(0, w - 1)}…` : text.padEnd(w));
  const left = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padStart(widths[i]!) : fit(v, widths[i]!))).join("  ");
  const lines = [`${left(head)}  SUMMARY`];
  rows.forEach((r, i) => {
    const l = left(cells[i]!);
    const room = width ? Math.max(10, width - l.length - 2) : 100;
    lines.push(`${l}  ${summarizeAuditRow(r, room)}`.trimEnd());
  });
  return lines;
}
