/**
 * The snapshot the policy core decides on (DESIGN.md §4). The GitHub adapter
 * gathers it; tests and `clutch-luigi policy --facts` write it by hand. Every
 * field that carries authority (codeowners, config, workflows, teams) must come
 * from the base branch and the organisation, never from the PR under review.
 */
import type { ApprovalSpec } from "../formats/types.js";

export interface Actor {
  login: string;
  /** GitHub's account type: `User`, `Bot`, `Organization`, … */
  type: string;
}

export type FileStatus = "added" | "removed" | "modified" | "renamed" | "copied" | "changed" | "unchanged";

export interface ChangedFile {
  path: string;
  status: FileStatus;
  /** For renames: the path before, which must be approved too. */
  previousPath?: string;
  /** Blob SHA of the file at the PR head (null when removed). */
  sha?: string | null;
}

export type ReviewState = "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED" | "DISMISSED" | "PENDING";

export interface Review {
  id: number;
  user: Actor;
  state: ReviewState;
  /** The PR head commit the review was submitted on. */
  commitId: string;
  submittedAt: string;
}

/** A blob SHA on one side of a change; null where the path is absent. */
export type BlobSide = string | null;

/**
 * A change as a reviewer sees it: the diff of a commit against the merge base
 * with a base branch (GitHub's three-dot diff), path by path.
 */
export interface ChangeSnapshot {
  /** The base branch the diff is taken against, e.g. `main`. */
  base: string;
  /** Every path that differs: `[blob at the merge base, blob at the commit]`. */
  paths: Record<string, [BlobSide, BlobSide]>;
}

/** The change of one reviewed commit, against the base branch it was reviewed under. */
export interface ReviewedChange extends ChangeSnapshot {
  commit: string;
}

/** The PR's base branch was changed (retargeted) or its history rewritten (force-pushed). */
export interface BaseChange {
  /** When (ISO 8601). */
  at: string;
  /** Default `retarget`. After a force-push the merge base a reviewer saw is unknown. */
  kind?: "retarget" | "force-push";
  /** For a retarget: the base branch before, when known; GitHub's REST events do not say. */
  from?: string;
}

/** What the policy needs from a workflow definition (base branch). A full WorkflowSpec fits. */
export interface WorkflowApprovalInfo {
  approval?: ApprovalSpec;
}

export interface RequestRef {
  /** Path of the request file in the PR. */
  path: string;
  /** The workflow it names. */
  workflow: string;
}

export interface PolicyFacts {
  /** `owner/name`. */
  repository: string;
  author: Actor;
  headSha: string;
  files: ChangedFile[];
  reviews: Review[];
  /** `org/team` (lower-case slug) → member logins. Teams absent here have no known members. */
  teams: Record<string, string[]>;
  /** CODEOWNERS text from the base branch; null or absent when the repository has none. */
  codeowners?: string | null;
  /** Where it was found (`.github/CODEOWNERS`, …), for explanations. */
  codeownersPath?: string;
  /** Parsed `.github/clutch-luigi.yml` from the base branch, already merged over org defaults. */
  config?: unknown;
  /** Workflow name → its approval rules, from the base branch. */
  workflows?: Record<string, WorkflowApprovalInfo>;
  labels?: string[];
  /** The PR description; a break-glass reason is read from it. */
  body?: string;
  /** Which request files in the PR name which workflow. */
  requests?: RequestRef[];
  /**
   * The PR's change now: its diff against the current base branch. With
   * `reviewedChanges` it decides, under `staleApprovals: content`, whether an
   * approval given on another commit or under another base still covers it.
   */
  change?: ChangeSnapshot;
  /** The change each approved commit made against the base it was reviewed under. */
  reviewedChanges?: ReviewedChange[];
  /**
   * Every change of the PR's base branch, oldest first. An approval given
   * before one covers the PR's head only if the change is provably identical.
   * Absent: the base is taken never to have changed.
   */
  baseChanges?: BaseChange[];
  /**
   * Reviewer login → repository permission (`admin`, `maintain`, `write`,
   * `triage`, `read`, `none`). As on GitHub, only approvals from users with
   * write access count; a reviewer missing from a provided map does not count.
   * When the map is absent, write access is not checked and the verdict says so.
   */
  permissions?: Record<string, string>;
  /**
   * Logins of everyone who authored or pushed commits on the PR besides the
   * author. Their approvals do not count: a reviewer who changed the request
   * would otherwise approve their own change.
   */
  committers?: string[];
  /** Organisation-wide defaults (the org's `.github` repository), merged under `config`. */
  orgConfig?: unknown;
  /** Verified e-mail → login, for CODEOWNERS lines that name owners by e-mail. */
  emails?: Record<string, string>;
  /** The time freeze windows are evaluated at (ISO 8601); defaults to now. */
  now?: string;
}
