/**
 * The git-linked evidence a run carries in its hashed `run.created` row: which
 * blobs the request and its authority were, which commits, and for every
 * approval the review, the rule it satisfied and the team membership that made
 * it count, as read when the merge was decided. With it an auditor can check
 * the run against the repository alone (see `audit show --json`).
 */
import { createHash } from "node:crypto";
import type { Verdict } from "../policy/index.js";
import type { AuthorityBlobs, GatheredPullRequest } from "./facts.js";

export interface ApprovalEvidence {
  login: string;
  userId: number | null;
  reviewId: number | null;
  /** The commit the review was given on. */
  commit: string | null;
  submittedAt: string | null;
  /** Each rule this approval counted for, and through which owner entry (`@org/team`, `@login`), or null for "any reviewer". */
  rules: { rule: string; via: string | null }[];
}

export interface RunEvidence {
  repository: string;
  pullRequest: number;
  headSha: string;
  mergeCommit: string;
  request: { path: string; blobSha: string; sha256: string };
  /** The authority the approving evaluation used, on the base branch at that time; the merge commit holds the same blobs. */
  authority: AuthorityBlobs;
  /** The hashed `request.evaluated` row the approvals were given under. */
  evaluationSeq: number;
  approvals: ApprovalEvidence[];
  /** Set when the run bypassed the usual approvals: the label and the reason the PR gave, hashed with the run. */
  breakGlass?: { label: string | null; reason: string | null };
}

const lower = (s: string): string => s.toLowerCase();

/** Which owner entry of a rule let `login` count: themselves, or a team they were a member of. */
export function approvalVia(anyOf: readonly string[], login: string, teams: Record<string, string[]>): string | null {
  if (anyOf.length === 0) return null;
  const me = lower(login);
  for (const owner of anyOf) {
    if (!owner.startsWith("@")) continue;
    const name = owner.slice(1);
    if (!name.includes("/")) {
      if (lower(name) === me) return owner;
      continue;
    }
    const members = Object.entries(teams).find(([k]) => lower(k) === lower(name))?.[1] ?? [];
    if (members.some((m) => lower(m) === me)) return owner;
  }
  return null;
}

/** Each counted approver with the review that counted (their latest approval, preferring one on the evaluated head). */
export function approvalEvidence(verdict: Verdict, g: GatheredPullRequest): ApprovalEvidence[] {
  return verdict.approvedBy.map((login) => {
    const review = g.facts.reviews
      .filter((r) => r.state === "APPROVED" && lower(r.user.login) === lower(login))
      .sort((a, b) => Number(b.commitId === g.headSha) - Number(a.commitId === g.headSha) || b.submittedAt.localeCompare(a.submittedAt))[0];
    const userId = Object.entries(g.reviewerIds).find(([k]) => lower(k) === lower(login))?.[1] ?? null;
    return {
      login,
      userId,
      reviewId: review?.id ?? null,
      commit: review?.commitId ?? null,
      submittedAt: review?.submittedAt ?? null,
      rules: verdict.requirements
        .filter((r) => r.approvedBy.some((a) => lower(a) === lower(login)))
        .map((r) => ({ rule: r.rule, via: approvalVia(r.anyOf, login, g.facts.teams) })),
    };
  });
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
