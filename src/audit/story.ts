/**
 * `audit show RUN_ID`: one run told for an auditor — what was asked, who asked and
 * who allowed it, every state change in chain order, the attempts, how it ended,
 * and the hashes that tie it to the chain. Facts come from the hashed audit rows
 * wherever they hold them; what only the (editable) runs table holds is labelled,
 * and the two are cross-checked. Parameter values are never shown, only names.
 */
import type { AuditRow } from "../store/audit.js";
import type { RunRecord } from "../store/audit-query.js";
import { evidenceGitChecks, type GitCheck } from "./evidence-commands.js";
import { auditRowProblem } from "./row-check.js";
import { summarizeAuditRow } from "./summary.js";
import { displayTime } from "./table.js";

export const FINAL_RUN_EVENTS = ["run.succeeded", "run.failed", "run.rolled_back", "run.rollback_failed", "run.cancelled"];

/** A person made a finished run active again (retry, roll back): the final row before it no longer stands. */
export const REOPEN_RUN_EVENTS = ["run.retried", "run.rollback_requested"];

/** The row that finished the run, unless it was reopened since. */
export function finalRunEvent<E extends { kind: string }>(events: readonly E[]): E | undefined {
  const last = [...events].reverse().find((e) => FINAL_RUN_EVENTS.includes(e.kind) || REOPEN_RUN_EVENTS.includes(e.kind));
  return last && FINAL_RUN_EVENTS.includes(last.kind) ? last : undefined;
}

export interface RunStory {
  lines: string[];
  /** Disagreements an auditor must look at; the command exits 1 when there are any. */
  problems: string[];
}

interface Approver {
  login: string;
  reviewId?: number;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : null;
}

function clip(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ");
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => "  " + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join("  ").trimEnd();
  return [fmt(head), ...rows.map(fmt)];
}

/** Fields both the hashed run.created row and the runs row hold, which must agree. */
function crossCheck(created: AuditRow, record: RunRecord): string[] {
  const run = record.run;
  if (!run) return [];
  const d = created.data;
  const id = run.identity;
  const out: string[] = [];
  const same = (what: string, hashed: unknown, stored: unknown): void => {
    if (JSON.stringify(hashed ?? null) !== JSON.stringify(stored ?? null)) {
      out.push(`${what}: the hashed run.created row says ${JSON.stringify(hashed ?? null)}, the runs table says ${JSON.stringify(stored ?? null)}`);
    }
  };
  same("workflow", d.workflow, run.workflow);
  same("request path", d.requestPath, run.requestPath);
  same("repository", d.repository, id.repository);
  same("pull request", d.pullRequest, id.pullRequest);
  same("commit", d.commit, id.commit);
  same("requester", d.requester, (id.requester as { login?: string } | undefined)?.login);
  same("approvers", d.approvers, ((id.approvers as Approver[] | undefined) ?? []).map((a) => a.login));
  same("break-glass", d.breakGlass ?? false, id.breakGlass ?? false);
  return out;
}

