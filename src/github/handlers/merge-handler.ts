/**
 * A merged PR. Nothing about the merge is taken from the payload: the API says
 * whether the PR merged, at which commit and into which base; the merge commit
 * must be reachable from the default branch head. The approvals are verified
 * again with authority read at the merge commit, and that authority (workflow,
 * policy, CODEOWNERS blobs) must be the one the last evaluation before the
 * merge used, the one reviewers approved under. One request starts one run,
 * however many merge events arrive. A merge that cannot run is a failed
 * `clutch-luigi/run` check and a `run.refused` audit row; a claimed merge the
 * API denies is a `merge.ignored` row and nothing else.
 */
import type { Knex } from "knex";
import type { RunIdentity } from "../../engine/queue.js";
import { effectivePolicyConfig, type ChangedFile, type Verdict } from "../../policy/index.js";
import { MAX_FILE_BYTES, type RequestSpec, type WorkflowSpec } from "../../formats/index.js";
import { appendAudit } from "../../store/audit.js";
import { extendRun, ExtensionRefused } from "../../store/expiries.js";
import { expiryTerms } from "../../formats/expiry.js";
import { lastEvaluation, lastRefusalReasons, type RecordedEvaluation } from "../../store/evaluations.js";
import { CannotStartRun, createRun, findPullRequestRun, requestKey } from "../../store/runs.js";
import { requestOrNull, type GitHubClient, type PullRequestRef } from "../client.js";
import type { Evaluation } from "../evaluate.js";
import { FORK_PROBLEM, type AuthorityBlobs, type GatheredPullRequest } from "../facts.js";
import { publishCheck } from "../publish.js";
import { readRepoFile } from "../repo-files.js";
import { approvalEvidence, sha256Hex, type RunEvidence } from "../run-evidence.js";
import type { AppDeps } from "./deps.js";
import { evaluateAndPublish } from "./evaluate-handler.js";
import type { MergeClaim, MergedPullRequest } from "./payload.js";
import { RunRefusal } from "./refusal.js";
import { publishRunNow } from "../run-report/reporter.js";
import { runExtendedCheck, runRefusedCheck } from "./run-check.js";

export type MergeOutcome =
  | { kind: "no-request" }
  | { kind: "ignored"; reason: string }
  | { kind: "started"; runId: string; created: boolean }
  | { kind: "extended"; runId: string; until: string | null }
  | { kind: "refused"; reasons: string[] };

/** The same key for every delivery about this merge: a replay finds the run it started. */
export function runIdempotencyKey(m: MergedPullRequest): string {
  return `${m.owner}/${m.repo}#${m.pullNumber}@${m.mergeCommitSha}`;
}

/** Each approver with the review that counted: their latest approval, preferring one on the evaluated head. */
export function approversOf(verdict: Verdict, g: GatheredPullRequest): RunIdentity["approvers"] {
  return approvalEvidence(verdict, g).map((a) => (a.reviewId !== null ? { login: a.login, reviewId: a.reviewId } : { login: a.login }));
}

/**
 * Files of the PR that are authority (workflows, policy, CODEOWNERS). Once
 * merged they are the base branch's, so a run checked at the merged state
 * would be judged by rules its own PR wrote: such a PR never runs anything.
 */
export function isControlPlanePath(path: string): boolean {
  return path.startsWith("workflows/") || path.startsWith(".github/") || path === "CODEOWNERS" || path === "docs/CODEOWNERS";
}

export function controlPlaneChanges(files: readonly ChangedFile[]): string[] {
  const isAuthority = isControlPlanePath;
  return files.filter((f) => isAuthority(f.path) || (f.previousPath !== undefined && isAuthority(f.previousPath))).map((f) => f.path);
}

/** The team's time zone from the policy the merge was verified under, for the times the PR is told. */
function timeZoneOf(g: GatheredPullRequest): string | null {
  const c = effectivePolicyConfig(g.facts);
  return c.ok ? c.config.timeZone : null;
}

