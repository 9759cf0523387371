/**
 * The git commands an auditor runs in a clone of the repository to check a
 * run's evidence against git itself: that the request at the merge commit is
 * the recorded blob with the recorded content hash, that the workflow, policy
 * and CODEOWNERS blobs are the ones on the base branch the approval was given
 * under and at the merge commit, and that the commits exist. Each command
 * prints one value first; `expect` is what that first word must be.
 */
export interface GitCheck {
  what: string;
  command: string;
  expect: string;
}

/** One shell word: paths come from a repository and may hold anything. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@^{}-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const isSha = (v: unknown): v is string => typeof v === "string" && /^[0-9a-f]{40}$/.test(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function blob(v: unknown): { path: string; sha: string } | null {
  return isObj(v) && typeof v.path === "string" && isSha(v.sha) ? { path: v.path, sha: v.sha } : null;
}

/** The checks for a `run.created` row's `evidence`; none for a run without it (a local run). */
export function evidenceGitChecks(evidence: unknown): GitCheck[] {
  if (!isObj(evidence)) return [];
  const out: GitCheck[] = [];
  const merge = evidence.mergeCommit;
  const head = evidence.headSha;
  const request = isObj(evidence.request) ? evidence.request : null;
  if (isSha(merge)) out.push({ what: "the merge commit exists", command: `git rev-parse --verify ${merge}^{commit}`, expect: merge });
  if (isSha(head)) out.push({ what: "the pull request head exists", command: `git rev-parse --verify ${head}^{commit}`, expect: head });
  if (isSha(merge) && request && typeof request.path === "string" && isSha(request.blobSha)) {
    const at = shellQuote(`${merge}:${request.path}`);
    out.push({ what: "the request at the merge commit is the recorded blob", command: `git show ${at} | git hash-object --stdin`, expect: request.blobSha });
    if (typeof request.sha256 === "string") {
      out.push({ what: "the request blob's content hash", command: `git cat-file -p ${request.blobSha} | sha256sum`, expect: request.sha256 });
    }
  }
  const authority = isObj(evidence.authority) ? evidence.authority : null;
  if (authority) {
    const base = authority.baseSha;
    const files = [
      ...(Array.isArray(authority.workflow) ? authority.workflow.map((w) => ["workflow", blob(w)] as const) : []),
      ["policy", blob(authority.policy)] as const,
      ["CODEOWNERS", blob(authority.codeowners)] as const,
    ];
    for (const [what, f] of files) {
      if (!f) continue;
      if (isSha(base)) out.push({ what: `the ${what} ${f.path} on the base branch the approval was given under`, command: `git rev-parse ${shellQuote(`${base}:${f.path}`)}`, expect: f.sha });
      if (isSha(merge)) out.push({ what: `the ${what} ${f.path} at the merge commit`, command: `git rev-parse ${shellQuote(`${merge}:${f.path}`)}`, expect: f.sha });
      out.push({ what: `the ${what} blob itself`, command: `git cat-file -p ${f.sha} | git hash-object --stdin`, expect: f.sha });
    }
  }
  const approvals = Array.isArray(evidence.approvals) ? evidence.approvals : [];
  for (const a of approvals) {
    if (isObj(a) && isSha(a.commit)) out.push({ what: `the commit ${String(a.login)} approved`, command: `git cat-file -t ${a.commit}`, expect: "commit" });
  }
  return out;
}
