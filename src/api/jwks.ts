import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonWebKeySet } from "../identity/keys.js";
import { sendJson } from "./http.js";

export const JWKS_PATH = "/.well-known/jwks.json";

/** GET /.well-known/jwks.json: the public keys downstream services verify step tokens with. */
export function jwksHandler(source: { jwks(): JsonWebKeySet }) {
  return (_req: IncomingMessage, res: ServerResponse): void => {
    // Short cache: after a rotation, verifiers pick up the new key within minutes.
    sendJson(res, 200, source.jwks(), { "cache-control": "public, max-age=300" });
  };
}
