/**
 * Posting a rendered check run: one create, then one update per further 50
 * annotations (GitHub's per-call limit; it appends annotations across
 * updates). Returns the check run's id for later updates.
 */
import type { GitHubClient } from "./client.js";
import { splitAnnotations, type CheckRunPayload } from "./render.js";

export async function publishCheckRun(gh: GitHubClient, at: { owner: string; repo: string }, payload: CheckRunPayload): Promise<number> {
  const { create, updates } = splitAnnotations(payload);
  const { data } = await gh.request("POST /repos/{owner}/{repo}/check-runs", { ...at, ...create });
  const id = (data as { id: number }).id;
  for (const u of updates) {
    await gh.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { ...at, check_run_id: id, ...u });
  }
  return id;
}
