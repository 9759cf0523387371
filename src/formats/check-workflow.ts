/**
 * Every check a workflow must pass before any request may name it, reported in one
 * pass so a platform engineer fixes a file once, not once per error.
 */
import type { ActionRegistry } from "../actions/registry.js";
import type { Action } from "../actions/types.js";
import { ancestors, findCycle } from "./dag.js";
import { destinationProblems } from "./destinations.js";
import { expiresProblems } from "./expiry.js";
import { ExpressionError, findExpressions, type FoundExpression } from "./expressions.js";
import type { Problem } from "./problems.js";
import { checkAgainstSchema, schemaErrors } from "./schema-check.js";
import workflowSchema from "./schemas/workflow.schema.json" with { type: "json" };
import type { PathSegment, SourceDoc } from "./source.js";
import { closest } from "./suggest.js";
import { BUILTIN_ERROR_CLASSES, type ExpiresSpec, type JsonSchema, type WorkflowSpec } from "./types.js";

export const WORKFLOW_SCHEMA = workflowSchema as JsonSchema;

export interface WorkflowCheck {
  /** Present when the document is a usable workflow (there may still be problems). */
  workflow?: WorkflowSpec;
  problems: Problem[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Output names a step will produce, or undefined when they are open-ended: the
 * action's fixed outputs (a closed output schema) plus any its input declares.
 */
function declaredOutputs(action: Action, input: unknown): string[] | undefined {
  const schema = action.output as { properties?: object; additionalProperties?: unknown };
  const fixed = Object.keys(schema.properties ?? {});
  if (action.outputNames) return [...fixed, ...action.outputNames(isObject(input) ? input : {})];
  return schema.additionalProperties === false ? fixed : undefined;
}

export function checkWorkflow(doc: SourceDoc, registry: ActionRegistry, opts: { expectedName?: string } = {}): WorkflowCheck {
  const problems: Problem[] = [];
  const at = (path: PathSegment[], message: string, which: "key" | "value" = "value", expression?: number): void => {
    problems.push(doc.problem(path, message, which, expression));
  };
  /** Which `${{` of the string at `path` starts at `offset` (of the parsed string value). */
  const nthExpression = (path: PathSegment[], offset: number): number | undefined => {
    let v: unknown = value;
    for (const k of path) v = v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined;
    return typeof v === "string" ? v.slice(0, offset).split("${{").length - 1 : undefined;
  };
  const value = doc.value;

  for (const issue of checkAgainstSchema(WORKFLOW_SCHEMA, value)) at(issue.path, issue.message, issue.which);

  if (opts.expectedName && typeof value.name === "string" && value.name !== opts.expectedName) {
    at(["name"], `workflow name "${value.name}" must match its file name "${opts.expectedName}"`);
  }
  const params = value.params;
  const declaredParams = isObject(params) && isObject(params.properties) ? Object.keys(params.properties) : undefined;
  if (isObject(params)) for (const msg of schemaErrors(params)) at(["params"], `params is not a valid JSON Schema: ${msg}`);

  const rawSteps = Array.isArray(value.steps) ? value.steps : [];
  const steps = rawSteps
    .map((s, index) => ({ s, index }))
    .filter((x): x is { s: Record<string, unknown>; index: number } => isObject(x.s) && typeof x.s.id === "string");
  const ids = new Set<string>();
  for (const { s, index } of steps) {
    const id = s.id as string;
    if (ids.has(id)) at(["steps", index, "id"], `duplicate step id "${id}"`);
    ids.add(id);
  }
  const idList = [...ids];
  const nodes = steps.map(({ s }) => ({
    id: s.id as string,
    // A step needing itself is reported on its own below, not also as a cycle.
    needs: Array.isArray(s.needs) ? s.needs.filter((n): n is string => typeof n === "string" && n !== s.id) : [],
  }));
  const deps = ancestors(nodes);

  /** Check the expressions inside `value` found at `base`; `readable` are the steps whose outputs may be read. */
  const checkExpressions = (
    v: unknown,
    base: PathSegment[],
    readable: Set<string> | undefined,
    context: string,
    allowedRoots: readonly string[] = ["params", "steps", "request"],
  ): void => {
    let found: FoundExpression[];
    try {
      found = findExpressions(v);
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      const where = [...base, ...((e as ExpressionError & { at?: PathSegment[] }).at ?? [])];
      at(where, `invalid expression: ${e.message}`, "value", nthExpression(where, e.offset));
      return;
    }
    for (const { ref, at: where } of found) {
      const path = [...base, ...where];
      const shown = `\${{ ${ref.source} }}`;
      const nth = nthExpression(path, ref.offset);
      const at = (p: PathSegment[], message: string): void => void problems.push(doc.problem(p, message, "value", nth));
      if (!allowedRoots.includes(ref.root)) {
        at(path, `${shown}: ${context} may only use ${allowedRoots.join(", ")}`);
        continue;
      }
      if (ref.root === "params") {
        const name = ref.path[0];
        if (declaredParams && typeof name === "string" && !declaredParams.includes(name)) {
          const hint = closest(name, declaredParams);
          at(path, `${shown} reads undeclared parameter "${name}"${hint ? `; did you mean "${hint}"?` : ""}`);
        }
      } else if (ref.root === "steps") {
        const stepId = ref.path[0] as string;
        const output = ref.path[2];
        if (!ids.has(stepId)) {
          const hint = closest(stepId, idList);
          at(path, `${shown} reads unknown step "${stepId}"${hint ? `; did you mean "${hint}"?` : ""}`);
        } else if (readable && !readable.has(stepId)) {
          at(path, `${shown}: ${context} reads step "${stepId}", which it does not depend on; add it to needs`);
        } else {
          const producer = steps.find(({ s }) => s.id === stepId)?.s;
          const action = typeof producer?.uses === "string" ? registry.get(producer.uses) : undefined;
          const outputs = action ? declaredOutputs(action, producer?.with) : undefined;
          if (outputs && typeof output === "string" && !outputs.includes(output)) {
            at(path, `${shown}: action ${action!.name} has no output "${output}" (outputs: ${outputs.join(", ") || "none"})`);
          }
        }
      }
    }
  };

  /** `uses` + `with` of a step, of its rollback or of its check. */
  const checkCall = (
    base: PathSegment[],
    uses: unknown,
    withValue: unknown,
    readable: Set<string>,
    context: string,
  ): Action | undefined => {
    if (typeof uses !== "string") return undefined;
    const action = registry.get(uses);
    if (!action) {
      const hint = closest(uses, registry.names());
      at([...base, "uses"], `unknown action "${uses}"${hint ? `; did you mean "${hint}"?` : ""}`);
    } else {
      const input = isObject(withValue) ? withValue : {};
      for (const issue of checkAgainstSchema(action.input, input, { allowExpressions: true, root: "with" })) {
        const path = withValue === undefined ? [...base, "uses"] : [...base, "with", ...issue.path];
        const which = withValue === undefined ? "value" : issue.which;
        at(path, `${action.name}: ${issue.message}`, which);
      }
    }
    checkExpressions(withValue, [...base, "with"], readable, context);
    for (const d of destinationProblems(uses, withValue, params)) {
      const path = [...base, "with", ...d.path];
      at(path, d.message, "value", nthExpression(path, d.offset));
    }
    return action;
  };

  for (const { s, index } of steps) {
    const id = s.id as string;
    const base: PathSegment[] = ["steps", index];
    if (Array.isArray(s.needs)) {
      s.needs.forEach((n, j) => {
        if (typeof n !== "string") return;
        if (n === id) at([...base, "needs", j], `step "${id}" needs itself`);
        else if (!ids.has(n)) {
          const hint = closest(n, idList);
          at([...base, "needs", j], `step "${id}" needs unknown step "${n}"${hint ? `; did you mean "${hint}"?` : ""}`);
        }
      });
    }
    const readable = deps.get(id) ?? new Set<string>();
    const action = checkCall(base, s.uses, s.with, readable, `step "${id}"`);
    // A check reads what its step may read: it runs in the step's place, at the same time.
    const check = isObject(s.check) ? checkCall([...base, "check"], s.check.uses, s.check.with, readable, `check of "${id}"`) : undefined;
    if (check?.delayMs) at([...base, "check", "uses"], `check of "${id}": ${check.name} is a durable timer; a check must be an action that reports done`);
    else if (check) {
      const outputs = declaredOutputs(check, isObject(s.check) ? s.check.with : undefined);
      if (outputs && !outputs.includes("done")) {
        at([...base, "check", "uses"], `check of "${id}": ${check.name} has no output "done", so it could never skip the step (outputs: ${outputs.join(", ") || "none"})`);
      }
    }

    const retry = s.retry;
    if (isObject(retry) && Array.isArray(retry.on)) {
      // A failing check fails the step, so its error codes are the step's to retry on too.
      const known = [...new Set([...BUILTIN_ERROR_CLASSES, ...(action?.errorCodes ?? []), ...(check?.errorCodes ?? [])])];
      retry.on.forEach((cls, j) => {
        if (typeof cls === "string" && !known.includes(cls)) {
          const hint = closest(cls, known);
          at(
            [...base, "retry", "on", j],
            `unknown error class "${cls}"${hint ? `; did you mean "${hint}"?` : ""} (known: ${known.join(", ")})`,
          );
        }
      });
    }
    if (isObject(s.rollback)) {
      // A rollback undoes this step, so it may read the step's own outputs too.
      const rb = new Set([...readable, id]);
      checkCall([...base, "rollback"], s.rollback.uses, s.rollback.with, rb, `rollback of "${id}"`);
    }
  }

  const cycle = findCycle(nodes);
  if (cycle) {
    // Every edge of a cycle is equally guilty; the likeliest mistake is a step needing a
    // step written after it (people write workflows in order), so point at that entry.
    const indexOf = (id: string): number => steps.findIndex(({ s }) => s.id === id);
    const edges = cycle.slice(1).map((id, i) => ({ step: id, need: cycle[i]! }));
    const edge = edges.find((e) => indexOf(e.need) > indexOf(e.step)) ?? edges[0]!;
    const holder = steps[indexOf(edge.step)];
    const j = holder && Array.isArray(holder.s.needs) ? holder.s.needs.indexOf(edge.need) : -1;
    const path: PathSegment[] = holder ? ["steps", holder.index, "needs", ...(j >= 0 ? [j] : [])] : ["steps"];
    at(path, `dependency cycle: ${cycle.join(" -> ")}`);
  }
  if (typeof value.lock === "string") checkExpressions(value.lock, ["lock"], new Set(), "lock", ["params", "request"]);
  if (isObject(value.expires) && typeof value.expires.after === "string" && typeof value.expires.max === "string") {
    for (const msg of expiresProblems(value.expires as unknown as ExpiresSpec, declaredParams)) at(["expires"], msg);
    // Expiry undoes the run's steps: with nothing to undo it would expire nothing.
    const undoable = steps.some(({ s }) => isObject(s.rollback) || (typeof s.uses === "string" && Boolean(registry.get(s.uses)?.rollback)));
    if (!undoable) at(["expires"], "expires: no step has a rollback, so expiry would undo nothing; give the steps that make the change a rollback");
  }

  const usable = value.kind === "Workflow" && steps.length === rawSteps.length && steps.length > 0;
  return usable ? { workflow: value as unknown as WorkflowSpec, problems } : { problems };
}