export function renderRunStory(runId: string, record: RunRecord): RunStory {
  const lines: string[] = [];
  const problems: string[] = [];
  const { run, events } = record;
  const created = events.find((e) => e.kind === "run.created");
  const c = created?.data ?? {};
  const identity = run?.identity ?? {};
  const section = (title: string): void => {
    if (lines.length > 0) lines.push("");
    lines.push(title);
  };
  const field = (label: string, value: string): void => {
    lines.push(`  ${label.padEnd(13)} ${value}`);
  };

  lines.push(`Run ${runId}`);
  if (!created) problems.push("no run.created row in the audit trail for this run");
  if (!run) problems.push("the runs row is gone; everything below comes from the audit rows");

  section("Request");
  field("workflow", str(c.workflow) ?? run?.workflow ?? "?");
  field("file", str(c.requestPath) ?? run?.requestPath ?? "?");
  const reason = run?.spec.request?.reason;
  field("reason", typeof reason === "string" ? `${clip(reason, 200)}  (runs table)` : "(not recorded)");
  const params = Object.keys(run?.spec.request?.params ?? {}).sort();
  field("params", run ? `${params.length > 0 ? params.join(", ") : "(none)"}  (names only; values are in the request file at the commit)` : "(not recorded)");

  section("Identity");
  field("repository", str(c.repository) ?? str(identity.repository) ?? "?");
  const pr = str(c.pullRequest) ?? str(identity.pullRequest);
  field("pull request", pr ? `#${pr}` : "none (not started from a pull request)");
  field("commit", str(c.commit) ?? str(identity.commit) ?? "(not recorded)");
  const requester = identity.requester as { login?: string; type?: string } | undefined;
  const requesterLogin = str(c.requester) ?? requester?.login ?? "?";
  field("requested by", requester?.type && requester.login === requesterLogin ? `${requesterLogin} (${requester.type})` : requesterLogin);
  const stored = (identity.approvers as Approver[] | undefined) ?? [];
  const hashedApprovers = Array.isArray(c.approvers) ? c.approvers.map(String) : stored.map((a) => a.login);
  const approvers = hashedApprovers.map((login) => {
    const review = stored.find((a) => a.login === login)?.reviewId;
    return review !== undefined ? `${login} (review ${review})` : login;
  });
  field("approved by", approvers.length > 0 ? approvers.join(", ") : "nobody");
  const breakGlass = c.breakGlass === true || identity.breakGlass === true;
  field("break-glass", breakGlass ? "YES — ran without the usual approvals" : "no");

  const evidence = typeof c.evidence === "object" && c.evidence !== null ? (c.evidence as Record<string, unknown>) : null;
  if (evidence) {
    // From the hashed row only: the blobs and reviews an auditor checks against git and GitHub.
    section("Evidence (hashed run.created row; `--json` adds the git commands that check it)");
    const blob = (v: unknown): string => {
      const b = v as { path?: unknown; sha?: unknown } | null;
      return b && typeof b.path === "string" && typeof b.sha === "string" ? `${b.path} blob ${b.sha}` : "(none)";
    };
    const req = evidence.request as { path?: unknown; blobSha?: unknown; sha256?: unknown } | undefined;
    field("request", req ? `${String(req.path)} blob ${String(req.blobSha)} sha256 ${String(req.sha256)}` : "(not recorded)");
    field("head", str(evidence.headSha) ?? "?");
    const auth = (evidence.authority ?? {}) as { baseSha?: unknown; workflow?: unknown; policy?: unknown; codeowners?: unknown };
    field("approved at", str(auth.baseSha) ?? "?");
    for (const w of Array.isArray(auth.workflow) ? auth.workflow : []) field("workflow", blob(w));
    field("policy", blob(auth.policy));
    field("CODEOWNERS", blob(auth.codeowners));
    for (const a of Array.isArray(evidence.approvals) ? (evidence.approvals as Record<string, unknown>[]) : []) {
      const rules = Array.isArray(a.rules) ? (a.rules as { rule?: unknown; via?: unknown }[]).map((r) => `${String(r.rule)}${typeof r.via === "string" ? ` via ${r.via}` : ""}`) : [];
      field("approval", `${String(a.login)} (id ${String(a.userId)}) review ${String(a.reviewId)} on ${String(a.commit)} at ${String(a.submittedAt)}${rules.length ? `: ${rules.join(", ")}` : ""}`);
    }
  }

  section("Timeline (audit rows, chain order)");
  lines.push(
    ...table(
      ["SEQ", "TIME (UTC)", "ACTOR", "EVENT", "STEP", "DETAIL"],
      events.map((e) => [String(e.seq), displayTime(e.at), e.actor, e.kind, e.step_id ?? "", summarizeAuditRow(e, 90)]),
    ),
  );

  section("Attempts (attempts table)");
  if (record.attempts.length === 0) lines.push("  (none)");
  else {
    lines.push(
      ...table(
        ["STEP", "PHASE", "TRY", "OUTCOME", "ERROR CLASS", "STARTED", "FINISHED", "WORKER", "ERROR"],
        record.attempts.map((a) => [
          a.stepId, a.phase, String(a.attempt), a.outcome, a.errorClass ?? "", displayTime(a.startedAt),
          a.finishedAt ? displayTime(a.finishedAt) : "", a.worker, a.error ? clip(a.error, 80) : "",
        ]),
      ),
    );
  }

  section("Final state");
  const final = finalRunEvent(events);
  if (final) {
    const error = str(final.data.error);
    field("run", `${final.kind.slice(4)}${error ? ` — ${clip(error, 160)}` : ""}  (seq ${final.seq}, ${displayTime(final.at)})`);
    if (run && run.state !== final.kind.slice(4)) problems.push(`the runs table says ${run.state}, the audit trail says ${final.kind.slice(4)}`);
  } else {
    field("run", `not finished${run ? ` (runs table: ${run.state})` : ""}`);
    if (run && FINAL_RUN_EVENTS.includes(`run.${run.state}`)) problems.push(`the runs table says ${run.state} but no audit row records it`);
  }
  for (const s of record.steps) field(`  ${s.stepId}`, `${s.state}${s.attempt > 1 ? ` after ${s.attempt} attempts` : ""}${s.errorClass ? ` (${s.errorClass})` : ""}`);

  section("Anchors");
  const first = events[0];
  const last = events[events.length - 1];
  if (first && last) {
    field("first row", `seq ${first.seq}  hash ${first.hash}`);
    field("last row", `seq ${last.seq}  hash ${last.hash}`);
  }
  field("chain head", `seq ${record.head.seq}  hash ${record.head.hash}`);
  const broken = events.map((e) => ({ e, why: auditRowProblem(e) })).filter((x) => x.why !== null);
  for (const { e, why } of broken) problems.push(`row seq ${e.seq}: ${why}`);
  field("rows", `${events.length} rows of this run; ${broken.length === 0 ? "each hash matches its body" : `${broken.length} do NOT match`}`);
  if (created) {
    const disagreements = crossCheck(created, record);
    problems.push(...disagreements);
    if (run) field("cross-check", disagreements.length === 0 ? "the runs row agrees with the hashed run.created row" : "the runs row DISAGREES with the hashed run.created row");
  }
  lines.push("  The links between rows are checked by `clutch-luigi audit verify` over the whole chain.");

  if (problems.length > 0) {
    section("PROBLEMS");
    for (const p of problems) lines.push(`  ${p}`);
  }
  return { lines, problems };
}

