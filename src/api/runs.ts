import type { IncomingMessage, ServerResponse } from "node:http";
import type { OidcVerifier } from "../identity/oidc.js";
import type { ApiOperatorRule } from "../server-config/types.js";
import { authenticate, forbid, type RefusalSink } from "./auth.js";
import { isOperator, mayReadRun } from "./authz.js";
import { sendJson } from "./http.js";

/** Looks a run up: its status and the ops repository it belongs to; undefined when it does not exist. */
export type RunLookup = (runId: string) => Promise<{ repository: string; status: unknown } | undefined>;

export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * GET /api/runs/:id — run status for tools and agents, behind OIDC. Only operators learn
 * that a run does not exist (404); anyone else gets the same 403 for a run that is not
 * there and for one of another repository, so run ids cannot be probed.
 */
export function runStatusHandler(options: { verifier: OidcVerifier; getRun: RunLookup; operators?: readonly ApiOperatorRule[]; refusals?: RefusalSink }) {
  const operators = options.operators ?? [];
  return async (req: IncomingMessage, res: ServerResponse, runId: string): Promise<void> => {
    const path = `/api/runs/${runId}`;
    const caller = await authenticate(options.verifier, req, res, path, options.refusals);
    if (!caller) return;
    if (!RUN_ID_PATTERN.test(runId)) return sendJson(res, 400, { error: "invalid run id" });
    const run = await options.getRun(runId);
    if (run && mayReadRun(caller, run.repository, operators)) return sendJson(res, 200, run.status);
    if (!run && isOperator(caller, operators)) return sendJson(res, 404, { error: "run not found" });
    await forbid(req, res, options.refusals, caller, path, run ? "foreign-run" : "unknown-run", "this identity may not read this run");
  };
}
