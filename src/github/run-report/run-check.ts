/**
 * The `clutch-luigi/run` check drawn from a run's snapshot: queued while it waits
 * for its lock (naming the run that holds it), in progress with a step table, and
 * completed with the conclusion a reviewer expects. Pure: the same snapshot gives
 * the same payload, so an unchanged run is never written twice.
 */
import { isFinalRunState, type RunState, type StepState } from "../../engine/states.js";
import type { RunSnapshot, StepSnapshot } from "../../store/run-reports.js";
import { clip, inert, MAX_OUTPUT_TEXT, MAX_TITLE } from "../render.js";
import { RUN_CHECK } from "../handlers/run-check.js";
import { utcText } from "../../audit/instant.js";
import { undoCauseOf } from "../../engine/undo-cause.js";
import { formatDuration } from "../../formats/duration.js";

export type RunConclusion = "success" | "failure" | "neutral" | "action_required" | "cancelled" | "timed_out";

export interface RunCheckAction {
  label: string;
  description: string;
  identifier: "retry" | "rollback" | "cancel" | "revoke" | "follow-up";
}

export interface RunCheckRender {
  name: string;
  head_sha: string;
  status: "queued" | "in_progress" | "completed";
  conclusion?: RunConclusion;
  external_id: string;
  details_url?: string;
  started_at: string;
  completed_at?: string;
  output: { title: string; summary: string; text?: string };
  actions: RunCheckAction[];
}

/** A run's timeout fails it with exactly this error (see the engine's deadline sweep). */
export const RUN_TIMEOUT_ERROR = "run timed out";

/** A time-bound run's change is in force: it succeeded and its timer has not fired. */
export function inForce(s: Pick<RunSnapshot, "state" | "expiry">): boolean {
  return s.state === "succeeded" && s.expiry !== null && s.expiry.outcome === null;
}

/** The conclusion of a finished run; undefined while it runs. */
export function conclusionOf(s: Pick<RunSnapshot, "state" | "error">): RunConclusion | undefined {
  // Undone because the clock or a person said so: the run did what it was for.
  const asked = s.state === "rolled_back" ? undoCauseOf(s.error) : null;
  if (asked) return asked.cause === "requested" ? "neutral" : "success";
  switch (s.state) {
    case "succeeded":
      return "success";
    case "rollback_failed":
      return "action_required";
    case "cancelled":
      return "cancelled";
    case "failed":
    case "rolled_back":
      return s.error === RUN_TIMEOUT_ERROR ? "timed_out" : "failure";
    default:
      return undefined;
  }
}

/** The buttons a person may press on the check in this state (who may press them is decided on click). */
const FOLLOW_UP: RunCheckAction = { label: "Record follow-up", description: "A code owner reviewed this run", identifier: "follow-up" };

export function actionsFor(s: Pick<RunSnapshot, "state" | "steps" | "expiry" | "breakGlass" | "followedUp">): RunCheckAction[] {
  const own = ownActions(s);
  // A break-glass run asks for its follow-up until a code owner records one.
  return s.breakGlass && s.followedUp === null && isFinalRunState(s.state) ? [...own, FOLLOW_UP] : own;
}

function ownActions(s: Pick<RunSnapshot, "state" | "steps" | "expiry">): RunCheckAction[] {
  if (inForce(s)) return [{ label: "Revoke now", description: "Undo it now, before it expires", identifier: "revoke" }];
  switch (s.state) {
    case "waiting":
    case "running":
      return [{ label: "Cancel run", description: "Stop it and undo completed steps", identifier: "cancel" }];
    case "failed":
    case "rolled_back":
      return [{ label: "Retry failed steps", description: "Run failed and undone steps again", identifier: "retry" }];
    case "succeeded":
      return s.steps.some((x) => x.hasRollback && x.state === "succeeded") ? [{ label: "Roll back", description: "Undo the steps in reverse order", identifier: "rollback" }] : [];
    default:
      return [];
  }
}

const STATE_LABEL: Record<StepState, string> = {
  pending: "pending",
  waiting: "waiting (timer)",
  ready: "ready",
  running: "running",
  succeeded: "succeeded",
  skipped: "skipped (already done)",
  failed: "failed",
  cancelled: "cancelled",
  rolling_back: "rolling back",
  rolled_back: "rolled back",
  rollback_failed: "rollback failed",
};

