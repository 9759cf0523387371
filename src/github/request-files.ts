/**
 * Which request a pull request makes. The rule: a PR adds at most one request
 * file, and never edits, renames or deletes one already there. A merged request
 * is the record of one run; editing it in place would rewrite that record, and
 * two requests in one PR would share one set of approvals. Deleting old
 * requests is housekeeping and is allowed in a PR that adds none.
 */
import type { ChangedFile } from "../policy/index.js";

/** `requests/**\/*.yaml` (and `.yml`). */
export const REQUEST_PATH = /^requests\/(?:[^/]+\/)*[^/]+\.ya?ml$/;

export interface RequestFileProblem {
  code: "request-edited" | "multiple-requests" | "request-removed-with-new";
  message: string;
  /** The file the problem is about, for an annotation. */
  file: string;
}

export interface RequestSelection {
  /** The one added request file, if the PR adds exactly one. */
  path: string | null;
  problems: RequestFileProblem[];
}

export function isRequestPath(path: string): boolean {
  return REQUEST_PATH.test(path);
}

export function selectRequest(files: readonly ChangedFile[]): RequestSelection {
  const problems: RequestFileProblem[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const f of files) {
    const now = isRequestPath(f.path);
    const before = f.previousPath !== undefined && isRequestPath(f.previousPath);
    if (!now && !before) continue;
    if (f.status === "added" || f.status === "copied") {
      if (now) added.push(f.path);
    } else if (f.status === "removed") {
      removed.push(f.path);
    } else if (f.status !== "unchanged") {
      problems.push({
        code: "request-edited",
        file: f.path,
        message: `${f.path} is an existing request (${f.status}${f.previousPath ? ` from ${f.previousPath}` : ""}); a request is the record of one run and is never edited: add a new file under requests/ instead`,
      });
    }
  }
  if (added.length > 1) {
    for (const p of added) {
      problems.push({
        code: "multiple-requests",
        file: p,
        message: `this pull request adds ${added.length} requests (${added.join(", ")}); one pull request carries one request, so each gets its own approvals: split them`,
      });
    }
  }
  if (added.length > 0 && removed.length > 0) {
    for (const p of removed) {
      problems.push({
        code: "request-removed-with-new",
        file: p,
        message: `${p} is deleted in the same pull request that adds ${added.join(", ")}; delete old requests in a pull request of their own`,
      });
    }
  }
  return { path: added.length === 1 && problems.length === 0 ? added[0]! : null, problems };
}
