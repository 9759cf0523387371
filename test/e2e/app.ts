/**
 * The whole app for e2e tests: the server `npm start` runs (embedded database
 * in a temp folder, no workers) with the Probot webhook middleware, talking
 * to the seeded GitHub fake. The fake also plays GitHub's app authentication:
 * it hands out an installation token for the app's JWT and records which
 * credential each call used.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defaultRegistry } from "../../src/actions/index.js";
import { startServer, type ServerHandle } from "../../src/server/app-server.js";
import { createProbotMiddleware, DEFAULT_WEBHOOK_PATH } from "../../src/server/probot.js";
import { startWorld, type World } from "../integration/github/world.js";

export const WEBHOOK_SECRET = "e2e-webhook-secret";
export const INSTALLATION_TOKEN = "ghs_e2e_installation_token";

export interface E2eApp {
  world: World;
  server: ServerHandle;
  webhookUrl: string;
  /** Installation-token requests the fake answered (the app authenticated as itself for each). */
  tokenRequests: { authorization: string | undefined; installationId: string; repositories?: string[]; token: string }[];
  /** The app's environment (APP_ID, PRIVATE_KEY, …): a worker elsewhere starts with the same credentials. */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** `env` is laid over the app's own (e.g. DATABASE_URL for a shared Postgres instead of the embedded one). */
export async function startApp(opts: { env?: NodeJS.ProcessEnv; retryAfterBaseMs?: number; throttle?: boolean } = {}): Promise<E2eApp> {
  const world = await startWorld();
  const tokenRequests: E2eApp["tokenRequests"] = [];
  world.fake.route("POST /app/installations/{installation_id}/access_tokens", ({ headers, params, body }) => {
    // A token asked for named repositories is a different token, so tests can tell which one a call used.
    const repositories = (body as { repositories?: string[] } | undefined)?.repositories;
    const token = repositories ? `ghs_e2e_scoped_${tokenRequests.length + 1}` : INSTALLATION_TOKEN;
    tokenRequests.push({ authorization: headers.authorization, installationId: params.installation_id!, ...(repositories ? { repositories } : {}), token });
    const expires = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    return { status: 201, body: world.fake.api.sample("installation-token", { token, expires_at: expires, repository_selection: repositories ? "selected" : "all", permissions: { checks: "write", contents: "read", pull_requests: "read", members: "write" } }) };
  });
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const dataDir = mkdtempSync(path.join(tmpdir(), "cl-e2e-"));
  const env: NodeJS.ProcessEnv = {
    APP_ID: "123456",
    PRIVATE_KEY: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    WEBHOOK_SECRET,
    LOG_LEVEL: "fatal",
    CLUTCH_LUIGI_DATA_DIR: dataDir,
    CLUTCH_LUIGI_WORKERS: "0",
    PORT: "0",
    HOST: "127.0.0.1",
    ...opts.env,
  };
  let server: ServerHandle | undefined;
  const webhooks = await createProbotMiddleware({
    env,
    baseUrl: world.url,
    ...(opts.retryAfterBaseMs !== undefined ? { retryAfterBaseMs: opts.retryAfterBaseMs } : {}),
    ...(opts.throttle !== undefined ? { throttle: opts.throttle } : {}),
    deps: async () => {
      if (!server) throw new Error("webhook before the server started");
      return { store: server.store, registry: defaultRegistry() };
    },
  });
  if (!webhooks) throw new Error("the Probot middleware was not built");
  server = await startServer({ env, before: [webhooks], log: () => undefined });
  const started = server;
  return {
    world,
    server: started,
    webhookUrl: `${started.url}${DEFAULT_WEBHOOK_PATH}`,
    tokenRequests,
    env,
    async close() {
      await started.close();
      await world.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
