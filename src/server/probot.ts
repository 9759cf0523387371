/**
 * The webhook endpoint: a Probot instance built from Probot's own environment
 * (APP_ID, PRIVATE_KEY / PRIVATE_KEY_PATH, WEBHOOK_SECRET, WEBHOOK_PATH,
 * GHE_HOST, GHE_PROTOCOL, LOG_LEVEL) and its node middleware, shaped as a
 * Middleware for startServer. Probot verifies each delivery's signature
 * before any handler runs.
 */
import type { IncomingMessage } from "node:http";
import { createNodeMiddleware, createProbot } from "probot";
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
  const probot = createProbot({ env: opts.env, ...(opts.baseUrl ? { overrides: { baseUrl: opts.baseUrl } } : {}) });
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
