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
  /**
   * Blob SHA of the file at the PR head (null when removed). With
   * `reviewedContent` it decides whether an older approval still holds.
   */
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
   * Blob SHAs at each reviewed commit, for the paths in `files`:
   * commit SHA → path → blob SHA (null: the path did not exist there).
   * An approval given on an older commit still counts under
   * `staleApprovals: content` only if every path in `files` has the same
   * blob here as `files[].sha` at the head. A missing entry counts as changed.
   */
  reviewedContent?: Record<string, Record<string, string | null>>;
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
