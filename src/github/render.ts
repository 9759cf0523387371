/**
 * Check-run payloads for `clutch-luigi/plan` and `clutch-luigi/policy`, in
 * the shape of POST /repos/{owner}/{repo}/check-runs. Only what the
 * evaluation holds is printed: request params and the verdict, never server
 * configuration. GitHub's limits are applied here: title 255 characters,
 * summary and text 65535, and 50 annotations per call (the rest go in
 * follow-up PATCH calls).
 */
import { renderPlanMermaid, renderPlanText, type Plan, type Problem } from "../formats/index.js";
import type { Evaluation } from "./evaluate.js";

export const PLAN_CHECK = "clutch-luigi/plan";
export const POLICY_CHECK = "clutch-luigi/policy";

export const MAX_TITLE = 255;
export const MAX_OUTPUT_TEXT = 65535;
export const MAX_ANNOTATIONS_PER_CALL = 50;
/** Per check run, so that a hostile PR costs at most two calls; the summary still says how many problems there are. */
export const MAX_ANNOTATIONS_PER_RUN = 100;

export type CheckConclusion = "success" | "failure" | "action_required" | "neutral";

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: "notice" | "warning" | "failure";
  title?: string;
  message: string;
}

export interface CheckOutput {
  title: string;
  summary: string;
  text?: string;
  annotations?: CheckAnnotation[];
}

export interface CheckRunPayload {
  name: string;
  head_sha: string;
  /** Where "Details" leads (the pull request); GitHub asks for one with action_required. */
  details_url?: string;
  status: "completed";
  conclusion: CheckConclusion;
  external_id?: string;
  output: CheckOutput;
}

/** Cuts text to `max` characters (UTF-16 units, as GitHub counts), saying so at the end. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = "\n\n… (cut: GitHub limits this field)";
  if (max <= note.length) return text.slice(0, max);
  let cut = max - note.length;
  // Never split a surrogate pair.
  if (/[\uD800-\uDBFF]/.test(text[cut - 1] ?? "")) cut--;
  return text.slice(0, cut) + note;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/(?<!\s)\s*\n\s*/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** A fence longer than any run of backticks in the content, so the content cannot close it. */
export function fenced(content: string, info = ""): string {
  const longest = Math.max(0, ...[...content.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${info}\n${content.endsWith("\n") ? content : `${content}\n`}${fence}`;
}

/** User-controlled text (reasons, paths, messages) cannot inject HTML into the rendered Markdown. */
export function inert(text: string): string {
  return text.replace(/[<>&]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&amp;"));
}

export function annotationOf(p: Problem, level: CheckAnnotation["annotation_level"] = "failure"): CheckAnnotation {
  const line = Math.max(1, p.line);
  return {
    path: p.file,
    start_line: line,
    end_line: line,
    ...(p.col > 0 ? { start_column: p.col, end_column: p.col } : {}),
    annotation_level: level,
    title: oneLine(`${p.file}:${line}:${Math.max(1, p.col)}`, 255),
    message: clip(p.message, 64 * 1024 - 1),
  };
}

export interface RenderOptions {
  /** Link for the check's "Details", e.g. the pull request's html_url. */
  detailsUrl?: string;
}

function payload(name: string, e: Evaluation, conclusion: CheckConclusion, title: string, summary: string, text: string | undefined, annotations: CheckAnnotation[], opts: RenderOptions): CheckRunPayload {
  return {
    name,
    head_sha: e.headSha,
    ...(opts.detailsUrl ? { details_url: opts.detailsUrl } : {}),
    status: "completed",
    conclusion,
    external_id: `${e.repository}@${e.headSha}`,
    output: {
      title: oneLine(title, MAX_TITLE),
      summary: clip(summary, MAX_OUTPUT_TEXT),
      ...(text !== undefined ? { text: clip(text, MAX_OUTPUT_TEXT) } : {}),
      ...(annotations.length > 0 ? { annotations: annotations.slice(0, MAX_ANNOTATIONS_PER_RUN) } : {}),
    },
  };
}

/**
 * `clutch-luigi/plan`: the resolved plan as text and Mermaid, or every problem
 * of the request as `file:line:col: message` plus annotations. A PR without a
 * request is neutral: there is nothing to run.
 */
/** Above this many steps the plan check lists stages and counts instead of drawing the graph. */
export const MAX_PLAN_GRAPH_STEPS = 150;

/** A large plan in a few lines: each stage with its size and first steps. */
function stageSummary(plan: Plan): string {
  const lines = plan.stages.slice(0, 50).map((ids, i) => `- stage ${i + 1}: ${ids.length} step${ids.length === 1 ? "" : "s"} (${ids.slice(0, 5).map((id) => `\`${id}\``).join(", ")}${ids.length > 5 ? ", …" : ""})`);
  if (plan.stages.length > 50) lines.push(`- … and ${plan.stages.length - 50} more stages`);
  return [`The graph has ${plan.steps.length} steps, too many to draw; by stage:`, "", ...lines].join("\n");
}

export function renderPlanCheck(e: Evaluation, opts: RenderOptions = {}): CheckRunPayload {
  if (e.fork !== null) {
    const summary = [
      `This pull request comes from \`${inert(e.fork)}\`. Requests must come from a branch of the repository: a fork's branch is outside the repository's branch protections, so nothing it proposes is approved or run.`,
      "",
      "Push the branch to this repository and open the pull request from there.",
    ].join("\n");
    return payload(PLAN_CHECK, e, "failure", "Requests must come from a branch of the repository", summary, undefined, [], opts);
  }
  const fileAnnotations = e.fileProblems.map((p) => annotationOf(p));
  const r = e.request;
  if (!r) {
    if (e.fileProblems.length > 0) {
      const lines = e.fileProblems.map((p) => `- \`${p.file}\`: ${inert(p.message)}`);
      return payload(PLAN_CHECK, e, "failure", "The request files of this pull request break the rules", lines.join("\n"), undefined, fileAnnotations, opts);
    }
    return payload(PLAN_CHECK, e, "neutral", "No request in this pull request", "This pull request adds no file under `requests/`, so it runs nothing when merged.", undefined, [], opts);
  }
  if (!r.plan) {
    const n = r.problems.length;
    const listing = r.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join("\n");
    const summary = [
      `\`${r.path}\` cannot run: ${n} problem${n === 1 ? "" : "s"} against the workflows on the base branch (${e.baseSha.slice(0, 7)}).`,
      "",
      fenced(listing || "(no details)"),
    ].join("\n");
    const annotations = [...r.problems.map((p) => annotationOf(p)), ...fileAnnotations];
    return payload(PLAN_CHECK, e, "failure", `${r.path}: ${n} problem${n === 1 ? "" : "s"}`, summary, undefined, annotations, opts);
  }
  const plan = r.plan;
  const steps = plan.steps.length;
  const summary = [
    `\`${r.path}\` runs workflow **${inert(plan.workflow)}** (${steps} step${steps === 1 ? "" : "s"} in ${plan.stages.length} stage${plan.stages.length === 1 ? "" : "s"}) when this pull request merges with the approvals the \`${POLICY_CHECK}\` check asks for.`,
    "",
    `Workflow definition read from the base branch at ${e.baseSha.slice(0, 7)}; step outputs are filled in at run time.`,
    "",
    steps <= MAX_PLAN_GRAPH_STEPS ? fenced(renderPlanMermaid(plan), "mermaid") : stageSummary(plan),
  ].join("\n");
  const conclusion: CheckConclusion = e.fileProblems.length > 0 ? "failure" : "success";
  return payload(PLAN_CHECK, e, conclusion, `Plan: ${plan.workflow} — ${plan.reason}`, summary, fenced(renderPlanText(plan), "text"), fileAnnotations, opts);
}