/** `audit show --json`: the whole run as one document, evidence and git checks included. */
export interface RunDocument {
  runId: string;
  /** The hashed run.created row's facts (the evidence sits under `evidence`), or null when that row is missing. */
  created: { seq: number; hash: string; at: string; actor: string; data: Record<string, unknown> } | null;
  evidence: Record<string, unknown> | null;
  events: { seq: number; at: string; kind: string; actor: string; step: string | null; data: Record<string, unknown>; hash: string }[];
  steps: RunRecord["steps"];
  attempts: RunRecord["attempts"];
  outcome: { state: string; event: string | null; seq: number | null; at: string | null; error: string | null };
  /** Commands to run in a clone of the repository; each one's first output word must equal `expect`. */
  git: GitCheck[];
  chainHead: RunRecord["head"];
  problems: string[];
}

export function runDocument(runId: string, record: RunRecord): RunDocument {
  const { problems } = renderRunStory(runId, record);
  const created = record.events.find((e) => e.kind === "run.created");
  const evidence = created && typeof created.data.evidence === "object" && created.data.evidence !== null ? (created.data.evidence as Record<string, unknown>) : null;
  const final = finalRunEvent(record.events);
  return {
    runId,
    created: created ? { seq: created.seq, hash: created.hash, at: created.at, actor: created.actor, data: created.data } : null,
    evidence,
    events: record.events.map((e) => ({ seq: e.seq, at: e.at, kind: e.kind, actor: e.actor, step: e.step_id ?? null, data: e.data, hash: e.hash })),
    steps: record.steps,
    attempts: record.attempts,
    outcome: {
      state: final ? final.kind.slice(4) : (record.run?.state ?? "unknown"),
      event: final?.kind ?? null,
      seq: final?.seq ?? null,
      at: final?.at ?? null,
      error: final ? str(final.data.error) : (record.run?.error ?? null),
    },
    git: evidenceGitChecks(evidence),
    chainHead: record.head,
    problems,
  };
}
