/**
 * The app's small HTTP API as one node:http handler. The Probot server mounts it
 * in front of its own routes; it answers only the paths it owns.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonWebKeySet } from "../identity/keys.js";
import type { OidcVerifier } from "../identity/oidc.js";
import type { ApiOperatorRule } from "../server-config/types.js";
import type { RefusalSink } from "./auth.js";
import { GITHUB_ACTIONS_CALLBACK_PATH, githubActionsCallbackHandler, type CallbackDelivery, type DispatchLookup } from "./callbacks.js";
import { sendJson } from "./http.js";
import { JWKS_PATH, jwksHandler } from "./jwks.js";
import { runCancelHandler, type RunCanceller } from "./run-cancel.js";
import { runStatusHandler, type RunLookup } from "./runs.js";

export interface ApiOptions {
  signer: { jwks(): JsonWebKeySet };
  verifier: OidcVerifier;
  getRun: RunLookup;
  /** POST /api/runs/:id/cancel; without it the route answers 404. */
  cancelRun?: RunCanceller;
  findDispatch: DispatchLookup;
  deliverCallback: CallbackDelivery;
  /** Identities that read every run (`api.operators` of the server configuration). */
  operators?: readonly ApiOperatorRule[];
  /** Where refusals go (rate limit, 403s); the server aggregates them into the audit chain. */
  refusals?: RefusalSink;
  /** Called with unexpected errors (a handler bug, a store outage); the caller gets a bare 500. */
  onError?: (error: unknown) => void;
}

/** Returns a handler that resolves true when it answered the request, false when the path is not its own. */
export function createApiHandler(options: ApiOptions) {
  const jwks = jwksHandler(options.signer);
  const runs = runStatusHandler(options);
  const cancel = options.cancelRun ? runCancelHandler({ ...options, cancelRun: options.cancelRun }) : null;
  const callback = githubActionsCallbackHandler({
    verifier: options.verifier,
    findDispatch: options.findDispatch,
    deliver: options.deliverCallback,
    ...(options.refusals ? { refusals: options.refusals } : {}),
  });

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const method = req.method ?? "GET";
    try {
      if (path === JWKS_PATH) {
        if (method !== "GET" && method !== "HEAD") return methodNotAllowed(res, "GET");
        jwks(req, res);
        return true;
      }
      const run = /^\/api\/runs\/([^/]+)$/.exec(path);
      if (run) {
        if (method !== "GET") return methodNotAllowed(res, "GET");
        await runs(req, res, safeDecode(run[1]!));
        return true;
      }
      const cancelled = /^\/api\/runs\/([^/]+)\/cancel$/.exec(path);
      if (cancelled && cancel) {
        if (method !== "POST") return methodNotAllowed(res, "POST");
        await cancel(req, res, safeDecode(cancelled[1]!));
        return true;
      }
      if (path === GITHUB_ACTIONS_CALLBACK_PATH) {
        if (method !== "POST") return methodNotAllowed(res, "POST");
        await callback(req, res);
        return true;
      }
      return false;
    } catch (e) {
      options.onError?.(e);
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
      return true;
    }
  };
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  sendJson(res, 405, { error: "method not allowed" }, { allow });
  return true;
}

/** A malformed escape is just an invalid id (400 after auth), not a server error. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
