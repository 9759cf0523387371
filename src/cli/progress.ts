/**
 * What `clutch-luigi run` shows: a step table (redrawn in place on a terminal) or,
 * when output is a pipe or a CI log, one line per state change. Pure text functions
 * over a run snapshot, so what a user sees is testable.
 */

export interface ProgressStep {
  stepId: string;
  state: string;
  attempt: number;
  rollbackAttempt?: number;
  errorClass: string | null;
  error: string | null;
}

export interface ProgressRun {
  runId: string;
  workflow: string;
  state: string;
  error?: string | null;
  steps: ProgressStep[];
}

/**
 * Text from actions and requests made safe for a terminal: an error message may
 * carry an HTTP body or a command's stderr, and an escape sequence in it could
 * clear the screen, forge lines or write the clipboard. Control characters (and
 * bidi overrides, which reorder what is shown) become visible `\xHH` / `\u{…}`
 * escapes; line breaks and tabs become spaces unless `keepLines`.
 */
export function printable(text: string, keepLines = false): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === "\n" || c === "\t") return keepLines ? c : " ";
    if (c === "\r") return keepLines ? "" : " ";
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

const MARK: Record<string, string> = {
  pending: "·", waiting: "…", ready: "○", running: "▶", succeeded: "✓", skipped: "↷", failed: "✗",
  cancelled: "-", rolling_back: "↺", rolled_back: "↩", rollback_failed: "‼",
};

function detail(s: ProgressStep): string {
  if (s.error && (s.state === "failed" || s.state === "rollback_failed" || s.state === "waiting" || s.state === "ready")) {
    return printable(`${s.errorClass ?? "error"}: ${s.error}`).replace(/\s+/g, " ").slice(0, 80);
  }
  return "";
}

/** Lines describing every change between two snapshots of the same run. */
export function changeLines(prev: ProgressRun | null, next: ProgressRun, clock: string): string[] {
  const lines: string[] = [];
  const before = new Map((prev?.steps ?? []).map((s) => [s.stepId, s]));
  for (const s of next.steps) {
    const p = before.get(s.stepId);
    if (p && p.state === s.state && p.attempt === s.attempt && (p.rollbackAttempt ?? 0) === (s.rollbackAttempt ?? 0)) continue;
    if (!p && s.state === "pending") continue;
    const attempt = s.state === "rolling_back" ? ` (rollback attempt ${s.rollbackAttempt ?? 0})` : s.attempt > 1 ? ` (attempt ${s.attempt})` : "";
    const d = detail(s);
    lines.push(`${clock} ${s.stepId} ${s.state}${attempt}${d ? ` — ${d}` : ""}`);
  }
  if (!prev || prev.state !== next.state) {
    lines.push(`${clock} run ${next.state}${next.error && next.state !== "running" ? ` — ${printable(next.error)}` : ""}`);
  }
  return lines;
}

/** The whole table, one string per line. */
export function renderTable(run: ProgressRun, elapsedMs: number, width = 100): string[] {
  const idW = Math.max(4, ...run.steps.map((s) => s.stepId.length));
  const stateW = 15;
  const head = `run ${run.runId}  ${run.workflow}  ${run.state}  ${(elapsedMs / 1000).toFixed(1)}s`;
  const lines = [head, `  ${"STEP".padEnd(idW)}  ${"STATE".padEnd(stateW)}  TRY  DETAIL`];
  for (const s of run.steps) {
    const mark = MARK[s.state] ?? "?";
    const tries = s.state === "rolling_back" || s.state === "rolled_back" || s.state === "rollback_failed"
      ? `r${s.rollbackAttempt ?? 0}` : String(s.attempt || "");
    lines.push(`${mark} ${s.stepId.padEnd(idW)}  ${s.state.padEnd(stateW)}  ${tries.padStart(3)}  ${detail(s)}`);
  }
  const w = Math.max(20, width);
  return lines.map((l) => (l.length > w ? l.slice(0, w - 1) + "…" : l));
}

export interface ProgressEvent {
  at: string;
  kind: string;
  step_id: string | null;
  data: Record<string, unknown>;
}

/** One line per audited state change; null for events a person watching need not see. */
export function eventLine(e: ProgressEvent): string | null {
  const [scope, what] = e.kind.split(".", 2) as [string, string | undefined];
  const t = new Date(e.at).toISOString().slice(11, 23);
  const d = e.data;
  const bits: string[] = [];
  if (typeof d.attempt === "number" && (d.attempt > 1 || what === "running")) bits.push(`attempt ${d.attempt}`);
  if (typeof d.errorClass === "string") bits.push(d.errorClass);
  if (typeof d.delayMs === "number") bits.push(`next try in ${d.delayMs}ms`);
  if (typeof d.timerMs === "number") bits.push(`timer ${d.timerMs}ms`);
  if (typeof d.lock === "string" && what === "waiting") bits.push(`lock ${d.lock}`);
  if (typeof d.reason === "string") bits.push(d.reason);
  if (typeof d.error === "string") bits.push(d.error);
  const extra = bits.length > 0 ? printable(` (${bits.join(", ")})`) : "";
  if (scope === "step" && e.step_id) return `${t} ${e.step_id} ${what}${extra}`;
  if (scope === "run" && what !== "created") return `${t} run ${what}${extra}`;
  if (scope === "lock") return `${t} lock ${what} ${printable(String(d.key ?? ""))}`;
  return null;
}
