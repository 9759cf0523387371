/**
 * A merged PR: verify the approvals again at the merged state, then start the
 * request's run once per merge commit. The run's identity (requester,
 * approvers with their review ids, break-glass) comes from that second
 * verdict, never from the payload. A merge that cannot run is a failed
 * `clutch-luigi/run` check and a `run.refused` audit row.
 */
import type { Knex } from "knex";
import type { RunIdentity } from "../../engine/queue.js";
import type { ChangedFile, Verdict } from "../../policy/index.js";
import { buildCatalog, checkRequest, MAX_FILE_BYTES, parseSource, type RequestSpec, type WorkflowSpec } from "../../formats/index.js";
import { appendAudit } from "../../store/audit.js";
import { createRun } from "../../store/runs.js";
import type { GitHubClient } from "../client.js";
import type { GatheredPullRequest } from "../facts.js";
import { readRepoFile } from "../repo-files.js";
import type { AppDeps } from "./deps.js";
import { evaluateAndPublish } from "./evaluate-handler.js";
import type { MergedPullRequest } from "./payload.js";
import { runRefusedCheck, runStartedCheck, type RunCheckPayload } from "./run-check.js";

export type MergeOutcome =
  | { kind: "no-request" }
  | { kind: "started"; runId: string; created: boolean }
  | { kind: "refused"; reasons: string[] };

/** The same key for every delivery about this merge: a replay finds the run it started. */
export function runIdempotencyKey(m: MergedPullRequest): string {
  return `${m.owner}/${m.repo}#${m.pullNumber}@${m.mergeCommitSha}`;
}

/** Each approver with the review that counted: their latest approval, preferring one on the evaluated head. */
export function approversOf(verdict: Verdict, g: GatheredPullRequest): RunIdentity["approvers"] {
  return verdict.approvedBy.map((login) => {
    const mine = g.facts.reviews
      .filter((r) => r.state === "APPROVED" && r.user.login.toLowerCase() === login.toLowerCase())
      .sort((a, b) => Number(b.commitId === g.headSha) - Number(a.commitId === g.headSha) || b.submittedAt.localeCompare(a.submittedAt));
    return mine[0] ? { login, reviewId: mine[0].id } : { login };
  });
}

/**
 * Files of the PR that are authority (workflows, policy, CODEOWNERS). Once
 * merged they are the base branch's, so a run checked at the merged state
 * would be judged by rules its own PR wrote: such a PR never runs anything.
 */
export function controlPlaneChanges(files: readonly ChangedFile[]): string[] {
  const isAuthority = (path: string) => path.startsWith("workflows/") || path.startsWith(".github/") || path === "CODEOWNERS" || path === "docs/CODEOWNERS";
  return files.filter((f) => isAuthority(f.path) || (f.previousPath !== undefined && isAuthority(f.previousPath))).map((f) => f.path);
}

/** The request and its workflow as the run needs them, or the problems that stop it. */
function loadSpecs(g: GatheredPullRequest, deps: AppDeps): { request: RequestSpec; workflow: WorkflowSpec } | { problems: string[] } {
  const r = g.request;
  if (!r || r.text === null) return { problems: ["the request file could not be read"] };
  const parsed = parseSource(r.path, r.text);
  if (!parsed.ok) return { problems: parsed.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`) };
  const { catalog } = buildCatalog(g.workflowFiles, deps.registry);
  const checked = checkRequest(parsed.doc, catalog, deps.registry);
  if (!checked.request || !checked.workflow || checked.problems.length > 0) {
    return { problems: checked.problems.length ? checked.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`) : ["the request names no valid workflow"] };
  }
  return { request: checked.request, workflow: checked.workflow };
}

async function postRunCheck(gh: GitHubClient, m: MergedPullRequest, payload: RunCheckPayload): Promise<void> {
  await gh.request("POST /repos/{owner}/{repo}/check-runs", { owner: m.owner, repo: m.repo, ...payload });
}

export async function handleMerge(deps: AppDeps, gh: GitHubClient, m: MergedPullRequest, opts: { actor: string; detailsUrl?: string }): Promise<MergeOutcome> {
  // The checks are published again too: they show what the run was decided on.
  const { gathered, evaluation } = await evaluateAndPublish(deps, gh, m, opts);
  if (!gathered.request) return { kind: "no-request" };
  const path = gathered.request.path;

  const reasons: string[] = [];
  if (!evaluation.verdict.approved) reasons.push(`not approved at the merged state: ${evaluation.verdict.summary}`);
  const authority = controlPlaneChanges(gathered.facts.files);
  if (authority.length > 0) {
    reasons.push(`the pull request also changes the control plane (${authority.slice(0, 5).join(", ")}${authority.length > 5 ? ", …" : ""}); a request runs only from a PR that changes nothing else`);
  }
  const specs = loadSpecs(gathered, deps);
  if ("problems" in specs) reasons.push(...specs.problems.map((p) => `request invalid: ${p}`));

  // What runs must be what was approved: the request at the merge commit is the approved blob.
  const approvedBlob = gathered.facts.files.find((f) => f.path === path)?.sha ?? null;
  const atMerge = await readRepoFile(gh, { owner: m.owner, repo: m.repo }, path, m.mergeCommitSha, MAX_FILE_BYTES + 1);
  if (atMerge.kind !== "file" || atMerge.sha !== approvedBlob) {
    reasons.push(`${path} at the merge commit ${m.mergeCommitSha.slice(0, 7)} is not the file that was approved`);
  }

  if (reasons.length === 0 && !("problems" in specs)) {
    const identity: RunIdentity = {
      repository: `${m.owner}/${m.repo}`,
      pullRequest: m.pullNumber,
      commit: m.mergeCommitSha,
      requester: gathered.facts.author,
      approvers: approversOf(evaluation.verdict, gathered),
      breakGlass: evaluation.verdict.breakGlass.active,
    };
    try {
      const run = await createRun(deps.store, {
        ...identity,
        request: specs.request,
        workflow: specs.workflow,
        requestPath: path,
        idempotencyKey: runIdempotencyKey(m),
        ...(m.installationId !== undefined ? { installationId: m.installationId } : {}),
        registry: deps.registry,
        actor: opts.actor,
      });
      // A replayed merge finds its run; its check was posted the first time.
      if (run.created) await postRunCheck(gh, m, runStartedCheck(m.mergeCommitSha, { ...run, workflow: specs.workflow.name, requestPath: path }, opts.detailsUrl));
      return { kind: "started", runId: run.runId, created: run.created };
    } catch (e) {
      reasons.push(e instanceof Error ? e.message : String(e));
    }
  }

  await deps.store.db.transaction((trx: Knex.Transaction) =>
    appendAudit(trx, {
      kind: "run.refused",
      actor: opts.actor,
      data: {
        repository: `${m.owner}/${m.repo}`,
        pullRequest: m.pullNumber,
        commit: m.mergeCommitSha,
        requestPath: path,
        blocking: [...new Set(evaluation.verdict.blocking.map((b) => b.code))],
        reasons,
      },
    }),
  );
  await postRunCheck(gh, m, runRefusedCheck(m.mergeCommitSha, reasons, opts.detailsUrl));
  return { kind: "refused", reasons };
}
