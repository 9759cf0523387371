/**
 * A PR or review event: gather the facts afresh, evaluate, publish the plan and
 * policy checks on the head that was evaluated (unchanged ones are not written
 * again), and record the verdict in the
 * audit chain. The check runs go out before the audit row: if GitHub refuses
 * them the delivery fails and is retried, and no verdict is recorded that no
 * one could see.
 */
import { appendAudit } from "../../store/audit.js";
import { activeExpiries, activeExpiry } from "../../store/expiries.js";
import { timeBoundConflicts, withTimeBoundConflicts } from "../time-bound.js";
import type { GitHubClient, PullRequestRef } from "../client.js";
import { evaluatePullRequest, type Evaluation } from "../evaluate.js";
import { gatherPullRequest, type GatheredPullRequest } from "../facts.js";
import { publishCheck } from "../publish.js";
import { renderPlanCheck, renderPolicyCheck } from "../render.js";
import type { AppDeps } from "./deps.js";

export interface EvaluatedPullRequest {
  gathered: GatheredPullRequest;
  evaluation: Evaluation;
}

export interface EvaluateOptions {
  /** Who caused the event (the delivery's sender), for the audit row. */
  actor: string;
  /** The PR's html_url from the payload, for the checks' "Details" link. */
  detailsUrl?: string;
  /** Read authority at this commit rather than the base branch head (a merge: its merge commit). */
  authorityAt?: string;
}

/** What the audit row keeps of an evaluation: the decision and why, never parameter values. */
export function evaluationAuditData(ref: PullRequestRef, e: Evaluation): Record<string, unknown> {
  const v = e.verdict;
  return {
    repository: `${ref.owner}/${ref.repo}`,
    pullRequest: ref.pullNumber,
    headSha: e.headSha,
    baseSha: e.baseSha,
    approved: v.approved,
    summary: v.summary,
    approvedBy: v.approvedBy,
    missing: v.missing.map((m) => ({ rule: m.rule, anyOf: m.anyOf, count: m.count })),
    blocking: [...new Set(v.blocking.map((b) => b.code))],
    breakGlass: v.breakGlass.active,
    request: e.request ? { path: e.request.path, workflow: e.request.workflow, valid: e.request.problems.length === 0 } : null,
    // Hashed with the decision: a merge compares its own authority with what this verdict was given under.
    authority: e.authority,
  };
}

/** A time-bound request checked against what is in force now (its lock, the run it extends). */
async function withTimeBound(deps: AppDeps, ref: PullRequestRef, e: Evaluation): Promise<Evaluation> {
  const plan = e.request?.plan;
  if (!plan?.expires) return e;
  const repository = `${ref.owner}/${ref.repo}`;
  // This pull request's own run is not a conflict with itself (a review after the merge re-evaluates it).
  const others = (x: { repository: string; pullRequest: number | null }) => !(x.repository.toLowerCase() === repository.toLowerCase() && x.pullRequest === ref.pullNumber);
  const onLock = plan.lock ? (await activeExpiries(deps.store.db, { lockKey: plan.lock })).filter((x) => others(x) && x.runId !== plan.extends) : [];
  const target = plan.extends ? await activeExpiry(deps.store.db, plan.extends) : null;
  return withTimeBoundConflicts(e, timeBoundConflicts(plan, repository, { onLock, target, now: new Date() }));
}

export async function evaluateAndPublish(deps: AppDeps, gh: GitHubClient, ref: PullRequestRef, opts: EvaluateOptions): Promise<EvaluatedPullRequest> {
  const gathered = await gatherPullRequest(gh, ref, undefined, opts.authorityAt !== undefined ? { authorityAt: opts.authorityAt } : {});
  const evaluation = await withTimeBound(deps, ref, evaluatePullRequest(gathered, deps.registry));
  const at = { owner: ref.owner, repo: ref.repo };
  const render = opts.detailsUrl ? { detailsUrl: opts.detailsUrl } : {};
  // Each is written only if it changed since the last evaluation of this head (see publish.ts);
  // the two are independent, and a failure of either fails the delivery (a retry rewrites only what is missing).
  await Promise.all([publishCheck(deps.store.db, gh, at, renderPlanCheck(evaluation, render)), publishCheck(deps.store.db, gh, at, renderPolicyCheck(evaluation, render))]);
  await deps.store.db.transaction((trx) => appendAudit(trx, { kind: "request.evaluated", actor: opts.actor, data: evaluationAuditData(ref, evaluation) }));
  return { gathered, evaluation };
}
