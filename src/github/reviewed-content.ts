/**
 * What a reviewer saw, for `staleApprovals: content`: the change a commit
 * makes against a base branch, as GitHub's three-dot diff shows it — every
 * path whose blob differs between the merge base and the commit. Read from
 * the compare endpoint (for the merge base) and the two recursive trees, so
 * the cost does not grow with the number of files; trees are cached per
 * gather, since many reviewed commits share a merge base.
 */
import type { BaseChange, BlobSide, ChangeSnapshot } from "../policy/index.js";
import { paginate, requestOrNull, type GitHubClient } from "./client.js";
import type { RepoCoordinates } from "./repo-files.js";

type Tree = Map<string, string>;

/** Recursive trees by commit SHA; null where GitHub cannot give the whole tree. */
export type TreeCache = Map<string, Promise<Tree | null>>;

/** `treeSha`, when the caller already has it (a PR's commit list and a comparison's merge base carry it), saves reading the commit. */
async function readTree(gh: GitHubClient, at: RepoCoordinates, commit: string, treeSha?: string): Promise<Tree | null> {
  let sha = treeSha;
  if (sha === undefined) {
    const c = await requestOrNull<{ tree: { sha: string } }>(gh, "GET /repos/{owner}/{repo}/git/commits/{commit_sha}", { ...at, commit_sha: commit });
    if (!c) return null;
    sha = c.tree.sha;
  }
  const tree = await requestOrNull<{ truncated: boolean; tree: { path: string; type: string; sha: string }[] }>(gh, "GET /repos/{owner}/{repo}/git/trees/{tree_sha}", {
    ...at,
    tree_sha: sha,
    recursive: "1",
  });
  // A truncated listing leaves paths out, and a path left out would look unchanged.
  if (!tree || tree.truncated) return null;
  // Submodules ("commit" entries) are content too: a bumped pointer is a change.
  return new Map(tree.tree.filter((e) => e.type !== "tree").map((e) => [e.path, e.sha]));
}

function treeAt(gh: GitHubClient, at: RepoCoordinates, commit: string, cache: TreeCache, treeSha?: string): Promise<Tree | null> {
  let t = cache.get(commit);
  if (!t) cache.set(commit, (t = readTree(gh, at, commit, treeSha)));
  return t;
}

export interface ChangeOptions {
  /** Compare against this commit (the base branch head as already resolved) rather than the branch name: the same snapshot, and an answer that never changes. */
  againstSha?: string;
  /** Tree SHAs of commits, by commit SHA, as the PR's commit list gives them. */
  treeOf?: ReadonlyMap<string, string>;
}

/** Every path whose blob differs between two trees, as [before, after]. */
export function diffTrees(before: Tree, after: Tree): Record<string, [BlobSide, BlobSide]> {
  const out: Record<string, [BlobSide, BlobSide]> = {};
  for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const a = before.get(path) ?? null;
    const b = after.get(path) ?? null;
    if (a !== b) out[path] = [a, b];
  }
  return out;
}

/**
 * The change `commit` makes against `base` now (null when GitHub cannot say:
 * an unknown commit or branch, or a tree too big to list in full).
 */
export async function changeAgainst(gh: GitHubClient, at: RepoCoordinates, base: string, commit: string, cache: TreeCache, opts: ChangeOptions = {}): Promise<ChangeSnapshot | null> {
  const cmp = await requestOrNull<{ merge_base_commit: { sha: string; commit?: { tree?: { sha?: string } } } }>(gh, "GET /repos/{owner}/{repo}/compare/{basehead}", {
    ...at,
    basehead: `${opts.againstSha ?? base}...${commit}`,
    per_page: 1,
  });
  if (!cmp) return null;
  const mb = cmp.merge_base_commit;
  const [before, after] = await Promise.all([treeAt(gh, at, mb.sha, cache, mb.commit?.tree?.sha), treeAt(gh, at, commit, cache, opts.treeOf?.get(commit))]);
  if (!before || !after) return null;
  return { base, paths: diffTrees(before, after) };
}

interface ApiIssueEvent {
  event: string;
  created_at: string;
}

/**
 * When the PR's base branch was changed or force-pushed, from its issue
 * events. GitHub's REST events do not name the branch before a retarget, so
 * `from` stays unknown and an approval given before one is stale. Null when
 * the events cannot all be read: then no approval can be shown to predate
 * every change.
 */
export async function readBaseChanges(gh: GitHubClient, at: RepoCoordinates, pullNumber: number, maxPages: number): Promise<BaseChange[] | null> {
  const events = await paginate<ApiIssueEvent>(gh, "GET /repos/{owner}/{repo}/issues/{issue_number}/events", { ...at, issue_number: pullNumber }, { maxPages });
  if (events.truncated) return null;
  const out: BaseChange[] = [];
  for (const e of events.items) {
    if (e.event === "base_ref_changed") out.push({ at: e.created_at });
    else if (e.event === "base_ref_force_pushed") out.push({ at: e.created_at, kind: "force-push" });
  }
  return out;
}
