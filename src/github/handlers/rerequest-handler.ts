/**
 * "Re-run" on the plan or policy check, or on the whole suite (`check_run.rerequested`,
 * `check_suite.rerequested`): evaluate each pull request GitHub lists afresh and publish
 * its checks again, exactly as a pull request event would. Re-running the run check
 * starts nothing: a run is retried with its own button.
 */
import type { GitHubClient } from "../client.js";
import type { Rerequested } from "./check-run-payload.js";
import type { AppDeps } from "./deps.js";
import { evaluateAndPublish } from "./evaluate-handler.js";

export const REEVALUATED_CHECKS = ["clutch-luigi/plan", "clutch-luigi/policy"];

export type RerequestOutcome = { kind: "ignored"; reason: string } | { kind: "evaluated"; pullNumbers: number[] };

export async function handleRerequest(deps: AppDeps, gh: GitHubClient, r: Rerequested, opts: { actor: string }): Promise<RerequestOutcome> {
  if (r.checkName !== null && !REEVALUATED_CHECKS.includes(r.checkName)) return { kind: "ignored", reason: `${r.checkName} is not re-evaluated` };
  if (r.pullNumbers.length === 0) return { kind: "ignored", reason: "GitHub names no pull request for this check" };
  for (const pullNumber of r.pullNumbers) await evaluateAndPublish(deps, gh, { owner: r.owner, repo: r.repo, pullNumber }, { actor: opts.actor });
  return { kind: "evaluated", pullNumbers: [...r.pullNumbers] };
}
