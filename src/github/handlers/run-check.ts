/**
 * The `clutch-luigi/run` check on the merge commit: in progress with the run's
 * id once a run starts, or a failure saying why the merge started nothing.
 */
import { clip, MAX_OUTPUT_TEXT, MAX_TITLE } from "../render.js";

export const RUN_CHECK = "clutch-luigi/run";

export interface RunCheckPayload {
  name: string;
  head_sha: string;
  status: "in_progress" | "completed";
  conclusion?: "failure";
  external_id?: string;
  details_url?: string;
  output: { title: string; summary: string };
}

/** Reasons can carry user text (paths, workflow names): no HTML. */
function inert(text: string): string {
  return text.replace(/[<>&]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&amp;"));
}

export function runStartedCheck(mergeSha: string, run: { runId: string; workflow: string; requestPath: string; state: string }, detailsUrl?: string): RunCheckPayload {
  return {
    name: RUN_CHECK,
    head_sha: mergeSha,
    status: "in_progress",
    external_id: run.runId,
    ...(detailsUrl ? { details_url: detailsUrl } : {}),
    output: {
      title: clip(`Run ${run.runId} ${run.state === "waiting" ? "waiting for its lock" : "started"}`, MAX_TITLE),
      summary: clip(
        [`Workflow \`${inert(run.workflow)}\` for \`${inert(run.requestPath)}\`.`, "", `Run id: \`${run.runId}\``, `Follow it with \`clutch-luigi audit show ${run.runId}\`.`].join("\n"),
        MAX_OUTPUT_TEXT,
      ),
    },
  };
}

export function runRefusedCheck(mergeSha: string, reasons: readonly string[], detailsUrl?: string): RunCheckPayload {
  return {
    name: RUN_CHECK,
    head_sha: mergeSha,
    status: "completed",
    conclusion: "failure",
    ...(detailsUrl ? { details_url: detailsUrl } : {}),
    output: {
      title: clip(`Not run: ${reasons[0] ?? "refused"}`.replace(/(?<!\s)\s*\n\s*/g, " "), MAX_TITLE),
      summary: clip(["The merge did not start a run.", "", ...reasons.map((r) => `- ${inert(r)}`)].join("\n"), MAX_OUTPUT_TEXT),
    },
  };
}
