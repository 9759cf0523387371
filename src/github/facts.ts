/**
 * `gatherPullRequest`: everything the pure cores need about one pull request,
 * read through the GitHub API. Authority (CODEOWNERS, the policy config, the
 * workflow definitions, team membership) is read at the head commit of the
 * base branch as it is now, never from the PR; only the request file is read
 * at the PR head. Every list and file is bounded; whatever cannot be read in
 * full becomes a blocking problem, never a silent gap.
 */
import {
  isBotActor,
  mergeConfig,
  type Actor,
  type ChangedFile,
  type PolicyFacts,
  type Review,
  type ReviewState,
} from "../policy/index.js";
import { MAX_FILE_BYTES, parseSource, workflowNameOf, type ApprovalSpec, type SourceFile } from "../formats/index.js";
import { POLICY_FILE, readCodeowners, readPolicyConfigs } from "./authority.js";
import { paginate, requestOrNull, type GitHubClient, type PullRequestRef } from "./client.js";
import { listRepoDir, readRepoFile, type RepoCoordinates } from "./repo-files.js";
import { selectRequest } from "./request-files.js";
import { changeAgainst, readBaseChanges, type TreeCache } from "./reviewed-content.js";
import { namedTeams } from "./team-refs.js";
import { readTeams } from "./teams.js";

export { POLICY_FILE } from "./authority.js";
export const WORKFLOWS_DIR = "workflows";

export interface GatherLimits {
  /** GitHub lists at most 3000 files of a pull request. */
  maxFiles: number;
  /** GitHub lists at most 250 commits of a pull request. */
  maxCommits: number;
  maxReviews: number;
  /** Teams whose members are read. */
  maxTeams: number;
  maxTeamMembers: number;
  /** Distinct reviewers whose repository permission is read. */
  maxReviewers: number;
  /** Older reviewed commits whose change is read for `staleApprovals: content`. */
  maxReviewedCommits: number;
}

export const DEFAULT_LIMITS: GatherLimits = {
  maxFiles: 3000,
  maxCommits: 250,
  maxReviews: 1000,
  maxTeams: 50,
  maxTeamMembers: 1000,
  maxReviewers: 100,
  maxReviewedCommits: 20,
};

/** Something that makes the facts incomplete or the PR unacceptable; every one blocks. */
export interface GatherProblem {
  code: string;
  message: string;
  /** The file it is about, with a position when known (for annotations). */
  file?: string;
  line?: number;
  col?: number;
}

export interface GatheredRequest {
  path: string;
  /** The file's text at the PR head; null when it could not be read (see problems). */
  text: string | null;
  /** The workflow it names, when the file parses far enough to say. */
  workflow: string | null;
}

export interface GatheredPullRequest {
  ref: PullRequestRef;
  baseRef: string;
  /** Head of the base branch when the authority files were read. */
  baseSha: string;
  headSha: string;
  facts: PolicyFacts;
  /** The request the PR adds (at most one is accepted). */
  request: GatheredRequest | null;
  /** Workflow names on the base branch (for "did you mean" hints), and the source of the one requested. */
  workflowNames: string[];
  workflowFiles: SourceFile[];
  problems: GatherProblem[];
  /** Blob SHAs of the authority files read at `baseSha`: what an approval was given under. */
  authority: AuthorityBlobs;
  /** GitHub user ids of reviewers, by login as the API spelled it (for the run's evidence). */
  reviewerIds: Record<string, number>;
  /** The head's repository when it is not the base repository (a fork), as the API names it; null for a branch of the repository. */
  fork: string | null;
}

export const FORK_PROBLEM = "requests must come from a branch of the repository";

/**
 * The fork a pull request comes from, by the API's account (never the
 * payload's): its head repository differs from the base repository, or is
 * gone (a deleted fork). Null for a branch of the repository itself.
 */
