/**
 * A request is checked against the catalog of the *base* branch: the workflow it
 * names must exist there, and its params must satisfy that workflow's schema.
 */
import type { ActionRegistry } from "../actions/registry.js";
import { ExpiryError, expiryTerms } from "./expiry.js";
import { parseTemplate } from "./expressions.js";
import { resolveStatic } from "./plan.js";
import { capProblems, type Problem } from "./problems.js";
import { checkAgainstSchema } from "./schema-check.js";
import requestSchema from "./schemas/request.schema.json" with { type: "json" };
import type { SourceDoc } from "./source.js";
import { closest } from "./suggest.js";
import type { JsonSchema, RequestSpec, WorkflowSpec } from "./types.js";

export const REQUEST_SCHEMA = requestSchema as JsonSchema;

export interface RequestCheck {
  request?: RequestSpec;
  workflow?: WorkflowSpec;
  problems: Problem[];
}

/** Workflows by name. A name present with `undefined` exists but is itself invalid. */
export type Catalog = ReadonlyMap<string, WorkflowSpec | undefined>;

/** The param a value passes through unchanged (`"${{ params.x }}"`), if any. */
function wholeParam(value: unknown): string | undefined {
  if (typeof value !== "string" || !value.includes("${{")) return undefined;
  try {
    const parts = parseTemplate(value);
    const only = parts.length === 1 ? parts[0] : undefined;
    return only && typeof only !== "string" && only.root === "params" && only.path.length === 1 ? String(only.path[0]) : undefined;
  } catch {
    return undefined;
  }
}

function readsStepOutput(text: string): boolean {
  try {
    return parseTemplate(text).some((p) => typeof p !== "string" && p.root === "steps");
  } catch {
    return false;
  }
}

function valueAt(v: unknown, path: readonly (string | number)[]): unknown {
  let cur = v;
  for (const k of path) cur = cur !== null && typeof cur === "object" ? (cur as Record<string | number, unknown>)[k] : undefined;
  return cur;
}

/**
 * With the request's params substituted, every step's input must satisfy its action's
 * schema. The workflow's params schema cannot always say so by itself (a string param
 * feeding a duration, say), and a request that would fail at step 5 must be refused
 * before anyone approves it.
 */
function checkResolvedInputs(doc: SourceDoc, workflow: WorkflowSpec, params: Record<string, unknown>, registry: ActionRegistry): Problem[] {
  const problems: Problem[] = [];
  const scope = { params, request: { path: doc.file, reason: doc.value.reason, workflow: workflow.name } };
  const calls = workflow.steps.flatMap((s) => [
    { step: s.id, uses: s.uses, with: s.with },
    ...(s.rollback ? [{ step: `${s.id} (rollback)`, uses: s.rollback.uses, with: s.rollback.with }] : []),
    ...(s.check ? [{ step: `${s.id} (check)`, uses: s.check.uses, with: s.check.with }] : []),
  ]);
  for (const call of calls) {
    const action = registry.get(call.uses);
    if (!action) continue;
    const resolved = resolveStatic(call.with ?? {}, scope);
    for (const issue of checkAgainstSchema(action.input, resolved, { root: "with" })) {
      // Step outputs are known only at run time. A `${{` that came from a param value is
      // just text, so it is not excused: it is what the action would really receive.
      const written = valueAt(call.with, issue.path);
      if (typeof written === "string" && readsStepOutput(written)) continue;
      const param = wholeParam(written);
      const message = `step "${call.step}" (${action.name}) would get invalid input: ${issue.message}`;
      problems.push(param !== undefined && param in params ? doc.problem(["params", param], message) : doc.problem(["workflow"], message));
    }
  }
  return problems;
}

export function checkRequest(doc: SourceDoc, catalog: Catalog, registry?: ActionRegistry): RequestCheck {
  const checked = checkRequestUncapped(doc, catalog, registry);
  return { ...checked, problems: capProblems(checked.problems) };
}

function checkRequestUncapped(doc: SourceDoc, catalog: Catalog, registry?: ActionRegistry): RequestCheck {
  const problems: Problem[] = [];
  const value = doc.value;
  for (const issue of checkAgainstSchema(REQUEST_SCHEMA, value)) problems.push(doc.problem(issue.path, issue.message, issue.which));

  const name = value.workflow;
  if (typeof name !== "string") return { problems };
  if (!catalog.has(name)) {
    const known = [...catalog.keys()].sort();
    const hint = closest(name, known);
    const list = known.length ? ` (known: ${known.join(", ")})` : " (the catalog is empty)";
    problems.push(doc.problem(["workflow"], `unknown workflow "${name}"${hint ? `; did you mean "${hint}"?` : list}`));
    return { problems };
  }
  const workflow = catalog.get(name);
  if (!workflow) {
    problems.push(doc.problem(["workflow"], `workflow "${name}" is itself invalid; fix it before requesting it`));
    return { problems };
  }
  // A copy: defaults from the workflow's schema are filled in, the document stays as written.
  const params = structuredClone(value.params ?? {});
  if (workflow.params) {
    for (const issue of checkAgainstSchema(workflow.params, params, { root: "params", applyDefaults: true })) {
      problems.push(doc.problem(["params", ...issue.path], issue.message, issue.which));
    }
  } else if (typeof params === "object" && params !== null && Object.keys(params).length > 0) {
    problems.push(doc.problem(["params"], `workflow "${name}" takes no params`));
  }
  if (problems.length === 0 && registry) problems.push(...checkResolvedInputs(doc, workflow, params as Record<string, unknown>, registry));
  if (problems.length === 0) {
    try {
      expiryTerms(workflow, params as Record<string, unknown>);
    } catch (e) {
      if (!(e instanceof ExpiryError)) throw e;
      problems.push(doc.problem(e.param !== undefined ? ["params", e.param] : ["workflow"], e.message));
    }
  }
  if (typeof value.extends === "string" && !workflow.expires) {
    problems.push(doc.problem(["extends"], `workflow "${name}" is not time-bound (it has no expires:), so there is nothing to extend`));
  }
  const ok = problems.length === 0;
  return ok ? { request: { ...(value as unknown as RequestSpec), params: params as Record<string, unknown> }, workflow, problems } : { problems, workflow };
}
