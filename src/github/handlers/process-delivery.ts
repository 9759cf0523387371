/**
 * One stored delivery, processed: classified, then handed to its handler with
 * the installation's client. Throws when the handler fails, so the queue
 * retries the delivery; what it returns feeds the metrics and logs.
 *
 * A delivery processed late (a `synchronize` retried after a newer push was
 * evaluated) does no harm: the handlers read the PR's current head from the
 * API, never the payload's, so it evaluates and publishes on the newest head.
 */
import type { AppEvent } from "../app-event.js";
import type { GitHubClient } from "../client.js";
import type { AppDeps } from "./deps.js";
import { evaluateAndPublish } from "./evaluate-handler.js";
import { handleMerge, type MergeOutcome } from "./merge-handler.js";
import { handleRerequest, type RerequestOutcome } from "./rerequest-handler.js";
import { handleRunAction, type RunActionOutcome } from "./run-action-handler.js";

export type DeliveryResult =
  | { kind: "evaluated"; approved: boolean; headSha: string }
  | { kind: "merge"; outcome: MergeOutcome["kind"] }
  | { kind: "run-action"; outcome: RunActionOutcome["kind"] }
  | { kind: "rerequest"; outcome: RerequestOutcome["kind"] }
  | { kind: "ignored"; why: string };

export async function processAppEvent(deps: AppDeps, gh: GitHubClient, event: AppEvent): Promise<DeliveryResult> {
  switch (event.kind) {
    case "evaluate": {
      const opts = { actor: event.actor, ...(event.detailsUrl ? { detailsUrl: event.detailsUrl } : {}) };
      const { evaluation } = await evaluateAndPublish(deps, gh, { owner: event.pr.owner, repo: event.pr.repo, pullNumber: event.pr.pullNumber }, opts);
      return { kind: "evaluated", approved: evaluation.verdict.approved, headSha: evaluation.headSha };
    }
    case "merge": {
      const opts = { actor: event.actor, ...(event.detailsUrl ? { detailsUrl: event.detailsUrl } : {}) };
      const outcome = await handleMerge(deps, gh, event.claim, opts);
      return { kind: "merge", outcome: outcome.kind };
    }
    case "run-action": {
      const outcome = await handleRunAction(deps, gh, event.click);
      return { kind: "run-action", outcome: outcome.kind };
    }
    case "rerequest": {
      const outcome = await handleRerequest(deps, gh, event.rerun, { actor: event.actor });
      return { kind: "rerequest", outcome: outcome.kind };
    }
    case "ignore":
      return { kind: "ignored", why: event.why };
  }
}