/**
 * `clutch-luigi/policy`: success only when approved. Missing approvals ask for
 * action; anything blocking fails. Break-glass is shouted in the title and at
 * the top of the summary.
 */
export function renderPolicyCheck(e: Evaluation, opts: RenderOptions = {}): CheckRunPayload {
  const v = e.verdict;
  const conclusion: CheckConclusion = v.approved ? "success" : v.blocking.length > 0 ? "failure" : "action_required";
  const out: string[] = [];
  if (v.breakGlass.active || v.breakGlass.label) {
    out.push(
      `> [!CAUTION]\n> **BREAK-GLASS** — the \`${inert(v.breakGlass.label ?? "")}\` label is set. Reason: ${v.breakGlass.reason ? inert(v.breakGlass.reason) : "**none given**"}.\n> This is recorded in the audit trail and needs a follow-up review.`,
      "",
    );
  }
  out.push(`**${v.approved ? "Approved" : "Not approved"}** at ${e.headSha.slice(0, 7)}; policy, CODEOWNERS and workflows read from the base branch at ${e.baseSha.slice(0, 7)}.`, "");
  if (v.blocking.length > 0) {
    out.push("### Blocking", ...v.blocking.map((b) => `- **${b.code}**: ${inert(b.message)}`), "");
  }
  if (v.missing.length > 0) {
    out.push("### Missing approvals");
    for (const m of v.missing) {
      const req = v.requirements.find((r) => r.rule === m.rule);
      const who = m.anyOf.length === 0 ? "any reviewer other than the author" : m.anyOf.join(" or ");
      const why = req ? ` — ${inert(req.because)}` : "";
      out.push(`- ${m.count} more from ${inert(who)} (\`${m.rule}\`)${why}`);
    }
    out.push("");
  }
  if (v.approvedBy.length > 0) out.push(`Approvals that count: ${v.approvedBy.map(inert).join(", ")}.`, "");
  const title = `${v.breakGlass.active ? "BREAK-GLASS: " : ""}${v.summary}`;
  return payload(POLICY_CHECK, e, conclusion, title, out.join("\n").trimEnd(), fenced(v.explanation, "text"), [], opts);
}

/**
 * Splits a payload whose annotations exceed GitHub's 50 per call: the first
 * payload creates the check run, each update (PATCH, same output title and
 * summary) adds the next 50. GitHub appends annotations across updates.
 */
export function splitAnnotations(p: CheckRunPayload): { create: CheckRunPayload; updates: { output: CheckOutput }[] } {
  const all = p.output.annotations ?? [];
  if (all.length <= MAX_ANNOTATIONS_PER_CALL) return { create: p, updates: [] };
  const chunks: CheckAnnotation[][] = [];
  for (let i = 0; i < all.length; i += MAX_ANNOTATIONS_PER_CALL) chunks.push(all.slice(i, i + MAX_ANNOTATIONS_PER_CALL));
  const { annotations: _all, ...rest } = p.output;
  return {
    create: { ...p, output: { ...rest, annotations: chunks[0]! } },
    updates: chunks.slice(1).map((annotations) => ({ output: { title: rest.title, summary: rest.summary, annotations } })),
  };
}
