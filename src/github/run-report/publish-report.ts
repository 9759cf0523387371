/**
 * One report, written to GitHub: the run check (created, or updated in place; a new
 * check run when a finished one must show another outcome, since GitHub cannot
 * reopen a completed check), then for a finished run the audit anchor and the one
 * outcome comment. An unchanged payload is not written. What was written before a
 * failure is returned with the error, so the retry does not write it twice.
 */
import { createHash } from "node:crypto";
import type { Knex } from "knex";
import { canonicalJson } from "../../store/audit.js";
import { chainHead } from "../../store/audit-query.js";
import type { PublishedReport, RunReportRow, RunSnapshot } from "../../store/run-reports.js";
import { publishAuditAnchor } from "../audit-anchor.js";
import { paginate, type GitHubClient } from "../client.js";
import { clearCheckActions, createCheckRun, updateCheckRun } from "../publish.js";
import { commentMarker, renderOutcomeComment, type AnchorLine } from "./outcome-comment.js";
import { isFinalRunState } from "../../engine/states.js";
import { renderRunCheck, type RunCheckRender } from "./run-check.js";

export class ReportWriteError extends Error {
  constructor(
    readonly partial: Partial<Pick<PublishedReport, "checkRunId" | "checkState" | "checkHash" | "commentId" | "commentHash">>,
    override readonly cause: unknown,
  ) {
    super(`publishing the run report failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "ReportWriteError";
  }
}

const hashOf = (v: unknown): string => createHash("sha256").update(canonicalJson(v)).digest("hex");

function repoOf(s: RunSnapshot): { owner: string; repo: string } {
  const [owner, repo] = s.repository.split("/");
  if (!owner || !repo) throw new Error(`run ${s.runId}: repository ${JSON.stringify(s.repository)} is not owner/name`);
  return { owner, repo };
}

interface CommentItem {
  id: number;
  body?: string | null;
}

/** The run's comment if one was posted (by an earlier attempt that lost its id), found by its marker. */
async function findComment(gh: GitHubClient, at: { owner: string; repo: string }, pullNumber: number, runId: string): Promise<number | null> {
  const marker = commentMarker(runId);
  const page = await paginate<CommentItem>(gh, "GET /repos/{owner}/{repo}/issues/{issue_number}/comments", { ...at, issue_number: pullNumber }, { maxPages: 5 });
  return page.items.find((c) => c.body?.startsWith(marker))?.id ?? null;
}

interface CheckItem {
  id: number;
  external_id?: string | null;
  status: string;
  conclusion?: string | null;
}

/**
 * The run's newest check newer than `after`, if an earlier attempt created one and died before
 * recording its id (GitHub made it, the answer or the process was lost). Found by the run id in
 * `external_id`, so a retry updates that check instead of showing the run twice.
 */
async function findCheck(gh: GitHubClient, at: { owner: string; repo: string }, check: RunCheckRender, after: number | null): Promise<CheckItem | null> {
  if (check.head_sha === "") return null;
  const page = await paginate<CheckItem>(
    gh,
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
    { ...at, ref: check.head_sha, check_name: check.name, filter: "all" },
    { maxPages: 5 },
    (d) => (d as { check_runs: CheckItem[] }).check_runs,
  );
  const mine = page.items.filter((c) => c.external_id === check.external_id && c.id > (after ?? 0));
  return mine.reduce<CheckItem | null>((newest, c) => (newest === null || c.id > newest.id ? c : newest), null);
}

/** GitHub keeps a completed check's status and conclusion: only one already showing this outcome can take it. */
const canShow = (c: CheckItem, check: RunCheckRender): boolean => c.status !== "completed" || (check.status === "completed" && c.conclusion === check.conclusion);

export interface PublishOptions {
  now: Date;
  /** Publish the chain head as the `clutch-luigi/audit` status when a run finishes (default true). */
  anchor?: boolean;
  /** How long to wait before the next write for this run (coalescing; default 1 s). */
  spacingMs?: number;
  onAnchorError?: (e: unknown) => void;
}

export async function publishRunReport(db: Knex, gh: GitHubClient, report: RunReportRow, s: RunSnapshot, opts: PublishOptions): Promise<PublishedReport> {
  const at = repoOf(s);
  const check = renderRunCheck(s, { now: opts.now, detailsUrl: report.detailsUrl });
  const checkHash = hashOf(check);
  const partial: ConstructorParameters<typeof ReportWriteError>[0] = {};
  try {
    let checkRunId = report.checkRunId;
    const reopened = report.checkState !== null && isFinalRunState(report.checkState) && (!isFinalRunState(s.state) || report.checkState !== s.state);
    if (checkRunId === null || reopened) {
      const lost = await findCheck(gh, at, check, checkRunId);
      if (lost !== null && canShow(lost, check)) {
        await updateCheckRun(gh, at, lost.id, check);
        checkRunId = lost.id;
      } else {
        // The old check keeps its outcome, not its buttons, and loses them before the new check shows:
        // nobody sees two checks offering buttons. Cosmetic: a click there is refused anyway.
        for (const old of [checkRunId, lost?.id ?? null]) if (old !== null) await clearCheckActions(gh, at, old).catch(() => undefined);
        checkRunId = await createCheckRun(gh, at, check);
      }
      Object.assign(partial, { checkRunId, checkState: s.state, checkHash });
    } else if (report.checkHash !== checkHash) {
      await updateCheckRun(gh, at, checkRunId, check);
      Object.assign(partial, { checkState: s.state, checkHash });
    }

    let commentId = report.commentId;
    let commentHash = report.commentHash;
    let anchoredSeq = report.anchoredSeq;
    if (isFinalRunState(s.state) && s.pullRequest !== null) {
      let anchor: AnchorLine | null = null;
      if (opts.anchor !== false && anchoredSeq < s.lastSeq) {
        try {
          const branch = report.defaultBranch ?? "main";
          const head = await chainHead(db);
          const published = await publishAuditAnchor(gh, { ...at, defaultBranch: branch }, head);
          if (published) {
            anchor = { seq: published.seq, hash: published.hash, where: `${s.repository}@${branch}` };
            anchoredSeq = published.seq;
          }
        } catch (e) {
          // The anchor is extra evidence; the outcome must reach the PR without it.
          opts.onAnchorError?.(e);
        }
      }
      const body = renderOutcomeComment(s, { anchor: anchor ?? null, timeZone: report.timeZone });
      // The anchor's seq moves with every later run; the comment is rewritten only when the run's own part changes.
      const bodyHash = hashOf(renderOutcomeComment(s, { timeZone: report.timeZone }));
      if (bodyHash !== commentHash) {
        commentId ??= await findComment(gh, at, s.pullRequest, s.runId);
        if (commentId === null) {
          const { data } = await gh.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { ...at, issue_number: s.pullRequest, body });
          commentId = (data as { id: number }).id;
        } else {
          await gh.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", { ...at, comment_id: commentId, body });
        }
        commentHash = bodyHash;
        Object.assign(partial, { commentId, commentHash });
      }
    }
    return {
      seq: s.lastSeq,
      checkRunId,
      checkState: s.state,
      checkHash,
      commentId,
      commentHash,
      anchoredSeq,
      nextAt: new Date(opts.now.getTime() + (opts.spacingMs ?? 1_000)),
    };
  } catch (e) {
    throw new ReportWriteError(partial, e);
  }
}