export function forkOf(pull: Pick<ApiPull, "head" | "base">): string | null {
  const head = pull.head.repo;
  const base = pull.base.repo;
  if (!head) return "a deleted fork";
  const sameId = typeof head.id === "number" && typeof base.id === "number" ? head.id === base.id : true;
  const sameName = (head.full_name ?? "").toLowerCase() === (base.full_name ?? "").toLowerCase();
  return sameId && sameName ? null : (head.full_name ?? "a fork");
}

/** Where each authority file was read and which blob it was; null when the file is absent. */
export interface AuthorityBlobs {
  baseSha: string;
  workflow: { path: string; sha: string }[];
  policy: { path: string; sha: string } | null;
  codeowners: { path: string; sha: string } | null;
}

interface ApiUser {
  login: string;
  type: string;
  id?: number;
}

interface ApiPull {
  number: number;
  state: string;
  user: ApiUser | null;
  body: string | null;
  labels: { name?: string }[];
  head: { sha: string; repo: { id?: number; full_name?: string } | null };
  base: { ref: string; sha: string; repo: { id?: number; full_name?: string; name: string; owner: { login: string }; default_branch?: string } };
  changed_files?: number;
  commits?: number;
}

interface ApiFile {
  filename: string;
  status: ChangedFile["status"];
  sha: string | null;
  previous_filename?: string;
}

interface ApiReview {
  id: number;
  user: ApiUser | null;
  state: string;
  commit_id: string | null;
  submitted_at?: string;
}

interface ApiCommit {
  sha: string;
  author: ApiUser | null;
  committer: ApiUser | null;
  commit?: { tree?: { sha?: string } };
}

const REVIEW_STATES = new Set<ReviewState>(["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"]);

function toActor(u: ApiUser | null): Actor {
  return u ? { login: u.login, type: u.type } : { login: "ghost", type: "User" };
}

/**
 * Gathers the facts of a pull request. Throws only when GitHub itself fails
 * (network, 5xx, the PR does not exist); the caller retries or reports that.
 * Reads that do not depend on each other go out together, so the time taken
 * is a few round trips rather than one per read; problems are still listed
 * in a fixed order.
 */
