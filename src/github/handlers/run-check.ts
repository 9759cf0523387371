/**
 * The `clutch-luigi/run` check of a merge that started nothing: a failure saying
 * why. A run's own check is drawn by run-report/run-check.ts as the run moves.
 */
import { utcText } from "../../audit/instant.js";
import { clip, inert, MAX_OUTPUT_TEXT, MAX_TITLE } from "../render.js";

export const RUN_CHECK = "clutch-luigi/run";

export interface RunCheckPayload {
  name: string;
  head_sha: string;
  status: "in_progress" | "completed";
  conclusion?: "failure" | "success";
  external_id?: string;
  details_url?: string;
  output: { title: string; summary: string };
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

/** The merge of an approved extension: nothing new runs; the extended run now ends later. */
export function runExtendedCheck(mergeSha: string, runId: string, untilIso: string, detailsUrl?: string): RunCheckPayload {
  const until = utcText(untilIso);
  return {
    name: RUN_CHECK,
    head_sha: mergeSha,
    status: "completed",
    conclusion: "success",
    external_id: runId,
    ...(detailsUrl ? { details_url: detailsUrl } : {}),
    output: {
      title: clip(`Extended run ${runId} until ${until}`, MAX_TITLE),
      summary: clip([`This request extends the time-bound run \`${runId}\` instead of running again.`, "", `It is now undone at ${until}.`, `Follow it with \`clutch-luigi audit show ${runId}\`.`].join("\n"), MAX_OUTPUT_TEXT),
    },
  };
}
