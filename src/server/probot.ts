/**
 * The webhook endpoint: a Probot instance built from Probot's own environment
 * (APP_ID, PRIVATE_KEY / PRIVATE_KEY_PATH, WEBHOOK_SECRET, WEBHOOK_PATH,
 * GHE_HOST, GHE_PROTOCOL, LOG_LEVEL) and its node middleware, shaped as a
 * Middleware for startServer. Probot verifies each delivery's signature
 * before any handler runs.
 */
import type { IncomingMessage } from "node:http";
import { createNodeMiddleware, createProbot, ProbotOctokit } from "probot";
import { clutchLuigiApp, type AppDepsSource } from "../index.js";
import { BodyTooLarge, readBounded, refuseTooLarge, WEBHOOK_BODY_LIMIT } from "../api/body-limit.js";
import type { Middleware } from "./http.js";

export const DEFAULT_WEBHOOK_PATH = "/api/github/webhooks";

export interface ProbotMiddlewareOptions {
  env: NodeJS.ProcessEnv;
  deps: AppDepsSource;
  /** GitHub's API root, when not from GHE_HOST (tests point it at a local fake). */
  baseUrl?: string;
  /** Largest webhook body accepted, in bytes (default 25 MiB, GitHub's own cap). */
  bodyLimit?: number;
  /**
   * Base of Octokit's retry back-off for GitHub 5xx answers, in ms (default 1000:
   * retries after 1 s, 4 s and 9 s). Tests shorten it to see a delivery fail quickly.
   */
  retryAfterBaseMs?: number;
  /**
   * Octokit's throttling (default on): it spaces every write of the process at
   * least a second apart, GitHub's guidance against secondary rate limits. The
   * benchmark turns it off to measure the app itself, and reports its cost apart.
   */
  throttle?: boolean;
}

/** Which of the settings a GitHub App cannot work without are missing. */
export function missingAppSettings(env: NodeJS.ProcessEnv): string[] {
  const missing: string[] = [];
  if (!env.APP_ID) missing.push("APP_ID");
  if (!env.PRIVATE_KEY && !env.PRIVATE_KEY_PATH) missing.push("PRIVATE_KEY or PRIVATE_KEY_PATH");
  if (!env.WEBHOOK_SECRET) missing.push("WEBHOOK_SECRET");
  return missing;
}

/** The webhook middleware, or null when the app is not configured (the server then runs without webhooks). */
export async function createProbotMiddleware(opts: ProbotMiddlewareOptions): Promise<Middleware | null> {
  if (missingAppSettings(opts.env).length > 0) return null;
  const tuned = opts.retryAfterBaseMs !== undefined || opts.throttle === false;
  // A function default runs after Probot's own, so it can adjust what Probot set (the throttle options).
  const tune = (o: Record<string, unknown>): Record<string, unknown> => ({
    ...o,
    ...(opts.retryAfterBaseMs !== undefined ? { retry: { retryAfterBaseValue: opts.retryAfterBaseMs } } : {}),
    ...(opts.throttle === false ? { throttle: { ...(o.throttle as Record<string, unknown> | undefined), enabled: false } } : {}),
  });
  const overrides = {
    ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    ...(tuned ? { Octokit: ProbotOctokit.defaults(tune) } : {}),
  };
  const probot = createProbot({ env: opts.env, ...(Object.keys(overrides).length > 0 ? { overrides } : {}) });
  const webhooksPath = opts.env.WEBHOOK_PATH || DEFAULT_WEBHOOK_PATH;
  const handler = await createNodeMiddleware(clutchLuigiApp(opts.deps), { probot, webhooksPath });
  const limit = opts.bodyLimit ?? WEBHOOK_BODY_LIMIT;
  return async (req, res) => {
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
}
