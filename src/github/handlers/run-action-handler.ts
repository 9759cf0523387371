/**
 * A click on a button of the `clutch-luigi/run` check (`check_run.requested_action`):
 * Retry failed steps, Roll back, Cancel run. The run is found in the store by the
 * check (its repository and merge commit must match); who may click is decided by
 * the pure `decideRunAction` over CODEOWNERS and the policy at the default branch
 * head. An accepted click is the engine's own audited request (run.retried,
 * run.rollback_requested, run.cancel_requested) with the clicker as actor and how
 * they were allowed; a refusal is a `run.action_refused` row and a note in the check's
 * `output.text`. The title and summary stay the run reporter's: they are sent back
 * as the check had them, because GitHub requires them with any output.
 */
import type { Knex } from "knex";
import { decideRunAction, isRunAction, type RunAction } from "../../policy/run-actions.js";
import { appendAudit } from "../../store/audit.js";
import { findRunForCheck, recordFollowUp, retryRun, revokeRun, rollbackRun, RunControlRefusal, type CheckedRun } from "../../store/run-control.js";
import { cancelRun } from "../../store/runs.js";
import { clip, inert, MAX_OUTPUT_TEXT, MAX_TITLE } from "../render.js";
import { gatherRunActionFacts, RunActionGatherError } from "../run-action-facts.js";
import type { GitHubClient } from "../client.js";
import type { RequestedAction } from "./check-run-payload.js";
import type { AppDeps } from "./deps.js";
import { RUN_CHECK } from "./run-check.js";

export const RUN_ACTION_LABELS: Record<RunAction, string> = { retry: "Retry failed steps", rollback: "Roll back", cancel: "Cancel run", revoke: "Revoke now", "follow-up": "Record follow-up" };

export type RunActionOutcome =
  | { kind: "ignored"; reason: string }
  | { kind: "refused"; action: RunAction; runId: string | null; code: string; reason: string }
  | { kind: "done"; action: RunAction; runId: string; state: string };

export interface RunActionOptions {
  /** The clock for the refusal note (tests). */
  now?: () => Date;
}

const ACTIVE = new Set(["waiting", "running", "rolling_back"]);

/** Marks the app's note in a check's text, so a later refusal replaces it rather than piling up. */
const NOTE_START = "<!-- clutch-luigi:action-refused -->";
const NOTE_END = "<!-- /clutch-luigi:action-refused -->";

function withoutNote(text: string | null): string {
  if (!text) return "";
  const start = text.indexOf(NOTE_START);
  const end = text.indexOf(NOTE_END);
  if (start < 0 || end < start) return text;
  return (text.slice(0, start) + text.slice(end + NOTE_END.length)).replace(/^\n+/, "");
}

export function refusalNote(click: RequestedAction, action: RunAction, reason: string, at: Date): string {
  const note = `${NOTE_START}\n> **${RUN_ACTION_LABELS[action]}** was refused for @${inert(click.clicker.login)} at ${at.toISOString()}: ${inert(reason)}\n${NOTE_END}`;
  const rest = withoutNote(click.output.text);
  return clip(rest ? `${note}\n\n${rest}` : note, MAX_OUTPUT_TEXT);
}

async function answerRefusal(gh: GitHubClient, click: RequestedAction, action: RunAction, reason: string, at: Date): Promise<void> {
  await gh.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
    owner: click.owner,
    repo: click.repo,
    check_run_id: click.checkRunId,
    output: {
      title: clip(click.output.title ?? `${RUN_ACTION_LABELS[action]} refused`, MAX_TITLE),
      summary: clip(click.output.summary ?? "Clutch Luigi run.", MAX_OUTPUT_TEXT),
      text: refusalNote(click, action, reason, at),
    },
  });
}

async function refuse(
  deps: AppDeps,
  gh: GitHubClient,
  click: RequestedAction,
  action: RunAction,
  run: CheckedRun | null,
  r: { code: string; reason: string; authority?: string },
  opts: RunActionOptions,
): Promise<RunActionOutcome> {
  // Audited before the answer: a refusal nobody recorded must not be shown as one.
  await deps.store.db.transaction((trx: Knex.Transaction) =>
    appendAudit(trx, {
      kind: "run.action_refused",
      runId: run?.runId ?? null,
      actor: click.clicker.login,
      data: {
        action,
        clicker: click.clicker.login,
        clickerType: click.clicker.type,
        code: r.code,
        reason: r.reason,
        repository: `${click.owner}/${click.repo}`,
        checkRunId: click.checkRunId,
        headSha: click.headSha,
        ...(r.authority ? { authority: r.authority } : {}),
      },
    }),
  );
  await answerRefusal(gh, click, action, r.reason, (opts.now ?? (() => new Date()))());
  return { kind: "refused", action, runId: run?.runId ?? null, code: r.code, reason: r.reason };
}

export async function handleRunAction(deps: AppDeps, gh: GitHubClient, click: RequestedAction, opts: RunActionOptions = {}): Promise<RunActionOutcome> {
  // Other checks are not this handler's.
  if (click.checkName !== RUN_CHECK) return { kind: "ignored", reason: `not the ${RUN_CHECK} check` };
  if (!isRunAction(click.identifier)) return { kind: "ignored", reason: `no action ${JSON.stringify(click.identifier.slice(0, 40))}` };
  const action = click.identifier;
  const run = await findRunForCheck(deps.store, `${click.owner}/${click.repo}`, click.headSha, click.externalId);
  if (!run) return refuse(deps, gh, click, action, null, { code: "unknown-run", reason: "no run of this repository and commit belongs to this check" }, opts);
  if (run.pullRequest === null) return refuse(deps, gh, click, action, run, { code: "unknown-run", reason: "the run did not come from a pull request" }, opts);

  let gathered;
  try {
    gathered = await gatherRunActionFacts(gh, { owner: click.owner, repo: click.repo, pullRequest: run.pullRequest, requestPath: run.requestPath }, click.clicker);
  } catch (e) {
    if (!(e instanceof RunActionGatherError)) throw e;
    return refuse(deps, gh, click, action, run, { code: "no-authority", reason: e.message }, opts);
  }
  const decision = decideRunAction(action, { ...gathered.facts, requester: run.requester });
  if (!decision.allowed) return refuse(deps, gh, click, action, run, { code: decision.code, reason: decision.reason, authority: gathered.authoritySha }, opts);

  const origin = { via: "check_run", checkRunId: click.checkRunId, as: decision.as, grantedBy: decision.via, authority: gathered.authoritySha };
  const actor = click.clicker.login;
  try {
    if (action === "cancel") {
      // cancelRun leaves an inactive run as it is and says so; a click on it is answered, not silently dropped.
      if (!ACTIVE.has(run.state)) throw new RunControlRefusal("not-active", `run ${run.runId} is ${run.state}: there is nothing to cancel`, run.state);
      const state = await cancelRun(deps.store, run.runId, actor, origin);
      return { kind: "done", action, runId: run.runId, state };
    }
    if (action === "follow-up") {
      await recordFollowUp(deps.store, run.runId, actor, origin);
      return { kind: "done", action, runId: run.runId, state: run.state };
    }
    const apply = { retry: retryRun, rollback: rollbackRun, revoke: revokeRun }[action];
    const result = await apply(deps.store, run.runId, actor, origin);
    return { kind: "done", action, runId: run.runId, state: result.state };
  } catch (e) {
    if (!(e instanceof RunControlRefusal)) throw e;
    return refuse(deps, gh, click, action, run, { code: e.code, reason: e.message, authority: gathered.authoritySha }, opts);
  }
}
