import type { IncomingMessage, ServerResponse } from "node:http";
import { OidcRejection, type CallerIdentity, type OidcVerifier } from "../identity/oidc.js";
import { bearerToken, remoteAddress, sendJson } from "./http.js";

/**
 * Authenticate a request by its OIDC bearer token. Answers 401 itself (the verifier
 * has already reported and audited the rejection) and returns undefined then.
 */
export async function authenticate(verifier: OidcVerifier, req: IncomingMessage, res: ServerResponse, path: string): Promise<CallerIdentity | undefined> {
  try {
    return await verifier.verify(bearerToken(req), { remoteAddress: remoteAddress(req), path });
  } catch (e) {
    const reason = e instanceof OidcRejection ? e.reason : "error";
    sendJson(res, 401, { error: "invalid_token", reason }, { "www-authenticate": `Bearer error="invalid_token"` });
    return undefined;
  }
}
