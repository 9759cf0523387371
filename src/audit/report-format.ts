/**
 * `audit report` as Markdown (pasted into audit evidence), CSV (opened in a
 * spreadsheet) or JSON. Writers take the report piece by piece so refusals stream
 * out as they are read. CSV cells that a spreadsheet would run as a formula
 * (starting with = + - @, tab or carriage return) get a leading apostrophe.
 */
import type { ReportRefusal, ReportRun } from "./report.js";

export type ReportFormat = "md" | "csv" | "json";

export interface ReportMeta {
  since: string;
  until: string;
  repository: string | null;
  generatedAt: string;
}

export interface ReportEnd {
  rows: number;
  runs: number;
  refusals: number;
  /** The last row of the period (null: none), and the chain head when the report was read. */
  periodEnd: { seq: number; hash: string; at: string } | null;
  head: { seq: number; hash: string };
}

export interface ReportWriter {
  begin(meta: ReportMeta): void;
  runs(runs: ReportRun[]): void;
  refusal(r: ReportRefusal): void;
  end(end: ReportEnd): void;
}

type Write = (text: string) => void;

function duration(ms: number | null): string {
  if (ms === null) return "";
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function approvers(r: ReportRun): string {
  return r.approvers.map((a) => (a.reviewId !== null ? `${a.login} (review ${a.reviewId})` : a.login)).join(", ");
}

function where(repository: string | null, pr: number | null): string {
  return repository ? (pr !== null ? `${repository}#${pr}` : repository) : "";
}

/** A Markdown table cell: one line, pipes and backslashes escaped, no HTML. */
export function mdCell(v: string | number | null | undefined): string {
  const text = v === null || v === undefined ? "" : String(v);
  return text
    .replace(/\s+/g, " ")
    .trim()
    .replace(/[\\|`*_[\]<>]/g, (c) => `\\${c}`);
}

function mdRow(cells: (string | number | null)[]): string {
  return `| ${cells.map(mdCell).join(" | ")} |\n`;
}

/** A CSV cell (RFC 4180) that a spreadsheet shows as text, never runs as a formula. */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return "";
  let text = String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRow(cells: (string | number | boolean | null)[]): string {
  return cells.map(csvCell).join(",") + "\r\n";
}

export function markdownWriter(write: Write): ReportWriter {
  let refusals = 0;
  return {
    begin(m) {
      write(`# Clutch Luigi audit report\n\n`);
      write(`- Period: ${m.since} to ${m.until} (until is exclusive)\n`);
      if (m.repository) write(`- Repository: ${mdCell(m.repository)}\n`);
      write(`- Generated: ${m.generatedAt}\n\n`);
    },
    runs(runs) {
      write(`## Runs (${runs.length})\n\n`);
      if (runs.length === 0) {
        write("No run was requested in this period.\n\n");
        return;
      }
      write(mdRow(["Run", "Created (UTC)", "Pull request", "Request", "Workflow", "Requester", "Approvers", "Policy", "Outcome", "Duration", "Break-glass", "Follow-up", "Failed steps", "Operator actions", "Last seq"]));
      write(`|${" --- |".repeat(15)}\n`);
      for (const r of runs) {
        write(
          mdRow([
            r.runId,
            r.createdAt,
            where(r.repository, r.pullRequest),
            r.requestPath,
            r.workflow,
            r.requester,
            approvers(r) || "nobody",
            r.rules,
            r.outcome,
            duration(r.durationMs),
            r.breakGlass ? "yes" : "no",
            r.followUp,
            r.failedSteps.join(", "),
            r.actions.join("; "),
            r.lastSeq,
          ]),
        );
      }
      write("\n");
    },
    refusal(f) {
      if (refusals++ === 0) {
        write(`## Refusals\n\n`);
        write(mdRow(["Seq", "At (UTC)", "Kind", "Refused", "Actor", "Where", "Reason"]));
        write(`|${" --- |".repeat(7)}\n`);
      }
      write(mdRow([f.seq, f.at, f.kind, f.refused, f.actor, where(f.repository, f.pullRequest), f.reason]));
    },
    end(e) {
      if (refusals === 0) write(`## Refusals\n\nNothing was refused in this period.\n`);
      write(`\n## Chain\n\n`);
      write(`- ${e.rows} audit rows in the period, ${e.runs} runs, ${e.refusals} refusals\n`);
      write(e.periodEnd ? `- Last row of the period: seq ${e.periodEnd.seq}, hash \`${e.periodEnd.hash}\` (${e.periodEnd.at})\n` : "- No audit row in the period\n");
      write(`- Chain head when read: seq ${e.head.seq}, hash \`${e.head.hash || "(none)"}\`\n`);
      write(`- Check with: \`clutch-luigi audit verify --anchor ${e.periodEnd ? `${e.periodEnd.seq}:${e.periodEnd.hash}` : "SEQ:HASH"}\`\n`);
    },
  };
}

const RUN_COLUMNS = ["record", "run_id", "created_at", "repository", "pull_request", "commit", "request_path", "workflow", "reason", "requester", "approvers", "policy", "outcome", "finished_at", "duration_ms", "break_glass", "follow_up", "failed_steps", "operator_actions", "last_seq", "last_hash"];

export function csvWriter(write: Write): ReportWriter {
  return {
    begin() {
      // One header for both record kinds: refusals reuse the run columns that fit.
      write(csvRow([...RUN_COLUMNS, "refusal_kind", "refused", "actor", "refusal_reason"]));
    },
    runs(runs) {
      for (const r of runs) {
        write(
          csvRow([
            "run", r.runId, r.createdAt, r.repository, r.pullRequest, r.commit, r.requestPath, r.workflow, r.reason, r.requester,
            approvers(r), r.rules, r.outcome, r.finishedAt, r.durationMs, r.breakGlass, r.followUp, r.failedSteps.join(";"),
            r.actions.join(";"), r.lastSeq, r.lastHash, null, null, null, null,
          ]),
        );
      }
    },
    refusal(f) {
      write(
        csvRow([
          "refusal", null, f.at, f.repository, f.pullRequest, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
          f.seq, f.hash, f.kind, f.refused, f.actor, f.reason,
        ]),
      );
    },
    end(e) {
      write(csvRow(["chain", null, e.periodEnd?.at ?? null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, e.periodEnd?.seq ?? null, e.periodEnd?.hash ?? null, null, null, null, null]));
    },
  };
}

/** One JSON document, written as it goes: `{ period, runs: [...], refusals: [...], chain }`. */
export function jsonWriter(write: Write): ReportWriter {
  let n = 0;
  return {
    begin(m) {
      write(`{"period":${JSON.stringify({ since: m.since, until: m.until, repository: m.repository, generatedAt: m.generatedAt })},\n"runs":[`);
    },
    runs(runs) {
      write(runs.map((r) => `\n${JSON.stringify(r)}`).join(","));
      write(`],\n"refusals":[`);
    },
    refusal(f) {
      write(`${n++ === 0 ? "" : ","}\n${JSON.stringify(f)}`);
    },
    end(e) {
      write(`],\n"chain":${JSON.stringify({ rows: e.rows, runs: e.runs, refusals: e.refusals, periodEnd: e.periodEnd, head: e.head })}}\n`);
    },
  };
}

export function reportWriter(format: ReportFormat, write: Write): ReportWriter {
  return format === "md" ? markdownWriter(write) : format === "csv" ? csvWriter(write) : jsonWriter(write);
}
