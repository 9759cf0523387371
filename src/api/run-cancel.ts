/**
 * POST /api/runs/:id/cancel — the same cancel as the "Cancel run" button and
 * `clutch-luigi cancel`, for tools and on-call automation. Only operators
 * (`api.operators` of the server configuration) may cancel; anyone else gets the
 * audited 403 whether or not the run exists, so run ids cannot be probed.
 * Body (optional): `{"reason": "…"}`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CallerIdentity, OidcVerifier } from "../identity/oidc.js";
import type { ApiOperatorRule } from "../server-config/types.js";
import { authenticate, forbid, type RefusalSink } from "./auth.js";
import { isOperator } from "./authz.js";
import { BodyError, readJsonBody, sendJson } from "./http.js";
import { RUN_ID_PATTERN } from "./runs.js";

export type CancelOutcome = { found: false } | { found: true; cancelled: boolean; state: string };

/** Cancels the run for `caller` (the server records who in the audit trail); `cancelled` false when it had already finished. */
export type RunCanceller = (runId: string, caller: CallerIdentity, reason: string | undefined) => Promise<CancelOutcome>;

const MAX_REASON = 1_000;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

async function reasonOf(req: IncomingMessage): Promise<string | undefined> {
  // No body at all is a plain cancel.
  if (req.headers["content-length"] === "0" || (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined)) return undefined;
  const body = await readJsonBody(req, 8 * 1024);
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BodyError(400, "the body must be a JSON object");
  const keys = Object.keys(body);
  if (keys.some((k) => k !== "reason")) throw new BodyError(400, `unknown field "${keys.find((k) => k !== "reason")}"`);
  const reason = (body as { reason?: unknown }).reason;
  if (reason === undefined) return undefined;
  if (typeof reason !== "string" || reason.length > MAX_REASON || CONTROL.test(reason)) {
    throw new BodyError(400, `reason must be a string of at most ${MAX_REASON} characters without control characters`);
  }
  return reason;
}

export function runCancelHandler(options: { verifier: OidcVerifier; cancelRun: RunCanceller; operators?: readonly ApiOperatorRule[]; refusals?: RefusalSink }) {
  const operators = options.operators ?? [];
  return async (req: IncomingMessage, res: ServerResponse, runId: string): Promise<void> => {
    const path = `/api/runs/${runId}/cancel`;
    const caller = await authenticate(options.verifier, req, res, path, options.refusals);
    if (!caller) return;
    if (!isOperator(caller, operators)) return forbid(req, res, options.refusals, caller, path, "not-operator", "only operators may cancel runs");
    if (!RUN_ID_PATTERN.test(runId)) return sendJson(res, 400, { error: "invalid run id" });
    let reason: string | undefined;
    try {
      reason = await reasonOf(req);
    } catch (e) {
      if (e instanceof BodyError) return sendJson(res, e.status, { error: e.message });
      throw e;
    }
    const out = await options.cancelRun(runId, caller, reason);
    if (!out.found) return sendJson(res, 404, { error: "run not found" });
    if (!out.cancelled) return sendJson(res, 409, { error: `the run is ${out.state}: there is nothing to cancel`, state: out.state });
    sendJson(res, 202, { runId, state: out.state });
  };
}
