/**
 * The slice of a GitHub client the GitHub actions need: Octokit's
 * `request(route, params)`, and where it comes from, in this order:
 * 1. `services.github`: a client handed in by whoever built the worker (tests, embedders);
 * 2. the server configuration's `github.tokenSecret`: an explicit override, a token
 *    (PAT or installation token) the operator chose;
 * 3. `services.githubApp`: the app itself, with an installation token for the run's
 *    installation scoped to the run's repository (every worker with APP_ID and the key).
 */
import { Octokit } from "@octokit/rest";
import { configOf } from "../context.js";
import { ActionError, classifyError, type StepContext } from "../types.js";

export interface GitHubResponse {
  status: number;
  data: unknown;
}

export interface GitHubRequester {
  request(route: string, params?: Record<string, unknown>): Promise<GitHubResponse>;
}

/** Acting as the GitHub App: a client on the installation a run was started from. */
export interface GitHubAppService {
  /**
   * Authenticated with an installation token limited to `repository`; null when the run
   * has no installation. `remember` is told each token, so the step's logs redact it.
   */
  clientFor(runId: string, repository: string, remember?: (secret: string) => void): Promise<GitHubRequester | null>;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

const HOW_TO = "give the worker the app's credentials (APP_ID and PRIVATE_KEY or PRIVATE_KEY_PATH), or set github.tokenSecret in the server configuration";

/** `repository`: what the token may touch; default the run's own repository. */
export async function githubOf(ctx: StepContext, repository: string = ctx.identity.repository): Promise<GitHubRequester> {
  const gh = ctx.services.github as GitHubRequester | undefined;
  if (gh && typeof gh.request === "function") return gh;
  const config = configOf(ctx).github;
  if (config) {
    // Resolved per step through the context, so the token is redacted like any secret.
    const token = await ctx.secret(config.tokenSecret);
    return new Octokit({ auth: token, baseUrl: config.apiUrl, userAgent: "clutch-luigi", log: silent });
  }
  const app = ctx.services.githubApp as GitHubAppService | undefined;
  if (!app || typeof app.clientFor !== "function") throw new ActionError("misconfigured", `no GitHub credentials: ${HOW_TO}`);
  let client: GitHubRequester | null;
  try {
    client = await app.clientFor(ctx.identity.runId, repository, (t) => ctx.markSecret(t));
  } catch (e) {
    throw githubError(e, `installation token for ${repository}`, ctx);
  }
  if (!client) throw new ActionError("misconfigured", `run ${ctx.identity.runId} was not started from a GitHub App installation, so it cannot act as the app: set github.tokenSecret in the server configuration`);
  return client;
}

/** The HTTP status of an Octokit RequestError, if that is what was thrown. */
export function statusOf(e: unknown): number | undefined {
  const s = (e as { status?: unknown })?.status;
  return typeof s === "number" ? s : undefined;
}

/** Octokit failures as the classes retry policies match on. */
export function githubError(e: unknown, where: string, ctx: StepContext): ActionError {
  if (e instanceof ActionError) return e;
  if (ctx.signal.aborted) return new ActionError("timeout", `${where}: aborted`, { cause: e });
  const status = statusOf(e);
  const message = (e as Error)?.message ?? String(e);
  if (status !== undefined && status > 0) {
    const rateLimited = status === 429 || (status === 403 && /rate limit/i.test(message));
    const code = rateLimited ? "http-429" : status >= 500 ? "http-5xx" : status >= 400 ? "http-4xx" : "unexpected-status";
    return new ActionError(code, `${where}: GitHub answered ${status}: ${message}`, { cause: e });
  }
  const cls = classifyError(e);
  return new ActionError(cls === "error" ? "connection" : cls, `${where}: ${message}`, { cause: e });
}

export function splitRepository(repository: string): { owner: string; repo: string } {
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository);
  if (!m) throw new ActionError("invalid-input", `repository must be owner/name, got ${JSON.stringify(repository)}`);
  return { owner: m[1]!, repo: m[2]! };
}

/** Sleep that ends early (rejecting with `timeout`) when the step is aborted. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ActionError("timeout", "aborted"));
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new ActionError("timeout", "aborted while waiting"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
