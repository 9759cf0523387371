import type { IncomingMessage, ServerResponse } from "node:http";
import type { CallerIdentity, OidcVerifier } from "../identity/oidc.js";
import { authenticate } from "./auth.js";
import { sendJson } from "./http.js";

/** Looks a run up for a caller; undefined when it does not exist or the caller may not see it. */
export type RunLookup = (runId: string, caller: CallerIdentity) => Promise<unknown | undefined>;

export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;

/** GET /api/runs/:id — run status for tools and agents, behind OIDC. */
export function runStatusHandler(options: { verifier: OidcVerifier; getRun: RunLookup }) {
  return async (req: IncomingMessage, res: ServerResponse, runId: string): Promise<void> => {
    const caller = await authenticate(options.verifier, req, res, `/api/runs/${runId}`);
    if (!caller) return;
    if (!RUN_ID_PATTERN.test(runId)) return sendJson(res, 400, { error: "invalid run id" });
    const run = await options.getRun(runId, caller);
    if (run === undefined) return sendJson(res, 404, { error: "run not found" });
    sendJson(res, 200, run);
  };
}