/** A table cell: no pipes or newlines from an error message, no HTML. */
/** One line of at most `max` characters, inert: for table cells and list items. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/[\r\n]+/g, " ");
  return inert(flat.length > max ? `${flat.slice(0, max - 1)}…` : flat);
}

function cell(text: string, max = 200): string {
  return oneLine(text, max).replace(/\|/g, "\\|");
}

/** A finished step's duration; a running one shows when it started, so an unchanged run renders the same. */
function durationCell(s: StepSnapshot): string {
  if (!s.startedAt) return "";
  if (!s.finishedAt) return `since ${s.startedAt.toISOString().slice(11, 19)} UTC`;
  return formatDuration(Math.max(0, Math.round(s.finishedAt.getTime() - s.startedAt.getTime())));
}

function stepRow(s: StepSnapshot): string {
  const duration = durationCell(s);
  const attempt = s.rollbackAttempt > 0 ? `${s.attempt} (+${s.rollbackAttempt} undo)` : String(s.attempt);
  const error = s.error ? cell(`${s.errorClass ? `${s.errorClass}: ` : ""}${s.error}`) : "";
  return `| \`${cell(s.id, 100)}\` | ${STATE_LABEL[s.state]} | ${attempt} | ${duration} | ${error} |`;
}

/** Rows beyond this are summarised by state; failed and running steps are always listed. */
export const MAX_TABLE_ROWS = 100;
const NOTABLE: ReadonlySet<StepState> = new Set(["running", "failed", "rolling_back", "rollback_failed", "rolled_back"]);

export function stepTable(steps: readonly StepSnapshot[]): string {
  const head = ["| Step | State | Attempt | Duration | Last error |", "| --- | --- | --- | --- | --- |"];
  if (steps.length <= MAX_TABLE_ROWS) return [...head, ...steps.map((s) => stepRow(s))].join("\n");
  const counts = new Map<string, number>();
  for (const s of steps) counts.set(STATE_LABEL[s.state], (counts.get(STATE_LABEL[s.state]) ?? 0) + 1);
  const notable = steps.filter((s) => NOTABLE.has(s.state));
  const shown = notable.slice(0, MAX_TABLE_ROWS);
  return [
    `${steps.length} steps: ${[...counts].map(([k, n]) => `${n} ${k}`).join(", ")}.`,
    "",
    ...(shown.length ? [...head, ...shown.map((s) => stepRow(s))] : []),
    ...(notable.length > shown.length ? ["", `…and ${notable.length - shown.length} more running or failed steps.`] : []),
  ].join("\n");
}

const CLASS_OF: Record<StepState, string> = {
  pending: "todo",
  ready: "todo",
  waiting: "todo",
  running: "active",
  rolling_back: "active",
  succeeded: "done",
  skipped: "done",
  failed: "bad",
  rollback_failed: "bad",
  rolled_back: "undone",
  cancelled: "todo",
};

/** Above this many steps the graph is more noise than help (and Mermaid refuses large inputs). */
export const MAX_GRAPH_STEPS = 150;

