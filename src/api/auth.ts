import type { IncomingMessage, ServerResponse } from "node:http";
import { OidcRejection, type CallerIdentity, type OidcVerifier } from "../identity/oidc.js";
import { bearerToken, remoteAddress, sendJson } from "./http.js";

/**
 * Where the API reports refusals it decides itself (rate limits, forbidden reads and
 * callbacks). The server aggregates them into the audit chain.
 */
export interface RefusalSink {
  /** True when this source has had too many refusals lately: answer 429 without verifying anything. */
  limited(remoteAddress: string | undefined): boolean;
  refuse(kind: "auth.rejected" | "api.forbidden", reason: string, info: { remoteAddress?: string; path: string; caller?: CallerIdentity }): Promise<void>;
}

/**
 * Authenticate a request by its OIDC bearer token. Answers 401 (or 429 for a source that
 * keeps failing) itself, the refusal already reported and audited, and returns undefined then.
 */
export async function authenticate(
  verifier: OidcVerifier,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  refusals?: RefusalSink,
): Promise<CallerIdentity | undefined> {
  const remote = remoteAddress(req);
  if (refusals?.limited(remote)) {
    await refusals.refuse("auth.rejected", "rate-limited", { ...(remote ? { remoteAddress: remote } : {}), path });
    sendJson(res, 429, { error: "too many refused requests" }, { "retry-after": "60" });
    return undefined;
  }
  try {
    return await verifier.verify(bearerToken(req), { remoteAddress: remote, path });
  } catch (e) {
    const reason = e instanceof OidcRejection ? e.reason : "error";
    sendJson(res, 401, { error: "invalid_token", reason }, { "www-authenticate": `Bearer error="invalid_token"` });
    return undefined;
  }
}

/** 403, audited: a verified caller asked for something its identity does not cover. */
export async function forbid(req: IncomingMessage, res: ServerResponse, refusals: RefusalSink | undefined, caller: CallerIdentity, path: string, reason: string, message: string): Promise<void> {
  const remote = remoteAddress(req);
  await refusals?.refuse("api.forbidden", reason, { ...(remote ? { remoteAddress: remote } : {}), path, caller });
  sendJson(res, 403, { error: "forbidden", message });
}
