/**
 * Publishing the audit chain head to GitHub and reading it back. The head goes out
 * as a commit status `clutch-luigi/audit` ("seq N hash H") on the head of the ops
 * repository's default branch; statuses are immutable history on GitHub, beyond
 * the reach of anyone who controls only the database.
 */
import { AUDIT_STATUS_CONTEXT, anchorDescription, parseAnchorDescription, type Anchor } from "../audit/anchor.js";
import type { ChainHead } from "../store/audit-query.js";
import { paginate, type GitHubClient } from "./client.js";

export interface AnchorRepo {
  owner: string;
  repo: string;
  /** The repository's default branch (webhook payloads carry it as `repository.default_branch`). */
  defaultBranch: string;
}

export interface PublishedAnchor extends ChainHead {
  sha: string;
}

async function branchHead(gh: GitHubClient, r: AnchorRepo): Promise<string> {
  const { data } = await gh.request("GET /repos/{owner}/{repo}/git/ref/{ref}", { owner: r.owner, repo: r.repo, ref: `heads/${r.defaultBranch}` });
  const sha = (data as { object?: { sha?: unknown } }).object?.sha;
  if (typeof sha !== "string") throw new Error(`${r.owner}/${r.repo}: branch ${r.defaultBranch} has no commit`);
  return sha;
}

/** Post the head as a success status on the default branch's head; null for an empty chain (nothing to anchor). */
export async function publishAuditAnchor(gh: GitHubClient, r: AnchorRepo, head: ChainHead): Promise<PublishedAnchor | null> {
  if (head.seq < 1) return null;
  const description = anchorDescription(head);
  const sha = await branchHead(gh, r);
  await gh.request("POST /repos/{owner}/{repo}/statuses/{sha}", {
    owner: r.owner,
    repo: r.repo,
    sha,
    state: "success",
    context: AUDIT_STATUS_CONTEXT,
    description,
  });
  return { ...head, sha };
}

export interface ReadAnchorsOptions {
  /** Commits walked back from the branch head (first parents). Default 200. */
  maxCommits?: number;
  /** Status pages read per commit. Default 3 (300 statuses). */
  maxPagesPerCommit?: number;
  /**
   * Only statuses posted by this login count (the app's bot, `name[bot]`). Anyone
   * with write access can post a status; without this filter a forged one can only
   * make verification fail, never pass.
   */
  creator?: string;
}

export interface ReadAnchors {
  anchors: Anchor[];
  commits: number;
  /** True when a bound was reached, so older anchors may exist. */
  truncated: boolean;
}

interface StatusItem {
  context?: string;
  description?: string | null;
  created_at?: string;
  creator?: { login?: string } | null;
}

/**
 * Every `clutch-luigi/audit` status on the default branch's recent history, newest
 * commit first. Bounded: `maxCommits` commits and `maxPagesPerCommit` pages each.
 */
export async function readAnchorsFromGitHub(gh: GitHubClient, r: AnchorRepo, opts: ReadAnchorsOptions = {}): Promise<ReadAnchors> {
  const maxCommits = opts.maxCommits ?? 200;
  const maxPages = opts.maxPagesPerCommit ?? 3;
  const anchors: Anchor[] = [];
  let truncated = false;
  let commits = 0;
  let sha: string | undefined = await branchHead(gh, r);
  const seen = new Set<string>();
  while (sha && !seen.has(sha)) {
    if (commits >= maxCommits) {
      truncated = true;
      break;
    }
    seen.add(sha);
    commits++;
    const page = await paginate<StatusItem>(gh, "GET /repos/{owner}/{repo}/commits/{ref}/statuses", { owner: r.owner, repo: r.repo, ref: sha }, { maxPages });
    truncated ||= page.truncated;
    for (const s of page.items) {
      if (s.context !== AUDIT_STATUS_CONTEXT) continue;
      const creator = s.creator?.login ?? "unknown";
      if (opts.creator && creator.toLowerCase() !== opts.creator.toLowerCase()) continue;
      const head = parseAnchorDescription(s.description);
      if (head) anchors.push({ ...head, source: `status on ${r.owner}/${r.repo}@${sha.slice(0, 12)} by ${creator} at ${s.created_at ?? "?"}` });
    }
    const { data } = await gh.request("GET /repos/{owner}/{repo}/git/commits/{commit_sha}", { owner: r.owner, repo: r.repo, commit_sha: sha });
    const parents = (data as { parents?: { sha?: unknown }[] }).parents ?? [];
    sha = typeof parents[0]?.sha === "string" ? parents[0].sha : undefined;
  }
  return { anchors, commits, truncated };
}
