/**
 * The evidence of a period, from the hashed trail alone: every run whose request was
 * created in [since, until) with who asked, who approved and under which policy, how
 * it ended, break-glass and follow-up state; every refusal and who was refused.
 * Rows after `until` are not read, so a report of a closed period reads the same
 * whenever it is run. Built from rows fed in chain order; memory grows with the
 * runs of the period, never with its rows.
 */
import { isFinalRunState, RUN_STATES, type RunState } from "../engine/states.js";
import type { AuditRow } from "../store/audit.js";

export interface ReportRun {
  runId: string;
  createdSeq: number;
  createdAt: string;
  repository: string | null;
  pullRequest: number | null;
  commit: string | null;
  requestPath: string | null;
  workflow: string | null;
  reason: string | null;
  requester: string | null;
  approvers: { login: string; reviewId: number | null }[];
  /** The policy verdict that let the request through: its summary and the rules it satisfied. */
  rules: string | null;
  breakGlass: boolean;
  /** `not required`, `open`, `due`, or `recorded by LOGIN at T`. */
  followUp: string;
  /** The final run state, or `running` when the period ended before the run did. */
  outcome: string;
  finishedAt: string | null;
  durationMs: number | null;
  failedSteps: string[];
  /** Operator actions on the run (retry, rollback, cancel, revoke…): `kind by actor`. */
  actions: string[];
  lastSeq: number;
  lastHash: string;
}

export interface ReportRefusal {
  seq: number;
  at: string;
  kind: string;
  /** Whom the refusal was about: the requester, the clicking user, or the caller. */
  refused: string;
  actor: string;
  repository: string | null;
  pullRequest: number | null;
  reason: string;
  hash: string;
}

export interface ReportFilter {
  repository?: string;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Refusals: refused runs, rejected callers, denied operator actions. */
export function isRefusal(kind: string): boolean {
  return /\.(refused|rejected|denied)$/.test(kind);
}

function reasonOf(d: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const k of ["reasons", "blocking"]) {
    const v = d[k];
    if (Array.isArray(v) && v.length > 0) parts.push(v.map(String).join("; "));
  }
  for (const k of ["reason", "message", "path"]) {
    const v = str(d[k]);
    if (v) parts.push(v);
  }
  return parts.join(" — ");
}

export function refusalOf(row: AuditRow): ReportRefusal {
  const d = row.data ?? {};
  return {
    seq: row.seq,
    at: row.at,
    kind: row.kind,
    refused: str(d.requester) ?? str(d.login) ?? str(d.user) ?? row.actor,
    actor: row.actor,
    repository: str(d.repository),
    pullRequest: num(d.pullRequest),
    reason: reasonOf(d),
    hash: row.hash,
  };
}

function rulesOf(evaluation: Record<string, unknown> | undefined, created: Record<string, unknown>): string | null {
  const own = created.rules;
  if (Array.isArray(own) && own.length > 0) return own.map(String).join("; ");
  if (!evaluation) return null;
  const summary = str(evaluation.summary);
  const by = Array.isArray(evaluation.approvedBy) ? evaluation.approvedBy.map(String) : [];
  return [summary, by.length > 0 ? `approved by ${by.join(", ")}` : null].filter(Boolean).join("; ") || null;
}

/** Folds rows (chain order) into the period's runs. */
export class PeriodReport {
  private readonly runs = new Map<string, ReportRun>();
  /** The newest policy evaluation per `repository#pr`, for the runs created after it. */
  private readonly evaluations = new Map<string, Record<string, unknown>>();
  lastRow: { seq: number; hash: string; at: string } | null = null;
  rows = 0;

  constructor(private readonly filter: ReportFilter = {}) {}

  add(row: AuditRow): void {
    this.rows++;
    this.lastRow = { seq: row.seq, hash: row.hash, at: row.at };
    const d = row.data ?? {};
    if (row.kind === "request.evaluated") {
      const key = `${str(d.repository) ?? ""}#${num(d.pullRequest) ?? ""}`;
      this.evaluations.set(key, d);
      return;
    }
    if (row.kind === "run.created" && row.run_id) {
      const repository = str(d.repository);
      if (this.filter.repository && repository?.toLowerCase() !== this.filter.repository.toLowerCase()) return;
      const approvals = Array.isArray(d.approvals) ? (d.approvals as Record<string, unknown>[]) : [];
      const approvers = approvals.length
        ? approvals.map((a) => ({ login: String(a.login), reviewId: num(a.reviewId) }))
        : (Array.isArray(d.approvers) ? d.approvers : []).map((l) => ({ login: String(l), reviewId: null }));
      const breakGlass = d.breakGlass === true;
      const pullRequest = num(d.pullRequest);
      this.runs.set(row.run_id, {
        runId: row.run_id,
        createdSeq: row.seq,
        createdAt: row.at,
        repository,
        pullRequest,
        commit: str(d.commit),
        requestPath: str(d.requestPath),
        workflow: str(d.workflow),
        reason: str(d.reason),
        requester: str(d.requester),
        approvers,
        rules: rulesOf(this.evaluations.get(`${repository ?? ""}#${pullRequest ?? ""}`), d),
        breakGlass,
        followUp: breakGlass ? "open" : "not required",
        outcome: "running",
        finishedAt: null,
        durationMs: null,
        failedSteps: [],
        actions: [],
        lastSeq: row.seq,
        lastHash: row.hash,
      });
      return;
    }
    const run = row.run_id ? this.runs.get(row.run_id) : undefined;
    if (!run) return;
    run.lastSeq = row.seq;
    run.lastHash = row.hash;
    const state = row.kind.startsWith("run.") ? row.kind.slice(4) : "";
    if (row.kind === "run.retried" || row.kind === "run.rollback_requested" || row.kind === "run.revoked" || row.kind === "run.expired") {
      // Active again: the outcome is whatever the run ends with next.
      run.outcome = "running";
      run.finishedAt = null;
      run.durationMs = null;
    }
    if ((RUN_STATES as readonly string[]).includes(state) && isFinalRunState(state as RunState)) {
      run.outcome = state;
      run.finishedAt = row.at;
      run.durationMs = Date.parse(row.at) - Date.parse(run.createdAt);
    } else if (row.kind === "run.followed_up") {
      run.followUp = `recorded by ${row.actor} at ${row.at}`;
    } else if (row.kind === "step.failed" && row.step_id && !run.failedSteps.includes(row.step_id)) {
      run.failedSteps.push(row.step_id);
    } else if (/^(run|action)\.(cancel_requested|retr(y|ied)|rollback|revoked|extended|cancel)/.test(row.kind) && !row.actor.startsWith("worker:")) {
      run.actions.push(`${row.kind} by ${row.actor}`);
    }
  }

  /** The runs, in the order their requests were created. */
  result(): ReportRun[] {
    return [...this.runs.values()].sort((a, b) => a.createdSeq - b.createdSeq);
  }
}
