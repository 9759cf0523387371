/**
 * The plan: what a request will do, resolved as far as it can be before running.
 * Params and request fields are substituted; step outputs are only known at run
 * time and stay as their expressions. Rendered as text (CLI), Mermaid (check runs,
 * PR comments, which GitHub draws), or JSON.
 */
import { ancestors, stages } from "./dag.js";
import { parseTemplate, resolveRef, type ExpressionRef } from "./expressions.js";
import { formatDuration } from "./duration.js";
import { ExpiryError, expiryTerms } from "./expiry.js";
import type { RequestSpec, StepSpec, WorkflowSpec } from "./types.js";

export interface PlannedStep {
  id: string;
  uses: string;
  needs: string[];
  stage: number;
  with: Record<string, unknown>;
  timeout?: string;
  after?: string;
  retry?: StepSpec["retry"];
  rollback?: { uses: string; with: Record<string, unknown> };
  /** Run first: the step is skipped when this action reports done. */
  check?: { uses: string; with: Record<string, unknown> };
}

export interface Plan {
  requestPath: string;
  workflow: string;
  description?: string;
  reason: string;
  params: Record<string, unknown>;
  lock?: string;
  timeout?: string;
  /** Time-bound: the duration this request keeps the change, and the workflow's maximum. */
  expires?: { after: string; max: string; afterMs: number; maxMs: number };
  /** The active run this request extends instead of starting a new one. */
  extends?: string;
  approval?: WorkflowSpec["approval"];
  stages: string[][];
  steps: PlannedStep[];
}

/** The referenced value, or undefined when the reference does not resolve (yet). */
function lookupStatic(ref: ExpressionRef, scope: Record<string, unknown>): unknown {
  const r = resolveRef(ref, scope);
  return r.found ? r.value : undefined;
}

/** Substitute params/request references; leave step outputs as written. */
export function resolveStatic(value: unknown, scope: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    if (!value.includes("${{")) return value;
    const parts = parseTemplate(value);
    const known = (p: ExpressionRef): boolean => p.root !== "steps" && lookupStatic(p, scope) !== undefined;
    if (parts.length === 1 && typeof parts[0] !== "string" && known(parts[0]!)) return lookupStatic(parts[0]!, scope);
    return parts
      .map((p) => {
        if (typeof p === "string") return p;
        if (!known(p)) return `\${{ ${p.source} }}`;
        const v = lookupStatic(p, scope);
        return typeof v === "string" ? v : JSON.stringify(v);
      })
      .join("");
  }
  if (Array.isArray(value)) return value.map((v) => resolveStatic(v, scope));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveStatic(v, scope)]));
  }
  return value;
}

export function buildPlan(
  requestPath: string,
  request: RequestSpec,
  workflow: WorkflowSpec,
  requestFields: Record<string, unknown> = {},
): Plan {
  const params = request.params ?? {};
  const scope = {
    params,
    request: { path: requestPath, reason: request.reason, workflow: workflow.name, ...requestFields },
  };
  const grouped = stages(workflow.steps);
  const stageOf = new Map<string, number>();
  grouped.forEach((g, i) => g.forEach((s) => stageOf.set(s.id, i + 1)));
  const lock = workflow.lock === undefined ? undefined : resolveStatic(workflow.lock, scope);
  let expires: Plan["expires"];
  if (workflow.expires) {
    // A request the check refused still gets a plan; it then shows the workflow's default.
    let terms: ReturnType<typeof expiryTerms> = null;
    try {
      terms = expiryTerms(workflow, params);
    } catch (e) {
      if (!(e instanceof ExpiryError)) throw e;
    }
    expires = terms
      ? { after: formatDuration(terms.durationMs), max: workflow.expires.max, afterMs: terms.durationMs, maxMs: terms.maxMs }
      : { after: workflow.expires.after, max: workflow.expires.max, afterMs: NaN, maxMs: NaN };
  }
  return {
    requestPath,
    workflow: workflow.name,
    ...(workflow.description ? { description: workflow.description } : {}),
    reason: request.reason,
    params,
    ...(lock !== undefined ? { lock: String(lock) } : {}),
    ...(workflow.timeout ? { timeout: workflow.timeout } : {}),
    ...(expires ? { expires } : {}),
    ...(request.extends ? { extends: request.extends } : {}),
    ...(workflow.approval ? { approval: workflow.approval } : {}),
    stages: grouped.map((g) => g.map((s) => s.id)),
    steps: workflow.steps.map((s) => ({
      id: s.id,
      uses: s.uses,
      needs: s.needs ?? [],
      stage: stageOf.get(s.id) ?? 1,
      with: resolveStatic(s.with ?? {}, scope) as Record<string, unknown>,
      ...(s.timeout ? { timeout: s.timeout } : {}),
      ...(s.after ? { after: s.after } : {}),
      ...(s.retry ? { retry: s.retry } : {}),
      ...(s.rollback
        ? { rollback: { uses: s.rollback.uses, with: resolveStatic(s.rollback.with ?? {}, scope) as Record<string, unknown> } }
        : {}),
      ...(s.check ? { check: { uses: s.check.uses, with: resolveStatic(s.check.with ?? {}, scope) as Record<string, unknown> } } : {}),
    })),
  };
}

function stepTraits(s: PlannedStep): string {
  const traits: string[] = [];
  if (s.after) traits.push(`after ${s.after}`);
  if (s.timeout) traits.push(`timeout ${s.timeout}`);
  if (s.retry) traits.push(`retry ${s.retry.attempts}× on ${s.retry.on.join(",")}`);
  if (s.rollback) traits.push(`rollback ${s.rollback.uses}`);
  if (s.check) traits.push(`skipped if ${s.check.uses} reports done`);
  return traits.length ? `  [${traits.join(" · ")}]` : "";
}

