/**
 * The webhook endpoint: a Probot instance built from Probot's own environment
 * (APP_ID, PRIVATE_KEY / PRIVATE_KEY_PATH, WEBHOOK_SECRET, WEBHOOK_PATH,
 * GHE_HOST, GHE_PROTOCOL, LOG_LEVEL) and its node middleware, shaped as a
 * Middleware for startServer. Probot verifies each delivery's signature
 * before any handler runs.
 */
import { createNodeMiddleware, createProbot } from "probot";
import { clutchLuigiApp, type AppDepsSource } from "../index.js";
import type { Middleware } from "./http.js";

export const DEFAULT_WEBHOOK_PATH = "/api/github/webhooks";

export interface ProbotMiddlewareOptions {
  env: NodeJS.ProcessEnv;
  deps: AppDepsSource;
  /** GitHub's API root, when not from GHE_HOST (tests point it at a local fake). */
  baseUrl?: string;
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
  const handler = await createNodeMiddleware(clutchLuigiApp(opts.deps), { probot, webhooksPath: opts.env.WEBHOOK_PATH || DEFAULT_WEBHOOK_PATH });
  return async (req, res) => Boolean(await handler(req, res));
}
