/**
 * The fake plays GitHub's app authentication: an installation token for the app's
 * JWT, a different token when one is asked for named repositories (so tests can tell
 * which one a call used), and a record of every request.
 */
import type { World } from "../integration/github/world.js";

export interface TokenRequest {
  authorization: string | undefined;
  installationId: string;
  repositories?: string[];
  token: string;
}

export const INSTALLATION_TOKEN = "ghs_e2e_installation_token";

export function serveAppAuth(world: World): TokenRequest[] {
  const tokenRequests: TokenRequest[] = [];
  world.fake.route("POST /app/installations/{installation_id}/access_tokens", ({ headers, params, body }) => {
    const repositories = (body as { repositories?: string[] } | undefined)?.repositories;
    const token = repositories ? `ghs_e2e_scoped_${tokenRequests.length + 1}` : INSTALLATION_TOKEN;
    tokenRequests.push({ authorization: headers.authorization, installationId: params.installation_id!, ...(repositories ? { repositories } : {}), token });
    const expires = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    return {
      status: 201,
      body: world.fake.api.sample("installation-token", {
        token,
        expires_at: expires,
        repository_selection: repositories ? "selected" : "all",
        permissions: { checks: "write", contents: "read", pull_requests: "write", members: "write" },
      }),
    };
  });
  return tokenRequests;
}
