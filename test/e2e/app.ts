/**
 * The whole app for e2e tests: the server `npm start` runs (embedded database
 * in a temp folder, no step workers) with the Probot webhook endpoint and its
 * delivery processor (polling briskly, retrying after milliseconds), talking
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
import { serveAppAuth, type TokenRequest } from "./app-auth.js";
import { post, type Delivery } from "./webhook-client.js";

export const WEBHOOK_SECRET = "e2e-webhook-secret";
export { INSTALLATION_TOKEN } from "./app-auth.js";

export interface E2eApp {
  world: World;
  server: ServerHandle;
  webhookUrl: string;
  /** Installation-token requests the fake answered (the app authenticated as itself for each). */
  tokenRequests: TokenRequest[];
  /** POSTs a signed delivery and waits until the queue has processed it (and whatever else was queued). */
  deliver(d: Delivery, signature?: string): Promise<{ status: number; text: string }>;
  /** The app's environment (APP_ID, PRIVATE_KEY, …): a worker elsewhere starts with the same credentials. */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** `env` is laid over the app's own (e.g. DATABASE_URL for a shared Postgres instead of the embedded one). */
export async function startApp(opts: { env?: NodeJS.ProcessEnv; throttle?: boolean } = {}): Promise<E2eApp> {
  const world = await startWorld();
  const tokenRequests = serveAppAuth(world);
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const dataDir = mkdtempSync(path.join(tmpdir(), "cl-e2e-"));
  const env: NodeJS.ProcessEnv = {
    APP_ID: "123456",
    PRIVATE_KEY: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    WEBHOOK_SECRET,
    LOG_LEVEL: "fatal",
    CLUTCH_LUIGI_DATA_DIR: dataDir,
    CLUTCH_LUIGI_WORKERS: "0",
    // The server's own GitHub client (run reports) reaches the fake as GitHub Enterprise would be reached.
    GHE_HOST: new URL(world.url).host,
    GHE_PROTOCOL: "http",
    CLUTCH_LUIGI_WEBHOOK_POLL_MS: "25",
    CLUTCH_LUIGI_WEBHOOK_RETRY_BASE_MS: "20",
    // The fake has no secondary rate limits, so writes go out unpaced (write-pacing.test turns pacing on).
    CLUTCH_LUIGI_GITHUB_WRITE_PACING: "off",
    PORT: "0",
    HOST: "127.0.0.1",
    ...opts.env,
  };
  let server: ServerHandle | undefined;
  const webhooks = await createProbotMiddleware({
    env,
    baseUrl: world.url,
    ...(opts.throttle !== undefined ? { throttle: opts.throttle } : {}),
    deps: async () => {
      if (!server) throw new Error("webhook before the server started");
      return { store: server.store, registry: defaultRegistry() };
    },
  });
  if (!webhooks) throw new Error("the Probot middleware was not built");
  server = await startServer({ env, webhooks, log: () => undefined });
  const started = server;
  return {
    world,
    server: started,
    webhookUrl: `${started.url}${DEFAULT_WEBHOOK_PATH}`,
    tokenRequests,
    env,
    async deliver(d, signature) {
      const res = await post(`${started.url}${DEFAULT_WEBHOOK_PATH}`, WEBHOOK_SECRET, d, signature);
      await started.deliveries.idle();
      return res;
    },
    async close() {
      await started.close();
      await world.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
