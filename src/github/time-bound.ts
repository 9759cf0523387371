/**
 * Plan-time rules of time-bound runs, pure over what the store says is in force:
 * a request may not take a lock a time-bound change still holds (it should extend
 * that run instead), and an extension must name an active run of the same
 * workflow, repository and lock, and stay within that run's maximum.
 */
import { utcText } from "../audit/instant.js";
import type { Blocker } from "../policy/index.js";
import type { Plan } from "../formats/index.js";
import { withBlockers, type Evaluation } from "./evaluate.js";

export interface InForce {
  runId: string;
  workflow: string;
  repository: string;
  pullRequest: number | null;
  requester: string;
  lockKey: string | null;
  expiresAt: Date;
  maxAt: Date;
}

export interface TimeBoundFacts {
  /** Time-bound runs in force on the plan's lock. */
  onLock: readonly InForce[];
  /** The run `extends:` names, if it is in force. */
  target: InForce | null;
  now: Date;
}

export function timeBoundConflicts(plan: Plan, repository: string, facts: TimeBoundFacts): string[] {
  if (!plan.expires) return [];
  if (plan.extends) {
    const t = facts.target;
    if (!t) return [`extends: run ${plan.extends} is not a time-bound run in force (it never was, or it expired, was revoked or rolled back): request it anew instead`];
    const out: string[] = [];
    if (t.repository.toLowerCase() !== repository.toLowerCase()) out.push(`extends: run ${t.runId} belongs to ${t.repository}, not ${repository}`);
    if (t.workflow !== plan.workflow) out.push(`extends: run ${t.runId} ran ${t.workflow}, not ${plan.workflow}`);
    if ((t.lockKey ?? null) !== (plan.lock ?? null)) out.push(`extends: run ${t.runId} holds ${t.lockKey ?? "no lock"}, while this request is for ${plan.lock ?? "no lock"}: an extension must be for the same thing`);
    const until = new Date(facts.now.getTime() + plan.expires.afterMs);
    if (Number.isFinite(plan.expires.afterMs) && until > t.maxAt) {
      out.push(`extends: ${plan.expires.after} from now (${utcText(until)}) passes run ${t.runId}'s maximum, ${utcText(t.maxAt)} (expires.max ${plan.expires.max} from when it started)`);
    }
    return out;
  }
  return facts.onLock.map(
    (r) =>
      `run ${r.runId} (${r.workflow}, requested by @${r.requester}${r.pullRequest !== null ? ` in #${r.pullRequest}` : ""}) already holds ${r.lockKey} until ${utcText(r.expiresAt)}: extend it with \`extends: ${r.runId}\` instead, or wait until it ends`,
  );
}

/** The evaluation with the conflicts as problems of the request (so no plan) and as blockers of the verdict. */
export function withTimeBoundConflicts(e: Evaluation, messages: readonly string[]): Evaluation {
  if (messages.length === 0 || !e.request) return e;
  const { plan: _plan, checked: _checked, ...request } = e.request;
  const blockers: Blocker[] = messages.map((message) => ({ code: "time-bound-conflict", message }));
  return {
    ...e,
    request: { ...request, problems: [...request.problems, ...messages.map((message) => ({ file: request.path, line: 1, col: 1, message }))] },
    verdict: withBlockers(e.verdict, blockers),
  };
}
