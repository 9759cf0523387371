/**
 * Review reduction: which approvals count and which change requests stand.
 * A user's state is their latest review that carries one (APPROVED,
 * CHANGES_REQUESTED or DISMISSED), ordered by submission time then id.
 * COMMENTED and PENDING reviews never count and, as on GitHub, do not
 * withdraw an earlier approval or change request.
 */
import type { StaleApprovals } from "./config.js";
import type { Actor, BaseChange, ChangedFile, ChangeSnapshot, PolicyFacts, Review } from "./facts.js";

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

const listed = (items: readonly string[]): string =>
  items.slice(0, 5).join(", ") + (items.length > 5 ? ` and ${items.length - 5} more` : "");

/**
 * How two changes differ, one phrase per path ("P's change was not
 * reviewed"); empty when they are the same change path by path.
 */
export function changeDifferences(reviewed: ChangeSnapshot, now: ChangeSnapshot): string[] {
  const out: string[] = [];
  const paths = [...new Set([...Object.keys(reviewed.paths), ...Object.keys(now.paths)])].sort();
  for (const path of paths) {
    const was = Object.hasOwn(reviewed.paths, path) ? reviewed.paths[path] : undefined;
    const is = Object.hasOwn(now.paths, path) ? now.paths[path] : undefined;
    if (!is) out.push(`${path} is no longer changed`);
    else if (!was) out.push(`${path}'s change was not reviewed`);
    else if (was[0] !== is[0] || was[1] !== is[1]) out.push(`${path}'s change differs`);
  }
  return out;
}

/**
 * A listed file the change does not account for, or whose head blob it
 * contradicts: the change then cannot be trusted to be the PR's.
 */
function unaccountedFile(files: readonly ChangedFile[], change: ChangeSnapshot): string | null {
  for (const f of files) {
    for (const path of [f.path, ...(f.previousPath !== undefined && f.status === "renamed" ? [f.previousPath] : [])]) {
      if (!Object.hasOwn(change.paths, path)) return path;
    }
    if (f.sha !== undefined && change.paths[f.path]![1] !== f.sha) return f.path;
  }
  return null;
}

type BaseAtReview = { changed: false } | { changed: true; change: BaseChange };

/** The base branch a review was given under: the current one unless the base changed since. */
function baseAtReview(facts: PolicyFacts, review: Review): BaseAtReview {
  const t = Date.parse(review.submittedAt);
  const after = (facts.baseChanges ?? []).filter((c) => Date.parse(c.at) >= t).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  // A force-push anywhere after the review hides the merge base the reviewer saw.
  const first = after.find((c) => c.kind === "force-push") ?? after[0];
  return first ? { changed: true, change: first } : { changed: false };
}

/**
 * Whether an approval covers the PR's change now (`staleApprovals: content`):
 * the change it was given on, path → (base blob, head blob) against the base
 * branch of the time, must be the change now. Anything unknown is stale.
 */
export function coversChangeNow(facts: PolicyFacts, review: Review): { covers: true; note: string } | { covers: false; reason: string } {
  const c = short(review.commitId);
  const base = baseAtReview(facts, review);
  if (base.changed && base.change.kind === "force-push") {
    return { covers: false, reason: `the base branch was force-pushed at ${base.change.at}, after this review, so the merge base the reviewer saw is not known` };
  }
  if (base.changed && base.change.from === undefined) {
    return { covers: false, reason: `the base branch was changed at ${base.change.at}, after this review, and from which branch is not known, so the change it was given on cannot be shown to be the change now` };
  }
  const now = facts.change;
  if (!now) return { covers: false, reason: "the pull request's change is not known (no change in the facts)" };
  const missing = unaccountedFile(facts.files, now);
  if (missing !== null) return { covers: false, reason: `the pull request's change does not account for ${missing} as listed, so it cannot be compared` };
  const reviewedBase = base.changed ? base.change.from! : now.base;
  const reviewed = (facts.reviewedChanges ?? []).find((r) => r.commit === review.commitId && r.base === reviewedBase);
  if (!reviewed) return { covers: false, reason: `what ${c} changed against ${reviewedBase} is not known (no reviewedChanges for it), so it cannot be shown to be the change now` };
  const diffs = changeDifferences(reviewed, now);
  if (diffs.length > 0) {
    const against = reviewedBase === now.base ? `against ${now.base}` : `against ${reviewedBase} then and ${now.base} now`;
    return { covers: false, reason: `the change differs from the one approved (${against}): ${listed(diffs)}` };
  }
  const retarget = reviewedBase === now.base ? "" : ` (the base changed from ${reviewedBase} to ${now.base})`;
  return { covers: true, note: `the change is identical, path by path${retarget}` };
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
    const onHead = review.commitId === facts.headSha;
    const baseChanged = baseAtReview(facts, review).changed;
    if (onHead && !baseChanged) {
      approvals.set(loginKey(login), { login, review });
      continue;
    }
    const at = onHead ? `approved ${short(review.commitId)} before the base branch was changed` : `approved ${short(review.commitId)}, not the head ${short(facts.headSha)}`;
    if (options.staleApprovals === "keep") {
      approvals.set(loginKey(login), { login, review, carriedOver: `${at}; kept (staleApprovals: keep)` });
      continue;
    }
    if (options.staleApprovals === "dismiss") {
      skip(`${at} (staleApprovals: dismiss)`);
      continue;
    }
    const covered = coversChangeNow(facts, review);
    if (covered.covers) approvals.set(loginKey(login), { login, review, carriedOver: `${at}; ${covered.note}` });
    else skip(`${at}, and ${covered.reason}`);
  }
  return { approvals, changesRequested, ignored };
}
