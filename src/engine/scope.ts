/**
 * The data a step's expressions see. A step reads only outputs of the steps it
 * (transitively) depends on: anything else may not have run yet, so allowing it
 * would make a workflow's behaviour depend on scheduling luck.
 */
import { ExpressionError, referencedSteps, substitute, type ExpressionScope } from "../formats/expressions.js";
import type { RunGraph } from "./graph.js";

export type Outputs = Record<string, Record<string, unknown>>;

/** Step ids whose outputs `value` reads; throws if one is not upstream of `stepId`. */
export function outputsNeeded(graph: RunGraph, stepId: string, value: unknown, allowSelf = false): string[] {
  const node = graph.nodes.get(stepId);
  if (!node) throw new ExpressionError(`no step "${stepId}" in this run`);
  const refs = [...referencedSteps(value)];
  for (const ref of refs) {
    if (node.ancestors.has(ref) || (allowSelf && ref === stepId)) continue;
    throw new ExpressionError(
      `step "${stepId}" reads steps.${ref}.outputs but does not depend on "${ref}" (add it to needs)`,
    );
  }
  return refs;
}

export function buildScope(
  graph: RunGraph,
  stepId: string,
  params: Record<string, unknown>,
  request: Record<string, unknown>,
  outputs: Outputs,
  allowSelf = false,
): ExpressionScope {
  const node = graph.nodes.get(stepId);
  if (!node) throw new ExpressionError(`no step "${stepId}" in this run`);
  const steps: ExpressionScope["steps"] = {};
  for (const [id, out] of Object.entries(outputs)) {
    if (node.ancestors.has(id) || (allowSelf && id === stepId)) steps[id] = { outputs: out };
  }
  return { params, request, steps };
}

/** Substitute a step's `with` (or its rollback's) against exactly the outputs it may read. */
export function resolveInput(
  graph: RunGraph,
  stepId: string,
  template: Record<string, unknown> | undefined,
  params: Record<string, unknown>,
  request: Record<string, unknown>,
  outputs: Outputs,
  allowSelf = false,
): Record<string, unknown> {
  outputsNeeded(graph, stepId, template ?? {}, allowSelf);
  const scope = buildScope(graph, stepId, params, request, outputs, allowSelf);
  return substitute(template ?? {}, scope) as Record<string, unknown>;
}
