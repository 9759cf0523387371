/**
 * The comment a finished run leaves on its pull request: result, duration, what
 * was undone, the audit reference an auditor can check, and for a break-glass run
 * the follow-up it still needs. The marker on its first line names the run, so a
 * process that lost the comment's id finds and edits it instead of posting again.
 */
import { utcText } from "../../audit/instant.js";
import { formatDuration } from "../../formats/duration.js";
import type { RunSnapshot } from "../../store/run-reports.js";
import { clip, inert } from "../render.js";
import { undoCauseOf } from "../../engine/undo-cause.js";
import { conclusionOf, inForce, oneLine, undoneLine, type RunConclusion } from "./run-check.js";

/** GitHub's limit on a comment body. */
export const MAX_COMMENT = 65_536;

export function commentMarker(runId: string): string {
  return `<!-- clutch-luigi:run:${runId} -->`;
}

const HEADLINE: Record<RunConclusion, string> = {
  success: "✅ Run succeeded",
  neutral: "↩️ Rolled back on request",
  failure: "❌ Run failed",
  action_required: "⚠️ Rollback failed: action required",
  cancelled: "⏹️ Run cancelled",
  timed_out: "⏱️ Run timed out",
};

export interface AnchorLine {
  seq: number;
  hash: string;
  /** Where it was published: `owner/repo@branch`. */
  where: string;
}

/** A time in UTC, and in the team's zone when the policy names one. */
export function whenText(d: Date, timeZone?: string | null): string {
  const utc = utcText(d);
  if (!timeZone) return utc;
  try {
    const local = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", day: "2-digit", month: "short", hour12: false, timeZoneName: "short" }).format(d);
    return `${utc} (${local}, ${timeZone})`;
  } catch {
    return utc;
  }
}

function headline(s: RunSnapshot, conclusion: RunConclusion): string {
  const asked = s.state === "rolled_back" ? undoCauseOf(s.error) : null;
  if (asked?.cause === "expired") return "⏲️ Expired as planned: the change was undone";
  if (asked?.cause === "revoked") return `✅ Revoked early by @${inert(asked.detail)}: the change was undone`;
  if (inForce(s)) return "✅ Run succeeded: the change is in force for a limited time";
  return HEADLINE[conclusion];
}

export function renderOutcomeComment(s: RunSnapshot, opts: { anchor?: AnchorLine | null; timeZone?: string | null } = {}): string {
  const conclusion = conclusionOf(s) ?? "failure";
  const end = s.finishedAt ?? s.createdAt;
  const failed = s.steps.filter((x) => x.state === "failed" || x.state === "rollback_failed");
  const lines = [
    commentMarker(s.runId),
    `### ${headline(s, conclusion)}`,
    "",
    `\`${inert(s.workflow)}\` for \`${inert(s.requestPath)}\`, requested by @${inert(s.requester)}.`,
    "",
    `- **Duration**: ${formatDuration(Math.max(0, end.getTime() - s.createdAt.getTime()))} (${utcText(s.createdAt, { seconds: true })} → ${utcText(end, { seconds: true })})`,
    `- **Steps**: ${s.steps.filter((x) => x.state === "succeeded" || x.state === "skipped").length} of ${s.steps.length} completed`,
    ...failed.map((x) => `- **${x.state === "failed" ? "Failed" : "Rollback failed"}**: \`${inert(x.id)}\`${x.error ? `: ${oneLine(x.error, 300)}` : ""}`),
    ...(inForce(s) ? [`- **Expires**: ${whenText(s.expiry!.expiresAt, opts.timeZone)}, when it is undone automatically (at most ${whenText(s.expiry!.maxAt, opts.timeZone)} with extensions); *Revoke now* on the run check ends it early`] : []),
    `- **Undone**: ${undoneLine(s)?.replace(/^Undone, in order: /, "") ?? "nothing"}`,
    `- **Audit**: run \`${s.runId}\`; the chain after the run: seq ${s.lastSeq}, hash \`${s.lastHash}\``,
    ...(opts.anchor ? [`- **Anchor**: chain head seq ${opts.anchor.seq} (\`${opts.anchor.hash.slice(0, 16)}…\`) published as the \`clutch-luigi/audit\` status on ${inert(opts.anchor.where)}`] : []),
    "",
    `Inspect it with \`clutch-luigi audit show ${s.runId}\`; check the chain with \`clutch-luigi audit verify\`.`,
  ];
  if (conclusion === "action_required") {
    lines.push("", "A rollback step failed and was not retried further: the system may be half-changed. Fix it by hand, then record what you did on this pull request.");
  }
  if (s.breakGlass) {
    lines.push(
      "",
      s.followedUp
        ? `**Break-glass run**, followed up by @${inert(s.followedUp.by)} at ${whenText(s.followedUp.at, opts.timeZone)}.`
        : "**Break-glass follow-up needed.** This run bypassed the usual approvals. A code owner of the request file (not the requester) should review it now: press *Record follow-up* on the run check.",
    );
  }
  return clip(lines.join("\n"), MAX_COMMENT);
}