export async function gatherPullRequest(gh: GitHubClient, ref: PullRequestRef, limits: GatherLimits = DEFAULT_LIMITS, opts: { authorityAt?: string } = {}): Promise<GatheredPullRequest> {
  const at: RepoCoordinates = { owner: ref.owner, repo: ref.repo };
  const pr = { owner: ref.owner, repo: ref.repo, pull_number: ref.pullNumber };
  const problems: GatherProblem[] = [];

  const pull = (await gh.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", pr)).data as ApiPull;
  const headSha = pull.head.sha;
  const author = toActor(pull.user);
  // Anyone can open a PR from a fork; its branch is outside the repository's protections and CI secrets.
  const fork = forkOf(pull);
  if (fork !== null) {
    problems.push({ code: "fork-pull-request", message: `${FORK_PROBLEM}: this pull request comes from ${fork}, and a request from a fork is never approved or run` });
  }

  // The base branch as it is now: pull.base.sha can lag behind it.
  // A merge pins it to the merge commit instead, so the run is judged by the authority it lands in.
  const baseRef = pull.base.ref;
  const resolveBase = async (): Promise<string> => {
    const baseHead = await requestOrNull<{ object: { sha: string } }>(gh, "GET /repos/{owner}/{repo}/git/ref/{ref}", { ...at, ref: `heads/${baseRef}` });
    if (!baseHead) throw new Error(`base branch ${baseRef} of ${ref.owner}/${ref.repo}#${ref.pullNumber} does not exist`);
    return baseHead.object.sha;
  };
  // Files (bounded by GitHub's own cap), reviews and commits, with the base head.
  const [baseSha, listed, reviewList, commitList] = await Promise.all([
    opts.authorityAt ?? resolveBase(),
    paginate<ApiFile>(gh, "GET /repos/{owner}/{repo}/pulls/{pull_number}/files", pr, { maxPages: Math.ceil(limits.maxFiles / 100) }),
    paginate<ApiReview>(gh, "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", pr, { maxPages: Math.ceil(limits.maxReviews / 100) }),
    paginate<ApiCommit>(gh, "GET /repos/{owner}/{repo}/pulls/{pull_number}/commits", pr, { maxPages: Math.ceil(limits.maxCommits / 100) }),
  ]);

  const fileCount = pull.changed_files ?? listed.items.length;
  if (fileCount > listed.items.length || (listed.truncated && pull.changed_files === undefined)) {
    problems.push({
      code: "too-many-files",
      message: `this pull request changes ${fileCount} files; GitHub lists at most ${limits.maxFiles}, so the files beyond cannot be checked against CODEOWNERS: split it`,
    });
  }
  const files: ChangedFile[] = listed.items.slice(0, limits.maxFiles).map((f) => ({
    path: f.filename,
    status: f.status,
    ...(f.previous_filename ? { previousPath: f.previous_filename } : {}),
    sha: f.status === "removed" ? null : f.sha,
  }));

  // Reviews: a review we cannot see might be a standing change request.
  if (reviewList.truncated) {
    problems.push({ code: "too-many-reviews", message: `this pull request has more than ${limits.maxReviews} reviews; not all of them can be read` });
  }
  const reviews: Review[] = [];
  const reviewerIds: Record<string, number> = {};
  for (const r of reviewList.items) {
    if (!r.user || !r.commit_id || !r.submitted_at || !REVIEW_STATES.has(r.state as ReviewState)) continue;
    if (typeof r.user.id === "number") reviewerIds[r.user.login] = r.user.id;
    reviews.push({ id: r.id, user: toActor(r.user), state: r.state as ReviewState, commitId: r.commit_id, submittedAt: r.submitted_at });
  }

  // Committers: anyone whose commit is in the PR cannot approve it.
  const commitCount = pull.commits ?? commitList.items.length;
  if (commitCount > commitList.items.length || commitCount > limits.maxCommits) {
    problems.push({
      code: "too-many-commits",
      message: `this pull request has ${commitCount} commits; GitHub lists at most ${limits.maxCommits}, so who committed cannot be verified: squash or split it`,
    });
  }
  const authorKey = author.login.toLowerCase();
  const committers = new Set<string>();
  for (const c of commitList.items) {
    for (const u of [c.author, c.committer]) if (u && u.login.toLowerCase() !== authorKey) committers.add(u.login);
  }

  // Reads that need only what is known now start at once, beside the authority files: the
  // reviewers' permissions and, for `staleApprovals: content` (the default), the issue events and
  // the changes. If the policy turns out not to compare content, the last two are dropped unread,
  // and a failure of theirs must not fail the evaluation.
  const reviewers = [...new Map(reviews.filter((r) => (r.state === "APPROVED" || r.state === "CHANGES_REQUESTED") && !isBotActor(r.user)).map((r) => [r.user.login.toLowerCase(), r.user.login])).values()];
  const permissionsRead = Promise.all(
    reviewers.slice(0, limits.maxReviewers).map(async (login) => {
      const p = await requestOrNull<{ permission: string }>(gh, "GET /repos/{owner}/{repo}/collaborators/{username}/permission", { ...at, username: login });
      return [login, p?.permission ?? "none"] as const;
    }),
  );
  const baseChangesRead = readBaseChanges(gh, at, ref.pullNumber, Math.ceil(limits.maxReviews / 100));
  const changesRead = readChanges();
  baseChangesRead.catch(() => undefined);
  changesRead.catch(() => undefined);

  // Authority at the base branch head, the request at the PR head, and the workflow listing: all at fixed SHAs.
  const selection = selectRequest(files);
  const codeownersProblems: GatherProblem[] = [];
  const configProblems: GatherProblem[] = [];
  const [{ codeowners, codeownersPath, codeownersSha }, { repoConfig, orgConfig, repoConfigSha }, requestFile, dir] = await Promise.all([
    readCodeowners(gh, at, baseSha, codeownersProblems),
    readPolicyConfigs(gh, at, baseSha, configProblems),
    selection.path ? readRepoFile(gh, at, selection.path, headSha, MAX_FILE_BYTES + 1) : Promise.resolve(null),
    listRepoDir(gh, at, WORKFLOWS_DIR, baseSha),
  ]);
  problems.push(...codeownersProblems, ...configProblems);
  const authority: AuthorityBlobs = {
    baseSha,
    workflow: [],
    policy: repoConfigSha ? { path: POLICY_FILE, sha: repoConfigSha } : null,
    codeowners: codeownersPath && codeownersSha ? { path: codeownersPath, sha: codeownersSha } : null,
  };
  const merged = mergeConfig(orgConfig, repoConfig);

  // The request, at the PR head.
  for (const p of selection.problems) problems.push({ code: p.code, message: p.message, file: p.file, line: 1, col: 1 });
  let request: GatheredRequest | null = null;
  const defaultBranch = pull.base.repo.default_branch;
  if (selection.path && defaultBranch !== undefined && baseRef !== defaultBranch) {
    // Anyone who can push a branch can put their own CODEOWNERS and workflows on it;
    // only the default branch's are guarded, so requests run only from there.
    problems.push({
      code: "request-off-default-branch",
      message: `${selection.path} targets branch ${baseRef}; requests are approved and run only against the default branch (${defaultBranch}), whose CODEOWNERS and workflows are protected`,
      file: selection.path,
      line: 1,
      col: 1,
    });
  }
  if (selection.path && requestFile) {
    const f = requestFile;
    request = { path: selection.path, text: null, workflow: null };
    if (f.kind === "file") {
      request.text = f.text;
      const parsed = parseSource(selection.path, f.bytes);
      const name = parsed.ok ? parsed.doc.value.workflow : undefined;
      if (typeof name === "string") request.workflow = name;
    } else {
      const why = f.kind === "too-large" ? `is ${f.size} bytes; the limit is ${MAX_FILE_BYTES} bytes (1 MiB)` : f.kind === "absent" ? "is not in the head commit" : `is a ${f.type}, not a file`;
      problems.push({ code: "request-unreadable", message: `${selection.path} ${why}`, file: selection.path, line: 1, col: 1 });
    }
  }

  // Workflow definitions, at the base branch head: only the one a request names is read.
  const listing = dir.filter((e) => e.type === "file" && /\.ya?ml$/.test(e.name));
  const workflowNames = [...new Set(listing.map((e) => workflowNameOf(e.path)))].sort();
  const workflowFiles: SourceFile[] = [];
  const workflows: NonNullable<PolicyFacts["workflows"]> = {};
  const workflowApprovals: unknown[] = [];
  if (request?.workflow) {
    const wanted = request.workflow;
    const entries = listing.filter((e) => workflowNameOf(e.path) === wanted);
    const read = await Promise.all(entries.map((entry) => readRepoFile(gh, at, entry.path, baseSha, MAX_FILE_BYTES + 1)));
    entries.forEach((entry, i) => {
      const f = read[i]!;
      if (f.kind === "file" || f.kind === "too-large") authority.workflow.push({ path: entry.path, sha: f.sha });
      if (f.kind !== "file") {
        problems.push({ code: "workflow-unreadable", message: `${entry.path} on the base branch cannot be read (${f.kind === "too-large" ? `${f.size} bytes` : f.kind})` });
        return;
      }
      workflowFiles.push({ path: entry.path, content: f.bytes });
      const parsed = parseSource(entry.path, f.bytes);
      if (parsed.ok && parsed.doc.value.kind === "Workflow") {
        const approval = parsed.doc.value.approval;
        // The shape is checked with the rest of the facts (facts-invalid blocks a malformed one).
        workflows[wanted] = approval === undefined ? {} : { approval: approval as ApprovalSpec };
        workflowApprovals.push(approval);
      }
    });
  }

  // Teams named by the authority files, with their members.
  const teamKeys = namedTeams({ codeowners, config: merged, workflowApprovals });
  if (teamKeys.length > limits.maxTeams) {
    problems.push({ code: "too-many-teams", message: `the policy names ${teamKeys.length} teams; at most ${limits.maxTeams} are read` });
  }
  const stale = (merged as { staleApprovals?: unknown } | undefined)?.staleApprovals;
  const contentStale = stale === undefined || stale === "content";
  const teamProblems: GatherProblem[] = [];
  const [teams, permissionList, baseChanges, changes] = await Promise.all([
    readTeams(gh, teamKeys.slice(0, limits.maxTeams), limits.maxTeamMembers, teamProblems),
    permissionsRead,
    contentStale ? baseChangesRead : undefined,
    contentStale ? changesRead : undefined,
  ]);
  problems.push(...teamProblems);
  if (reviewers.length > limits.maxReviewers) {
    problems.push({ code: "too-many-reviewers", message: `${reviewers.length} people reviewed this pull request; at most ${limits.maxReviewers} are checked` });
  }
  const permissions: Record<string, string> = Object.fromEntries(permissionList);

  // The change now and the change each approval was given on, for `staleApprovals: content`.
  async function readChanges(): Promise<Pick<PolicyFacts, "change" | "reviewedChanges">> {
    // Only commits reviewed under the current base can be compared: the branch before a retarget is unknown.
    const older = [...new Set(reviews.filter((r) => r.state === "APPROVED" && r.commitId !== headSha).map((r) => r.commitId))];
    const trees: TreeCache = new Map();
    const treeOf = new Map(commitList.items.flatMap((c) => (c.commit?.tree?.sha ? [[c.sha, c.commit.tree.sha] as const] : [])));
    // Against the base head already resolved (one snapshot, and a comparison of two SHAs is cached for good);
    // a merge keeps comparing with the branch, which its merge commit is on.
    const changeOpts = { treeOf, ...(opts.authorityAt === undefined ? { againstSha: baseSha } : {}) };
    // Read even with no older approval: once this head is approved and the PR moves on, this is
    // the reviewed change, and its answers are cached by SHA, so the later push costs no extra call.
    const change = await changeAgainst(gh, at, baseRef, headSha, trees, changeOpts);
    const reviewed = change ? await Promise.all(older.slice(-limits.maxReviewedCommits).map(async (commit) => ({ commit, c: await changeAgainst(gh, at, baseRef, commit, trees, changeOpts) }))) : [];
    return { ...(change ? { change } : {}), reviewedChanges: reviewed.flatMap(({ commit, c }) => (c ? [{ commit, ...c }] : [])) };
  }
  const reviewChanges: Pick<PolicyFacts, "change" | "reviewedChanges" | "baseChanges"> = { ...(changes ?? {}) };
  if (baseChanges) reviewChanges.baseChanges = baseChanges;
  else if (baseChanges === null) problems.push({ code: "too-many-events", message: `this pull request has more than ${limits.maxReviews} events; whether its base branch was changed after a review cannot be verified` });

  // A push while we read would mix two heads' facts; the push's own event re-evaluates.
  const after = (await gh.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", pr)).data as ApiPull;
  if (after.head.sha !== headSha) {
    problems.push({ code: "head-moved", message: `the pull request head moved from ${headSha.slice(0, 7)} to ${after.head.sha.slice(0, 7)} while it was being evaluated` });
  }

  const facts: PolicyFacts = {
    repository: `${ref.owner}/${ref.repo}`,
    author,
    headSha,
    files,
    reviews,
    teams,
    codeowners,
    ...(codeownersPath ? { codeownersPath } : {}),
    ...(repoConfig !== undefined ? { config: repoConfig } : {}),
    ...(orgConfig !== undefined ? { orgConfig } : {}),
    workflows,
    labels: pull.labels.map((l) => l.name).filter((n): n is string => typeof n === "string"),
    body: pull.body ?? "",
    requests: request?.workflow ? [{ path: request.path, workflow: request.workflow }] : [],
    ...reviewChanges,
    permissions,
    committers: [...committers],
  };
  return { ref, baseRef, baseSha, headSha, facts, request, workflowNames, workflowFiles, problems, authority, reviewerIds, fork };
}
