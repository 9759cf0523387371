/**
 * GitHub API calls, seen for the metrics: each call's route template and status,
 * and the rate limit GitHub says is left for the installation. Attached with
 * Octokit's request hooks to the clients the app makes (webhook processing,
 * GitHub steps); the interface is structural, so nothing here imports Octokit.
 */

export interface GitHubCallObserver {
  /** `route` is the template (`GET /repos/{owner}/{repo}/pulls/{pull_number}`), never the filled-in URL; status 0: no answer. */
  call(route: string, status: number): void;
  rateLimitRemaining(installationId: number, remaining: number): void;
}

interface RequestOptions {
  method?: string;
  url?: string;
}

/** The part of an Octokit instance the observer hooks into. */
export interface HookableOctokit {
  hook: {
    after(name: "request", fn: (response: { status: number; headers: Record<string, unknown> }, options: RequestOptions) => void): void;
    error(name: "request", fn: (error: unknown, options: RequestOptions) => never): void;
  };
}

export function observeCalls(octokit: HookableOctokit, installationId: number, observe: GitHubCallObserver): void {
  const route = (o: RequestOptions) => `${o.method ?? "GET"} ${o.url ?? "?"}`;
  const remaining = (headers: unknown) => {
    const raw = (headers as Record<string, unknown> | undefined)?.["x-ratelimit-remaining"];
    const v = Number(raw);
    if (raw !== undefined && Number.isFinite(v)) observe.rateLimitRemaining(installationId, v);
  };
  octokit.hook.after("request", (response, options) => {
    observe.call(route(options), response.status);
    remaining(response.headers);
  });
  octokit.hook.error("request", (error, options) => {
    const e = error as { status?: unknown; response?: { headers?: unknown } } | null;
    observe.call(route(options), typeof e?.status === "number" ? e.status : 0);
    remaining(e?.response?.headers);
    throw error;
  });
}
