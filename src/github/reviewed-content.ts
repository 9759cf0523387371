/**
 * What a reviewer saw: the blob SHA of each of the PR's paths at the commit
 * they approved, for `staleApprovals: content`. Read from the commit's
 * recursive tree (two calls, whatever the number of files).
 */
import type { ChangedFile } from "../policy/index.js";
import { requestOrNull, type GitHubClient } from "./client.js";
import type { RepoCoordinates } from "./repo-files.js";

/**
 * The blob of each PR path at `commit` (null where absent), from the commit's
 * recursive tree. A commit GitHub no longer has, or a tree too big to list in
 * full, leaves paths out, and a path left out counts as changed.
 */
export async function blobsAtCommit(gh: GitHubClient, at: RepoCoordinates, commit: string, files: readonly ChangedFile[]): Promise<Record<string, string | null> | null> {
  const c = await requestOrNull<{ tree: { sha: string } }>(gh, "GET /repos/{owner}/{repo}/git/commits/{commit_sha}", { ...at, commit_sha: commit });
  if (!c) return null;
  const tree = await requestOrNull<{ truncated: boolean; tree: { path: string; type: string; sha: string }[] }>(gh, "GET /repos/{owner}/{repo}/git/trees/{tree_sha}", {
    ...at,
    tree_sha: c.tree.sha,
    recursive: "1",
  });
  if (!tree) return null;
  const blobs = new Map(tree.tree.filter((e) => e.type === "blob").map((e) => [e.path, e.sha]));
  const out: Record<string, string | null> = {};
  for (const f of files) {
    const sha = blobs.get(f.path);
    if (sha !== undefined) out[f.path] = sha;
    else if (!tree.truncated) out[f.path] = null;
  }
  return out;
}