/** The request and its workflow as the evaluation checked them, or the problems that stop it (parsed once, by the evaluation). */
function specsOf(e: Evaluation): { request: RequestSpec; workflow: WorkflowSpec } | { problems: string[] } {
  const r = e.request;
  if (!r) return { problems: ["the request file could not be read"] };
  if (r.checked && r.problems.length === 0) return r.checked;
  return { problems: r.problems.length ? r.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`) : ["the request names no valid workflow"] };
}

interface ApiMergedPull {
  merged?: boolean;
  merge_commit_sha?: string | null;
  head: { sha: string };
  base: { ref: string; repo: { default_branch?: string } };
}

/** The PR as the API has it now, if it merged; otherwise why the claim is not a merge. */
async function confirmMerge(gh: GitHubClient, claim: MergeClaim | PullRequestRef): Promise<{ merged: MergedPullRequest; headSha: string; baseRef: string; defaultBranch: string } | { ignored: string }> {
  const pull = (await gh.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner: claim.owner, repo: claim.repo, pull_number: claim.pullNumber })).data as ApiMergedPull;
  if (pull.merged !== true) return { ignored: "the API says this pull request is not merged" };
  const sha = pull.merge_commit_sha;
  if (typeof sha !== "string" || !/^[0-9a-f]{40}$/.test(sha)) return { ignored: "the API gives no merge commit for this pull request" };
  return {
    merged: {
      owner: claim.owner,
      repo: claim.repo,
      pullNumber: claim.pullNumber,
      mergeCommitSha: sha,
      ...("installationId" in claim && claim.installationId !== undefined ? { installationId: claim.installationId } : {}),
    },
    headSha: pull.head.sha,
    baseRef: pull.base.ref,
    defaultBranch: pull.base.repo.default_branch ?? pull.base.ref,
  };
}

interface ApiComparison {
  status: "ahead" | "behind" | "identical" | "diverged";
  files?: { filename: string; previous_filename?: string }[];
}

async function compare(gh: GitHubClient, m: PullRequestRef, base: string, head: string): Promise<ApiComparison | null> {
  return requestOrNull<ApiComparison>(gh, "GET /repos/{owner}/{repo}/compare/{basehead}", { owner: m.owner, repo: m.repo, basehead: `${base}...${head}`, per_page: 100 });
}

/** The merge commit is in the default branch's history: comparing the head with it, the head is level or ahead. */
async function checkReachable(gh: GitHubClient, m: MergedPullRequest, defaultBranch: string): Promise<void> {
  const head = await requestOrNull<{ object: { sha: string } }>(gh, "GET /repos/{owner}/{repo}/git/ref/{ref}", { owner: m.owner, repo: m.repo, ref: `heads/${defaultBranch}` });
  if (!head) throw new RunRefusal([`the default branch ${defaultBranch} does not exist`]);
  const c = await compare(gh, m, head.object.sha, m.mergeCommitSha);
  if (!c || (c.status !== "identical" && c.status !== "behind")) {
    throw new RunRefusal([`the merge commit ${m.mergeCommitSha} is not reachable from the head of the default branch ${defaultBranch} (${head.object.sha}${c ? `: ${c.status}` : ": unknown commit"})`]);
  }
}

/** Control-plane files the merge commit itself changes against its first parent (GitHub lists up to 300 per page). */
async function mergeCommitControlPlane(gh: GitHubClient, m: MergedPullRequest): Promise<string[] | string> {
  const commit = await requestOrNull<{ parents: { sha: string }[] }>(gh, "GET /repos/{owner}/{repo}/git/commits/{commit_sha}", { owner: m.owner, repo: m.repo, commit_sha: m.mergeCommitSha });
  const parent = commit?.parents[0]?.sha;
  if (!parent) return `the merge commit ${m.mergeCommitSha} has no parent to compare it with`;
  const c = await compare(gh, m, parent, m.mergeCommitSha);
  if (!c) return `the merge commit ${m.mergeCommitSha} cannot be compared with its parent ${parent}`;
  const files = c.files ?? [];
  if (files.length >= 300) return `the merge commit ${m.mergeCommitSha} changes 300 files or more; not all can be checked`;
  return files.filter((f) => isControlPlanePath(f.filename) || (f.previous_filename !== undefined && isControlPlanePath(f.previous_filename))).map((f) => f.filename);
}

function isAuthorityBlobs(v: unknown): v is AuthorityBlobs {
  const a = v as Partial<AuthorityBlobs> | null;
  return typeof a === "object" && a !== null && typeof a.baseSha === "string" && Array.isArray(a.workflow);
}

const blobText = (b: { path: string; sha: string } | null | undefined): string => (b ? b.sha : "none (file absent)");

/**
 * Where the authority at the merge commit differs from the one the reviewers'
 * evaluation used: each workflow file, the policy file and CODEOWNERS, by blob.
 */
export function authorityDrift(approved: AuthorityBlobs, atMerge: AuthorityBlobs): string[] {
  const out: string[] = [];
  const paths = [...new Set([...approved.workflow, ...atMerge.workflow].map((w) => w.path))].sort();
  for (const path of paths) {
    const a = approved.workflow.find((w) => w.path === path);
    const b = atMerge.workflow.find((w) => w.path === path);
    if (a?.sha !== b?.sha) out.push(`workflow ${path} changed between the approval and the merge: approved under blob ${blobText(a)} (base ${approved.baseSha}), the merge commit has blob ${blobText(b)}`);
  }
  for (const [what, a, b] of [["policy", approved.policy, atMerge.policy], ["CODEOWNERS", approved.codeowners, atMerge.codeowners]] as const) {
    if (a?.path !== b?.path || a?.sha !== b?.sha) {
      const named = [what, b?.path ?? a?.path].filter(Boolean).join(" ");
      out.push(`${named} changed between the approval and the merge: approved under blob ${blobText(a)} (base ${approved.baseSha}), the merge commit has blob ${blobText(b)}`);
    }
  }
  return out;
}

async function refuse(deps: AppDeps, gh: GitHubClient, m: MergedPullRequest, requestPath: string | null, r: RunRefusal, opts: { actor: string; detailsUrl?: string }): Promise<MergeOutcome> {
  // The same refusal again (a replayed merge event) is no new decision: no second row, no duplicate check.
  const before = await lastRefusalReasons(deps.store.db, { repository: `${m.owner}/${m.repo}`, pullRequest: m.pullNumber, commit: m.mergeCommitSha });
  // The check goes out first, through the publisher: a replay (or a retry after GitHub failed) shows it once.
  await publishCheck(deps.store.db, gh, { owner: m.owner, repo: m.repo }, runRefusedCheck(m.mergeCommitSha, r.reasons, opts.detailsUrl));
  if (before && JSON.stringify(before) === JSON.stringify(r.reasons)) return { kind: "refused", reasons: [...r.reasons] };
  await deps.store.db.transaction((trx: Knex.Transaction) =>
    appendAudit(trx, {
      kind: "run.refused",
      actor: opts.actor,
      data: { repository: `${m.owner}/${m.repo}`, pullRequest: m.pullNumber, commit: m.mergeCommitSha, requestPath, blocking: [...r.blocking], reasons: [...r.reasons] },
    }),
  );
  return { kind: "refused", reasons: [...r.reasons] };
}

export async function handleMerge(deps: AppDeps, gh: GitHubClient, claim: MergeClaim | PullRequestRef, opts: { actor: string; detailsUrl?: string }): Promise<MergeOutcome> {
  const repository = `${claim.owner}/${claim.repo}`;
  const confirmed = await confirmMerge(gh, claim);
  if ("ignored" in confirmed) {
    const claimed = "claimedMergeCommitSha" in claim ? claim.claimedMergeCommitSha : null;
    await deps.store.db.transaction((trx: Knex.Transaction) =>
      appendAudit(trx, { kind: "merge.ignored", actor: opts.actor, data: { repository, pullRequest: claim.pullNumber, claimedMergeCommit: claimed, reason: confirmed.ignored } }),
    );
    return { kind: "ignored", reason: confirmed.ignored };
  }
  const m = confirmed.merged;
  // One request, one run: a later merge event (a replay, or one naming another commit) finds it and posts nothing.
  const existing = await findPullRequestRun(deps.store, repository, m.pullNumber);
  if (existing) return { kind: "started", runId: existing.runId, created: false };

  let requestPath: string | null = null;
  try {
    // The verdict the reviewers saw: read before this merge's own evaluation is recorded.
    const prior = await lastEvaluation(deps.store.db, { repository, pullRequest: m.pullNumber, headSha: confirmed.headSha });
    const { gathered, evaluation } = await evaluateAndPublish(deps, gh, m, { ...opts, authorityAt: m.mergeCommitSha });
    // A PR without a request (housekeeping, a control-plane change, another branch) runs nothing and is told nothing.
    if (!gathered.request) return { kind: "no-request" };
    requestPath = gathered.request.path;
    await checkReachable(gh, m, confirmed.defaultBranch);
    return await startRun(deps, gh, m, gathered, evaluation, prior, { ...opts, defaultBranch: confirmed.defaultBranch });
  } catch (e) {
    if (!(e instanceof RunRefusal)) throw e;
    return refuse(deps, gh, m, requestPath, e, opts);
  }
}

/**
 * An approved request that `extends:` a time-bound run moves that run's expiry
 * instead of starting another; the merge commit's run check says until when. A
 * replayed merge finds the extension done and writes nothing.
 */
async function extend(
  deps: AppDeps,
  gh: GitHubClient,
  m: MergedPullRequest,
  specs: { request: RequestSpec; workflow: WorkflowSpec },
  path: string,
  verdict: Verdict,
  gathered: GatheredPullRequest,
  opts: { actor: string; detailsUrl?: string },
): Promise<MergeOutcome> {
  const target = specs.request.extends!;
  const terms = expiryTerms(specs.workflow, specs.request.params ?? {});
  if (!terms) throw new RunRefusal([`${specs.workflow.name} is not time-bound: there is nothing to extend`]);
  const repository = `${m.owner}/${m.repo}`;
  let moved;
  try {
    moved = await extendRun(
      deps.store.db,
      {
        runId: target,
        durationMs: terms.durationMs,
        requestKey: requestKey(repository, m.pullNumber, path),
        actor: opts.actor,
        evidence: { repository, pullRequest: m.pullNumber, mergeCommit: m.mergeCommitSha, requestPath: path, requester: gathered.facts.author.login, approvers: approversOf(verdict, gathered) },
      },
      (trx, e) => appendAudit(trx, e),
    );
  } catch (e) {
    if (e instanceof ExtensionRefused) throw new RunRefusal([e.message]);
    throw e;
  }
  if (moved) {
    const until = moved.to.toISOString();
    await publishCheck(deps.store.db, gh, { owner: m.owner, repo: m.repo }, runExtendedCheck(m.mergeCommitSha, target, until, opts.detailsUrl));
  }
  return { kind: "extended", runId: target, until: moved ? moved.to.toISOString() : null };
}

async function startRun(
  deps: AppDeps,
  gh: GitHubClient,
  m: MergedPullRequest,
  gathered: GatheredPullRequest,
  evaluation: Evaluation,
  prior: RecordedEvaluation | null,
  opts: { actor: string; detailsUrl?: string; defaultBranch: string },
): Promise<MergeOutcome> {
  const verdict = evaluation.verdict;
  const defaultBranch = opts.defaultBranch;
  const path = gathered.request!.path;
  const blocking = [...new Set(verdict.blocking.map((b) => b.code))];
  const reasons: string[] = [];
  if (gathered.fork !== null) reasons.push(`${FORK_PROBLEM}: this pull request comes from ${gathered.fork}`);
  if (!verdict.approved) reasons.push(`not approved at the merged state: ${verdict.summary}`);

  const approvedUnder = prior && isAuthorityBlobs(prior.data.authority) ? prior.data.authority : null;
  if (!approvedUnder) {
    reasons.push(`no evaluation of the pull request head ${gathered.headSha} was recorded before the merge, so the workflow, policy and CODEOWNERS its approvals were given under are unknown`);
  } else {
    reasons.push(...authorityDrift(approvedUnder, gathered.authority));
  }
  const extra = await mergeCommitControlPlane(gh, m);
  if (typeof extra === "string") reasons.push(extra);
  else if (extra.length > 0) reasons.push(`the merge commit itself changes the control plane (${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}); it must carry the approved request only`);

  const authority = controlPlaneChanges(gathered.facts.files);
  if (authority.length > 0) {
    reasons.push(`the pull request also changes the control plane (${authority.slice(0, 5).join(", ")}${authority.length > 5 ? ", …" : ""}); a request runs only from a PR that changes nothing else`);
  }
  const specs = specsOf(evaluation);
  if ("problems" in specs) reasons.push(...specs.problems.map((p) => `request invalid: ${p}`));

  // What runs must be what was approved: the request at the merge commit is the approved blob.
  const approvedBlob = gathered.facts.files.find((f) => f.path === path)?.sha ?? null;
  const atMerge = await readRepoFile(gh, { owner: m.owner, repo: m.repo }, path, m.mergeCommitSha, MAX_FILE_BYTES + 1);
  if (atMerge.kind !== "file" || atMerge.sha !== approvedBlob) {
    reasons.push(`${path} at the merge commit ${m.mergeCommitSha.slice(0, 7)} is not the file that was approved`);
  }
  if (reasons.length > 0 || "problems" in specs || atMerge.kind !== "file" || !approvedUnder || !prior) throw new RunRefusal(reasons, blocking);
  if (specs.request.extends) return extend(deps, gh, m, specs, path, verdict, gathered, opts);

  const repository = `${m.owner}/${m.repo}`;
  const identity: RunIdentity = {
    repository,
    pullRequest: m.pullNumber,
    commit: m.mergeCommitSha,
    requester: gathered.facts.author,
    approvers: approversOf(verdict, gathered),
    breakGlass: verdict.breakGlass.active,
  };
  const evidence: RunEvidence = {
    repository,
    pullRequest: m.pullNumber,
    headSha: gathered.headSha,
    mergeCommit: m.mergeCommitSha,
    request: { path, blobSha: atMerge.sha, sha256: sha256Hex(atMerge.bytes) },
    authority: approvedUnder,
    evaluationSeq: prior.seq,
    approvals: approvalEvidence(verdict, gathered),
    ...(verdict.breakGlass.active ? { breakGlass: { label: verdict.breakGlass.label, reason: verdict.breakGlass.reason } } : {}),
  };
  let run;
  try {
    run = await createRun(deps.store, {
      ...identity,
      request: specs.request,
      workflow: specs.workflow,
      requestPath: path,
      idempotencyKey: runIdempotencyKey(m),
      requestKey: requestKey(repository, m.pullNumber, path),
      evidence: { ...evidence },
      ...(m.installationId !== undefined ? { installationId: m.installationId } : {}),
      report: { detailsUrl: opts.detailsUrl ?? null, defaultBranch, timeZone: timeZoneOf(gathered) },
      registry: deps.registry,
      actor: opts.actor,
    });
  } catch (e) {
    if (e instanceof CannotStartRun) throw new RunRefusal([e.message], blocking);
    throw e;
  }
  // Two deliveries racing past the early lookup: the loser finds the run and posts nothing.
  // The check goes out now with this delivery's client; if that fails, the reporter loop retries it.
  if (run.created) await publishRunNow(deps.store.db, gh, run.runId);
  return { kind: "started", runId: run.runId, created: run.created };
}