/** The DAG with each step coloured by its state. Ids are replaced by s0, s1…; labels are escaped. */
export function runMermaid(steps: readonly StepSnapshot[]): string {
  const node = new Map(steps.map((s, i) => [s.id, `s${i}`]));
  const label = (t: string): string => t.replace(/["<>&#]/g, (c) => `#${c.charCodeAt(0)};`);
  const lines = [
    "graph TD",
    "  classDef done fill:#dafbe1,stroke:#1a7f37",
    "  classDef active fill:#fff8c5,stroke:#9a6700",
    "  classDef bad fill:#ffebe9,stroke:#cf222e",
    "  classDef undone fill:#fbefff,stroke:#8250df",
    "  classDef todo fill:#f6f8fa,stroke:#8c959f",
  ];
  for (const s of steps) lines.push(`  ${node.get(s.id)}["${label(s.id)}<br/>${label(STATE_LABEL[s.state])}"]:::${CLASS_OF[s.state]}`);
  for (const s of steps) for (const d of s.needs) if (node.has(d)) lines.push(`  ${node.get(d)} --> ${node.get(s.id)}`);
  return lines.join("\n");
}

function title(s: RunSnapshot): string {
  const done = s.steps.filter((x) => x.state === "succeeded" || x.state === "skipped").length;
  const failed = s.steps.find((x) => x.state === "failed" || x.state === "rollback_failed");
  switch (s.state) {
    case "waiting":
      return `Waiting for lock ${s.lockKey ?? ""}${s.lockHolder ? `, held by run ${s.lockHolder}` : ""}`;
    case "running":
      return `Running: ${done} of ${s.steps.length} steps done`;
    case "rolling_back":
      return `Rolling back${failed ? `: ${failed.id} failed` : s.cancelRequested ? ": cancelled" : ""}`;
    case "succeeded":
      return inForce(s) ? `In force until ${utcText(s.expiry!.expiresAt)}` : `Succeeded: ${done} of ${s.steps.length} steps`;
    case "rolled_back": {
      const asked = undoCauseOf(s.error);
      if (asked?.cause === "expired") return `Expired as planned: undone at ${utcText(asked.detail)}`;
      if (asked?.cause === "revoked") return `Revoked early by ${asked.detail}: undone`;
      if (asked?.cause === "requested") return `Rolled back on request by ${asked.detail}`;
      return s.error === RUN_TIMEOUT_ERROR ? `Timed out; rolled back ${s.undone.length} steps` : `Failed${failed ? ` at ${failed.id}` : ""}; rolled back ${s.undone.length} steps`;
    }
    case "failed":
      return s.error === RUN_TIMEOUT_ERROR ? "Timed out; nothing to roll back" : `Failed${failed ? ` at ${failed.id}` : ""}; nothing to roll back`;
    case "rollback_failed":
      return `Rollback failed${failed ? ` at ${failed.id}` : ""}: action required`;
    case "cancelled":
      return `Cancelled; rolled back ${s.undone.length} steps`;
  }
}

/** What happened, in order, for the summary's second paragraph. */
export function undoneLine(s: Pick<RunSnapshot, "undone" | "steps">): string | null {
  if (s.undone.length > 0) return `Undone, in order: ${s.undone.map((id) => `\`${cell(id, 100)}\``).join(" → ")}.`;
  return null;
}

export function renderRunCheck(s: RunSnapshot, opts: { now: Date; detailsUrl?: string | null }): RunCheckRender {
  const conclusion = conclusionOf(s);
  const status = s.state === "waiting" ? "queued" : conclusion ? "completed" : "in_progress";
  const summary = [
    `Workflow \`${cell(s.workflow, 200)}\` for \`${cell(s.requestPath, 300)}\`, requested by @${cell(s.requester, 100)}.`,
    ...(s.breakGlass
      ? ["", s.followedUp ? `**Break-glass run**, followed up by @${cell(s.followedUp.by, 100)} at ${utcText(s.followedUp.at)}.` : "**Break-glass run**: it ran without the usual approvals and needs a follow-up review."]
      : []),
    ...(inForce(s) ? ["", `Time-bound: undone automatically at ${utcText(s.expiry!.expiresAt)} (at most ${utcText(s.expiry!.maxAt)} with extensions${s.expiry!.extensions ? `; extended ${s.expiry!.extensions}×` : ""}).`] : []),
    ...(s.error && s.state !== "succeeded" ? ["", `Reason: ${cell(s.error, 500)}`] : []),
    ...(undoneLine(s) ? ["", undoneLine(s)!] : []),
    ...(s.state === "rollback_failed" ? ["", "A rollback failed: the steps marked *rollback failed* need a person. Nothing further is undone automatically."] : []),
    "",
    stepTable(s.steps),
    "",
    `Run \`${s.runId}\` · audit seq ${s.lastSeq} · \`clutch-luigi audit show ${s.runId}\``,
  ].join("\n");
  return {
    name: RUN_CHECK,
    head_sha: s.commit ?? "",
    status,
    ...(conclusion ? { conclusion, completed_at: (s.finishedAt ?? opts.now).toISOString() } : {}),
    external_id: s.runId,
    ...(opts.detailsUrl ? { details_url: opts.detailsUrl } : {}),
    started_at: s.createdAt.toISOString(),
    output: {
      title: clip(title(s), MAX_TITLE),
      summary: clip(summary, MAX_OUTPUT_TEXT),
      ...(s.steps.length <= MAX_GRAPH_STEPS ? { text: clip("```mermaid\n" + runMermaid(s.steps) + "\n```", MAX_OUTPUT_TEXT) } : {}),
    },
    actions: actionsFor(s),
  };
}
