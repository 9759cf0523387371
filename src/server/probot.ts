/**
 * The webhook endpoint and what processes its deliveries: a Probot instance
 * built from Probot's own environment (APP_ID, PRIVATE_KEY / PRIVATE_KEY_PATH,
 * WEBHOOK_SECRET, WEBHOOK_PATH, GHE_HOST, GHE_PROTOCOL, LOG_LEVEL). Probot
 * verifies each delivery's signature before the app records it; the server's
 * delivery processor later calls `process`, which acts as the delivery's
 * installation through `probot.auth`.
 */
import type { IncomingMessage } from "node:http";
import { createNodeMiddleware, createProbot, ProbotOctokit } from "probot";
import { clutchLuigiApp, type AppDepsSource } from "../index.js";
import { BodyTooLarge, readBounded, refuseTooLarge, WEBHOOK_BODY_LIMIT } from "../api/body-limit.js";
import { classifyDelivery } from "../github/app-event.js";
import type { GitHubClient } from "../github/client.js";
import { ConditionalCache } from "../github/conditional-cache.js";
import { observeCalls, type GitHubCallObserver, type HookableOctokit } from "../github/observe-calls.js";
import { resolveDeps } from "../github/handlers/deps.js";
import { processAppEvent, type DeliveryResult } from "../github/handlers/process-delivery.js";
import type { StoredDelivery } from "../store/deliveries.js";
import type { Middleware } from "./http.js";

interface SignalledOctokit {
  hook: { before(name: "request", fn: (options: { request?: Record<string, unknown> }) => void): void };
}

export const DEFAULT_WEBHOOK_PATH = "/api/github/webhooks";

export interface ProbotMiddlewareOptions {
  env: NodeJS.ProcessEnv;
  deps: AppDepsSource;
  /** GitHub's API root, when not from GHE_HOST (tests point it at a local fake). */
  baseUrl?: string;
  /** Largest webhook body accepted, in bytes (default 25 MiB, GitHub's own cap). */
  bodyLimit?: number;
  /**
   * Octokit's throttling (default on): it spaces every write of the process at
   * least a second apart, GitHub's guidance against secondary rate limits. The
   * benchmark turns it off to measure the app itself, and reports its cost apart.
   */
  throttle?: boolean;
}

export interface ProbotWebhooks {
  /** The webhook endpoint: verifies, records, answers. */
  middleware: Middleware;
  /** Processes one recorded delivery as its installation; throws when it should be retried. `signal` aborts its GitHub calls. */
  process(d: StoredDelivery, observe?: GitHubCallObserver, signal?: AbortSignal): Promise<DeliveryResult>;
  /** Called whenever a delivery was recorded here, so this process's processor looks at once. */
  onRecorded(listener: () => void): void;
}

/** Which of the settings a GitHub App cannot work without are missing. */
export function missingAppSettings(env: NodeJS.ProcessEnv): string[] {
  const missing: string[] = [];
  if (!env.APP_ID) missing.push("APP_ID");
  if (!env.PRIVATE_KEY && !env.PRIVATE_KEY_PATH) missing.push("PRIVATE_KEY or PRIVATE_KEY_PATH");
  if (!env.WEBHOOK_SECRET) missing.push("WEBHOOK_SECRET");
  return missing;
}

/**
 * Probot's Octokit retries 5xx and sleeps through rate limits inside the request,
 * holding the delivery meanwhile. The delivery queue retries instead, durably and
 * with GitHub's retry-after as its floor: the retry plugin is off, and the
 * throttling plugin only paces requests (GitHub's advice for writes) and lets
 * rate-limit errors through. A function, so it applies over Probot's own defaults.
 *
 * The pacing is per process and installation: one write at a time, a second
 * apart, however many deliveries are in hand. That caps a replica at about one
 * check run per second, so a lone replica works a backlog at that pace (a
 * pull request's evaluation writes two). `CLUTCH_LUIGI_GITHUB_WRITE_PACING=off`
 * lifts it, for a GitHub without secondary rate limits (a test double): the
 * queue still retries a rate limit after GitHub's retry-after.
 */
const queueRetriedOctokit = (pace: boolean) =>
  ProbotOctokit.defaults((options: Record<string, unknown>) => ({
    ...options,
    retry: { enabled: false },
    throttle: pace ? { ...(options.throttle as object | undefined), onRateLimit: () => false, onSecondaryRateLimit: () => false } : { enabled: false },
  }));

/** Whether Probot paces this process's writes (on unless CLUTCH_LUIGI_GITHUB_WRITE_PACING is `off`). */
export function writePacing(env: NodeJS.ProcessEnv): boolean {
  return env.CLUTCH_LUIGI_GITHUB_WRITE_PACING?.trim().toLowerCase() !== "off";
}

/** The webhook endpoint and processor, or null when the app is not configured (the server then runs without webhooks). */
export async function createProbotMiddleware(opts: ProbotMiddlewareOptions): Promise<ProbotWebhooks | null> {
  if (missingAppSettings(opts.env).length > 0) return null;
  // Tests and the benchmark may turn the pacing off (opts.throttle) to measure the app itself.
  const pace = opts.throttle !== false && writePacing(opts.env);
  const probot = createProbot({ env: opts.env, overrides: { Octokit: queueRetriedOctokit(pace), ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}) } });
  const webhooksPath = opts.env.WEBHOOK_PATH || DEFAULT_WEBHOOK_PATH;
  // One per process: every delivery's reads are revalidated against the answers earlier ones got.
  const cache = new ConditionalCache();
  const listeners: (() => void)[] = [];
  const app = clutchLuigiApp(opts.deps, { recorded: () => listeners.forEach((l) => l()) });
  const handler = await createNodeMiddleware(app, { probot, webhooksPath });
  const limit = opts.bodyLimit ?? WEBHOOK_BODY_LIMIT;
  const middleware: Middleware = async (req, res) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== webhooksPath || req.method !== "POST") return Boolean(await handler(req, res));
    let body: Buffer;
    try {
      body = await readBounded(req, limit);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      refuseTooLarge(req, res, limit);
      return true;
    }
    // @octokit/webhooks takes an already-read body as a string and verifies its signature as is.
    (req as IncomingMessage & { body?: string }).body = body.toString("utf8");
    return Boolean(await handler(req, res));
  };
  return {
    middleware,
    onRecorded: (l) => void listeners.push(l),
    async process(d, observe, signal) {
      const event = classifyDelivery(d.event, d.payload);
      if (event.kind === "ignore") return { kind: "ignored", why: event.why };
      // The classifier ignores deliveries without an installation; the column is read from the same payload.
      if (d.installationId === null) return { kind: "ignored", why: "no installation" };
      const deps = await resolveDeps(opts.deps);
      const octokit = await probot.auth(d.installationId);
      if (observe) observeCalls(octokit as unknown as HookableOctokit, d.installationId, observe);
      // An abandoned attempt (the processor's timeout) stops its calls: in flight, or still waiting for their turn.
      if (signal) {
        (octokit as unknown as SignalledOctokit).hook.before("request", (options) => {
          signal.throwIfAborted();
          options.request = { ...options.request, signal };
        });
      }
      // Probot's installation Octokit has `request(route, params)`; its overloads are
      // narrower than GitHubClient's string route, so it is viewed through that interface.
      // Its GETs go through the process's ETag cache, scoped to the installation.
      const gh = cache.client(octokit as unknown as GitHubClient, `installation:${d.installationId}`);
      return processAppEvent(deps, gh, event);
    },
  };
}
