/**
 * A request is checked against the catalog of the *base* branch: the workflow it
 * names must exist there, and its params must satisfy that workflow's schema.
 */
import type { Problem } from "./problems.js";
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

export function checkRequest(doc: SourceDoc, catalog: Catalog): RequestCheck {
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
  const params = value.params ?? {};
  if (workflow.params) {
    for (const issue of checkAgainstSchema(workflow.params, params, { root: "params" })) {
      problems.push(doc.problem(["params", ...issue.path], issue.message, issue.which));
    }
  } else if (typeof params === "object" && params !== null && Object.keys(params).length > 0) {
    problems.push(doc.problem(["params"], `workflow "${name}" takes no params`));
  }
  const ok = problems.length === 0;
  return ok ? { request: { ...(value as unknown as RequestSpec), params: params as Record<string, unknown> }, workflow, problems } : { problems, workflow };
}
