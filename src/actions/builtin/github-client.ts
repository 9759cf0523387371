/**
 * The slice of a GitHub client the GitHub actions need: Octokit's
 * `request(route, params)`. The app passes its installation Octokit as
 * `services.github`; without one, the server configuration's `github.tokenSecret`
 * gives a token-authenticated client (`clutch-luigi run` and `worker`).
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

const silent = { debug() {}, info() {}, warn() {}, error() {} };

export async function githubOf(ctx: StepContext): Promise<GitHubRequester> {
  const gh = ctx.services.github as GitHubRequester | undefined;
  if (gh && typeof gh.request === "function") return gh;
  const config = configOf(ctx).github;
  if (!config) {
    throw new ActionError("misconfigured", "no GitHub client: the app passes its installation client, or set github.tokenSecret in the server configuration");
  }
  // Resolved per step through the context, so the token is redacted like any secret.
  const token = await ctx.secret(config.tokenSecret);
  return new Octokit({ auth: token, baseUrl: config.apiUrl, userAgent: "clutch-luigi", log: silent });
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
