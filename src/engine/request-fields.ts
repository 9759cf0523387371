/**
 * What `${{ request.* }}` reads in a step: the request file's fields and the run's
 * identity. The store writes the same fields into a run's spec when it creates the
 * run, so both import this module rather than the worker.
 */
import type { RequestSpec } from "../formats/types.js";
import type { RunDefinition } from "./queue.js";

export function requestFields(def: RunDefinition): Record<string, unknown> {
  const request: RequestSpec = def.request;
  return {
    path: def.requestPath,
    reason: request.reason,
    workflow: request.workflow,
    repository: def.identity.repository,
    pullRequest: def.identity.pullRequest ?? null,
    commit: def.identity.commit ?? null,
    requester: def.identity.requester.login,
    approvers: def.identity.approvers.map((a) => a.login),
    runId: def.runId,
    breakGlass: def.identity.breakGlass ?? false,
  };
}
