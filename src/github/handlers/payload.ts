/**
 * What the handlers take from a webhook payload: where the PR is, who sent the
 * event, and for a merge the merge commit. Facts are never taken from here;
 * they are read afresh from the API.
 */
import type { PullRequestRef } from "../client.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** A merge as the API confirmed it: the merge commit is GitHub's answer, never the payload's. */
export interface MergedPullRequest extends PullRequestRef {
  mergeCommitSha: string;
  /** The delivery's `installation.id`: the run's workers act as the app on this installation. */
  installationId?: number;
}

/**
 * A `pull_request.closed` delivery that claims a merge. Only a claim: a signed
 * payload can still say `merged: true` for a PR that is open, or name any
 * commit, so the handler asks the API whether and where it merged.
 */
export type MergeClaim = PullRequestRef & {
  claimedMergeCommitSha: string | null;
  /** The delivery's `installation.id`: the run's workers act as the app on this installation. */
  installationId?: number;
};

/** A `pull_request.closed` delivery claiming a merged PR, or null for anything else. */
export function mergedPullRequest(eventName: string, payload: unknown): MergeClaim | null {
  if (eventName !== "pull_request" || !isObject(payload) || payload.action !== "closed") return null;
  const pr = payload.pull_request;
  const repo = payload.repository;
  if (!isObject(pr) || pr.merged !== true || !isObject(repo) || !isObject(repo.owner)) return null;
  const { login } = repo.owner;
  const { name } = repo;
  const { number, merge_commit_sha: sha } = pr;
  if (typeof login !== "string" || typeof name !== "string" || typeof number !== "number") return null;
  if (!Number.isSafeInteger(number) || number < 1) return null;
  // Recorded when the API disagrees; a malformed one is simply not a claim worth keeping.
  const claimed = typeof sha === "string" && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
  const installation = isObject(payload.installation) ? payload.installation.id : undefined;
  const installationId = typeof installation === "number" && Number.isSafeInteger(installation) && installation > 0 ? installation : undefined;
  return { owner: login, repo: name, pullNumber: number, claimedMergeCommitSha: claimed, ...(installationId !== undefined ? { installationId } : {}) };
}

/** The login that caused the delivery, for audit rows. */
export function senderOf(payload: unknown): string {
  const login = isObject(payload) && isObject(payload.sender) ? payload.sender.login : undefined;
  return typeof login === "string" && login !== "" ? login : "github";
}

/** The PR's web page, for the checks' "Details" link. */
export function pullRequestHtmlUrl(payload: unknown): string | undefined {
  const url = isObject(payload) && isObject(payload.pull_request) ? payload.pull_request.html_url : undefined;
  return typeof url === "string" && /^https?:\/\//.test(url) ? url : undefined;
}