/**
 * Values come from a request anyone may open: a newline would forge plan lines, and a
 * terminal control sequence would act on the reviewer's terminal. Show them escaped.
 */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
    c === "\n" ? "\\n" : c === "\t" ? "\\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function compact(value: unknown, max = 100): string {
  const text = oneLine(JSON.stringify(value));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Human-readable plan: header, parallel stages, and the DAG as an indented tree. */
export function renderPlanText(plan: Plan): string {
  const out: string[] = [];
  const kv = (k: string, v: string): void => void out.push(`  ${k.padEnd(9)} ${oneLine(v)}`);
  out.push(`Plan for ${oneLine(plan.requestPath)}`);
  kv("workflow", plan.description ? `${plan.workflow} — ${plan.description}` : plan.workflow);
  kv("reason", plan.reason);
  const params = Object.entries(plan.params).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  kv("params", params.join(", ") || "(none)");
  if (plan.lock) kv("lock", plan.lock);
  if (plan.timeout) kv("timeout", plan.timeout);
  if (plan.expires) kv("expires", `${plan.expires.after} after the run succeeds: its steps are undone then (at most ${plan.expires.max})`);
  if (plan.extends) kv("extends", `run ${plan.extends}: moves its expiry instead of running again`);
  if (plan.approval) {
    const n = plan.approval.minApprovals ?? 1;
    const from = plan.approval.from?.length ? ` from ${plan.approval.from.join(", ")}` : "";
    kv("approval", `${n} approval${n === 1 ? "" : "s"}${from}, on top of CODEOWNERS`);
  }
  out.push("", "Stages (steps in one stage run in parallel):");
  plan.stages.forEach((ids, i) => out.push(`  ${i + 1}. ${ids.join(", ")}`));

  out.push("", "Steps:");
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  // Each step hangs under its latest-stage dependency; its other dependencies are named.
  const parentOf = new Map<string, string>();
  for (const s of plan.steps) {
    const deps = s.needs.map((d) => byId.get(d)).filter((d): d is PlannedStep => !!d);
    if (deps.length) parentOf.set(s.id, deps.reduce((a, b) => (b.stage > a.stage ? b : a)).id);
  }
  const children = (id: string | undefined): PlannedStep[] => plan.steps.filter((s) => parentOf.get(s.id) === id);
  // Under its other dependencies a step appears as a one-line reference, so no branch
  // looks like a leaf when something waits on it. A need the tree already implies (the
  // step's parent itself depends on it) gets no reference: it would only be noise.
  const above = ancestors(plan.steps);
  const referrers = (id: string): PlannedStep[] =>
    plan.steps.filter((s) => {
      const parent = parentOf.get(s.id);
      return s.needs.includes(id) && parent !== id && !above.get(parent!)?.has(id);
    });
  // Past this depth a long chain stops indenting: its lines would otherwise grow with the chain (quadratic text).
  const MAX_INDENT = 16;
  const draw = (s: PlannedStep, prefix: string, last: boolean, root: boolean, depth = 0): void => {
    const branch = root ? "" : last ? "└── " : "├── ";
    const also = s.needs.filter((d) => d !== parentOf.get(s.id));
    const alsoText = root || also.length === 0 ? "" : `  (also needs ${also.join(", ")})`;
    out.push(`  ${prefix}${branch}${s.id}  ${s.uses}${stepTraits(s)}${alsoText}`);
    const inner = depth >= MAX_INDENT ? prefix : prefix + (root ? "" : last ? "    " : "│   ");
    const kids = children(s.id);
    const refs = referrers(s.id);
    const below = kids.length + refs.length;
    if (Object.keys(s.with).length) out.push(`  ${inner}${below ? "│" : " "}   with ${compact(s.with)}`);
    if (s.check && Object.keys(s.check.with).length) out.push(`  ${inner}${below ? "│" : " "}   check with ${compact(s.check.with)}`);
    kids.forEach((k, i) => draw(k, inner, i === below - 1, false, depth + 1));
    refs.forEach((r, i) => {
      out.push(`  ${inner}${kids.length + i === below - 1 ? "└── " : "├── "}${r.id}  (see under ${parentOf.get(r.id)})`);
    });
  };
  for (const r of children(undefined)) draw(r, "", true, true);
  return out.join("\n") + "\n";
}

/**
 * Text inside a quoted Mermaid label, written with Mermaid's entity codes: `#` first
 * (it starts an entity), then what would end the label (`"`, a line break), open HTML
 * (`<`, `>`) or make it a Markdown string (a backtick).
 */
export function mermaidLabel(text: string): string {
  const codes: Record<string, string> = { "#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;" };
  return text.replace(/[#"<>`]/g, (c) => codes[c]!).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ");
}

/** A Mermaid `graph TD` of the DAG; node ids are positional so any step id is safe. */
export function renderPlanMermaid(plan: Plan): string {
  const node = new Map(plan.steps.map((s, i) => [s.id, `s${i}`]));
  const lines = ["graph TD"];
  for (const s of plan.steps) {
    const check = s.check ? `<br/>${mermaidLabel(`skipped if ${s.check.uses} reports done`)}` : "";
    lines.push(`  ${node.get(s.id)}["${mermaidLabel(s.id)}<br/>${mermaidLabel(s.uses)}${check}"]`);
  }
  for (const s of plan.steps) for (const d of s.needs) if (node.has(d)) lines.push(`  ${node.get(d)} --> ${node.get(s.id)}`);
  return lines.join("\n") + "\n";
}
