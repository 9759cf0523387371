/**
 * Review reduction: which approvals count and which change requests stand.
 * A user's state is their latest review that carries one (APPROVED,
 * CHANGES_REQUESTED or DISMISSED), ordered by submission time then id.
 * COMMENTED and PENDING reviews never count and, as on GitHub, do not
 * withdraw an earlier approval or change request.
 */
import type { StaleApprovals } from "./config.js";
import type { Actor, PolicyFacts, Review } from "./facts.js";

export interface CountedApproval {
  login: string;
  review: Review;
  /** Set when the approval is for an older commit but still counts, and why. */
  carriedOver?: string;
}

export interface IgnoredApproval {
  login: string;
  reviewId: number;
  reason: string;
}

export interface ReviewAssessment {
  /** Approvals that count, keyed by lower-cased login. */
  approvals: Map<string, CountedApproval>;
  /** Users whose standing review requests changes. */
  changesRequested: { login: string; review: Review }[];
  ignored: IgnoredApproval[];
}

const STATEFUL = new Set(["APPROVED", "CHANGES_REQUESTED", "DISMISSED"]);
const WRITE = new Set(["admin", "maintain", "write"]);

/** Whether a login may approve at all as far as repository access goes (unknown access map: yes). */
export function hasWriteAccess(facts: PolicyFacts, login: string): boolean {
  if (!facts.permissions) return true;
  const key = loginKey(login);
  for (const [k, v] of Object.entries(facts.permissions)) if (loginKey(k) === key) return WRITE.has(v);
  return false;
}

/** GitHub logins are case-insensitive. */
export const loginKey = (login: string): string => login.toLowerCase();

export function isBotActor(actor: Actor, machineUsers: readonly string[] = []): boolean {
  if (actor.type === "Bot" || actor.login.endsWith("[bot]")) return true;
  const key = loginKey(actor.login);
  return machineUsers.some((m) => loginKey(m) === key);
}

function later(a: Review, b: Review): boolean {
  const ta = Date.parse(a.submittedAt);
  const tb = Date.parse(b.submittedAt);
  if (ta !== tb) return ta > tb;
  return a.id > b.id;
}

/** Each user's latest state-carrying review. */
export function latestReviews(reviews: readonly Review[]): Map<string, Review> {
  const latest = new Map<string, Review>();
  for (const r of reviews) {
    if (!STATEFUL.has(r.state)) continue;
    const key = loginKey(r.user.login);
    const prev = latest.get(key);
    if (!prev || later(r, prev)) latest.set(key, r);
  }
  return latest;
}

const short = (sha: string): string => sha.slice(0, 7);

/** Paths whose content differs between the reviewed commit and the head; empty when identical. */
export function changedSince(facts: PolicyFacts, commit: string): string[] {
  const reviewed = facts.reviewedContent && Object.hasOwn(facts.reviewedContent, commit) ? facts.reviewedContent[commit] : undefined;
  const changed: string[] = [];
  for (const f of facts.files) {
    const head = f.sha;
    // Unknown content on either side counts as changed: the approval cannot be shown to cover it.
    if (head === undefined || !reviewed || !Object.hasOwn(reviewed, f.path) || reviewed[f.path] !== head) changed.push(f.path);
  }
  return changed;
}

export function assessReviews(
  facts: PolicyFacts,
  options: { staleApprovals: StaleApprovals; machineUsers: readonly string[] },
): ReviewAssessment {
  const authorKey = loginKey(facts.author.login);
  const approvals = new Map<string, CountedApproval>();
  const changesRequested: ReviewAssessment["changesRequested"] = [];
  const ignored: IgnoredApproval[] = [];
  const committers = new Set((facts.committers ?? []).map(loginKey));
  const permissions = facts.permissions ? new Map(Object.entries(facts.permissions).map(([k, v]) => [loginKey(k), v])) : null;
  const latest = [...latestReviews(facts.reviews).values()].sort((a, b) => (later(a, b) ? 1 : -1));
  for (const review of latest) {
    const login = review.user.login;
    if (review.state === "CHANGES_REQUESTED") {
      changesRequested.push({ login, review });
      continue;
    }
    if (review.state !== "APPROVED") continue;
    const skip = (reason: string): void => {
      ignored.push({ login, reviewId: review.id, reason });
    };
    if (loginKey(login) === authorKey) {
      skip("the author of a pull request cannot approve it");
      continue;
    }
    if (committers.has(loginKey(login))) {
      skip(`${login} committed to this pull request, so cannot approve it`);
      continue;
    }
    if (isBotActor(review.user, options.machineUsers)) {
      skip("bots and machine users never approve");
      continue;
    }
    if (permissions) {
      const perm = permissions.get(loginKey(login));
      if (!perm || !WRITE.has(perm)) {
        skip(perm ? `${login} has ${perm} access; only approvals from users with write access count` : `${login}'s access to the repository is unknown`);
        continue;
      }
    }
    if (review.commitId === facts.headSha) {
      approvals.set(loginKey(login), { login, review });
      continue;
    }
    const at = `approved ${short(review.commitId)}, not the head ${short(facts.headSha)}`;
    if (options.staleApprovals === "keep") {
      approvals.set(loginKey(login), { login, review, carriedOver: `${at}; kept (staleApprovals: keep)` });
      continue;
    }
    if (options.staleApprovals === "dismiss") {
      skip(`${at} (staleApprovals: dismiss)`);
      continue;
    }
    if (!facts.reviewedContent || !Object.hasOwn(facts.reviewedContent, review.commitId)) {
      skip(`${at}, and what ${short(review.commitId)} contained is not known (no reviewedContent for it), so it cannot be shown unchanged`);
      continue;
    }
    const changed = changedSince(facts, review.commitId);
    if (changed.length === 0) {
      approvals.set(loginKey(login), { login, review, carriedOver: `${at}; every file is unchanged since` });
    } else {
      const list = changed.slice(0, 5).join(", ") + (changed.length > 5 ? ` and ${changed.length - 5} more` : "");
      skip(`${at}, and ${list} changed since`);
    }
  }
  return { approvals, changesRequested, ignored };
}
