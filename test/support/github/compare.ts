/**
 * `GET /repos/{owner}/{repo}/compare/{base}...{head}` over the fake git store:
 * the status says where head stands against base (`identical`, `ahead` when
 * head descends from base, `behind` when base descends from head, otherwise
 * `diverged`), and the files are those changed from the merge base to head.
 */
import type { FakeGit } from "./git.js";
import type { FakeGitHub } from "./server.js";

export function serveCompare(fake: FakeGitHub, git: FakeGit): void {
  fake.route("GET /repos/{owner}/{repo}/compare/{basehead}", ({ params }) => {
    const r = git.repo(params.owner!, params.repo!);
    const [baseRef, headRef] = params.basehead!.split("...") as [string, string | undefined];
    const base = r && git.resolve(r, baseRef);
    const head = r && headRef !== undefined ? git.resolve(r, headRef) : undefined;
    if (!r || !base || !head) return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
    const mb = git.mergeBase(r, base.sha, head.sha);
    const headHistory = git.ancestors(r, head.sha);
    const baseHistory = git.ancestors(r, base.sha);
    const status = base.sha === head.sha ? "identical" : headHistory.has(base.sha) ? "ahead" : baseHistory.has(head.sha) ? "behind" : "diverged";
    const from = mb ? r.commits.get(mb)!.tree : new Map<string, string>();
    const files = [...new Set([...from.keys(), ...head.tree.keys()])].sort().flatMap((path) => {
      const a = from.get(path);
      const b = head.tree.get(path);
      if (a === b) return [];
      const st = a === undefined ? "added" : b === undefined ? "removed" : "modified";
      const url = `https://github.com/${r.owner}/${r.name}/blob/${head.sha}/${path}`;
      return [{ sha: (b ?? a)!, filename: path, status: st, additions: 1, deletions: st === "added" ? 0 : 1, changes: st === "modified" ? 2 : 1, blob_url: url, raw_url: url, contents_url: `${fake.url}/repos/${r.owner}/${r.name}/contents/${path}?ref=${head.sha}` }];
    });
    const html = `https://github.com/${r.owner}/${r.name}/compare/${params.basehead}`;
    return {
      status: 200,
      body: fake.api.sample("commit-comparison", {
        url: `${fake.url}/repos/${r.owner}/${r.name}/compare/${params.basehead}`,
        html_url: html,
        permalink_url: html,
        diff_url: `${html}.diff`,
        patch_url: `${html}.patch`,
        base_commit: git.commitToApi(r, base),
        merge_base_commit: git.commitToApi(r, mb ? r.commits.get(mb)! : base),
        status,
        ahead_by: [...headHistory].filter((s) => !baseHistory.has(s)).length,
        behind_by: [...baseHistory].filter((s) => !headHistory.has(s)).length,
        total_commits: [...headHistory].filter((s) => !baseHistory.has(s)).length,
        commits: [],
        files,
      }),
    };
  });
}
