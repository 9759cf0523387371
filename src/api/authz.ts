/**
 * What a verified caller may do, beyond holding a trusted token: a GitHub Actions token
 * from repository X reads runs of X; the configured operators read every run; a callback
 * is accepted only from the workflow run its step dispatched.
 */
import type { CallerIdentity } from "../identity/oidc.js";
import type { ApiOperatorRule } from "../server-config/types.js";

function same(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** A rule matches when every field it names matches the caller (at least one of subject, login, repository is required by the schema). */
export function isOperator(caller: CallerIdentity, operators: readonly ApiOperatorRule[]): boolean {
  return operators.some(
    (r) =>
      (r.issuer === undefined || r.issuer === caller.issuer) &&
      (r.subject === undefined || r.subject === caller.subject) &&
      (r.login === undefined || same(r.login, caller.login)) &&
      (r.repository === undefined || same(r.repository, caller.repository)),
  );
}

export function mayReadRun(caller: CallerIdentity, runRepository: string, operators: readonly ApiOperatorRule[]): boolean {
  return isOperator(caller, operators) || same(caller.repository, runRepository);
}

export interface DispatchBinding {
  repository: string;
  workflowRunId: number;
}

export type BindingRefusal = "unknown-step" | "not-dispatched" | "wrong-repository" | "wrong-workflow-run";

/**
 * The caller's token must be the dispatched workflow run's own: GitHub puts the run's id
 * in the OIDC token's `run_id` claim, which the workflow cannot choose.
 */
export function checkCallbackBinding(
  caller: CallerIdentity,
  claimedWorkflowRunId: number | undefined,
  found: { step: boolean; dispatch?: DispatchBinding },
): BindingRefusal | undefined {
  if (!found.step) return "unknown-step";
  const d = found.dispatch;
  if (!d) return "not-dispatched";
  if (!same(caller.repository, d.repository)) return "wrong-repository";
  const tokenRunId = caller.claims.run_id;
  if ((typeof tokenRunId !== "string" && typeof tokenRunId !== "number") || String(tokenRunId) !== String(d.workflowRunId)) return "wrong-workflow-run";
  if (claimedWorkflowRunId !== undefined && claimedWorkflowRunId !== d.workflowRunId) return "wrong-workflow-run";
  return undefined;
}
