/**
 * The `githubApp` service workers hand to GitHub actions: the run's installation
 * (from the store) and a token for it scoped to one repository, from the app's
 * credentials in the worker's own environment. Nothing here is per process state
 * that decides anything: a worker on another machine with the same credentials
 * mints its own token for the same run.
 */
import { Octokit } from "@octokit/rest";
import type { GitHubAppService, GitHubRequester } from "../actions/builtin/github-client.js";
import { ActionError, classifyError } from "../actions/types.js";
import { AppCredentialsError, InstallationTokens, type AppCredentials } from "../github/installation-auth.js";
import { observeCalls, type GitHubCallObserver } from "../github/observe-calls.js";

export type InstallationOf = (runId: string) => Promise<number | null>;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

export function createGitHubAppService(
  credentials: AppCredentials,
  installationOf: InstallationOf,
  tokens = new InstallationTokens(credentials),
  /** The metrics' view of the calls GitHub steps make. */
  observe?: GitHubCallObserver,
): GitHubAppService {
  // A run's installation never changes: one read per run and process.
  const installations = new Map<string, Promise<number | null>>();
  return {
    async clientFor(runId: string, repository: string, remember?: (secret: string) => void): Promise<GitHubRequester | null> {
      let lookup = installations.get(runId);
      if (!lookup) {
        lookup = installationOf(runId);
        installations.set(runId, lookup);
        lookup.catch(() => installations.delete(runId));
        if (installations.size > 10_000) installations.delete(installations.keys().next().value as string);
      }
      const installationId = await lookup;
      if (installationId === null) return null;
      // The token is fetched per request, so a long step (a workflow-dispatch waiting
      // an hour) gets a renewed token for its later calls.
      const octokit = new Octokit({ baseUrl: credentials.baseUrl, userAgent: "clutch-luigi", log: silent });
      octokit.hook.before("request", async (options) => {
        const token = await tokenFor(tokens, installationId, repository);
        remember?.(token);
        options.headers.authorization = `token ${token}`;
      });
      if (observe) observeCalls(octokit, installationId, observe);
      return octokit;
    },
  };
}

/**
 * Token failures become ActionErrors without an HTTP status of their own: an action
 * must never read a failed token exchange (404: no such installation) as GitHub's
 * answer to its own call (404: not a member).
 */
async function tokenFor(tokens: InstallationTokens, installationId: number, repository: string): Promise<string> {
  try {
    return await tokens.token(installationId, repository);
  } catch (e) {
    if (e instanceof AppCredentialsError) throw new ActionError("misconfigured", e.message);
    const status = (e as { status?: unknown }).status;
    const where = `installation token for ${repository} (installation ${installationId})`;
    if (typeof status === "number" && status > 0) {
      const code = status === 429 ? "http-429" : status >= 500 ? "http-5xx" : "misconfigured";
      const hint = code === "misconfigured" ? ": is the app installed there, with access to this repository?" : "";
      throw new ActionError(code, `${where}: GitHub answered ${status}${hint}`);
    }
    const cls = classifyError(e);
    throw new ActionError(cls === "error" ? "connection" : cls, `${where}: ${(e as Error)?.message ?? String(e)}`);
  }
}
