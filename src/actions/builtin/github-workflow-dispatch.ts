import { DURATION_PATTERN, parseDuration } from "../../formats/duration.js";
import { ActionError, type Action, type StepContext } from "../types.js";
import { githubError, githubOf, pause, splitRepository, type GitHubRequester } from "./github-client.js";

export interface WorkflowDispatchInput {
  repository: string;
  /** Workflow file name (`deploy.yml`) or numeric id. */
  workflow: string | number;
  ref: string;
  inputs?: Record<string, string | number | boolean>;
  /** Wait for the run's conclusion (default true). */
  wait?: boolean;
  /** Between status polls (default 10s). */
  pollInterval?: string;
  /**
   * Also send `clutch_run` and `clutch_step` (this run's and step's ids) as inputs, so the
   * dispatched workflow can call back (`POST /api/callbacks/github-actions`). Opt-in:
   * GitHub refuses inputs a workflow does not declare.
   */
  callbackInputs?: boolean;
}

/**
 * Service (in `ctx.services`) that remembers which workflow run a step started, so the
 * server accepts that step's callback from that workflow run only. The app provides it;
 * without it (e.g. `clutch-luigi run`) there is no callback endpoint to bind.
 */
export const WORKFLOW_DISPATCH_RECORDER = "recordWorkflowDispatch";
export type WorkflowDispatchRecorder = (d: { runId: string; stepId: string; repository: string; workflowRunId: number }) => Promise<void>;

/**
 * Service that says whether the step's workflow run has called back (the server noted
 * an authenticated callback from exactly that run). The waiting step looks every
 * second and then reads the run from GitHub at once: the callback only wakes it, the
 * conclusion is still GitHub's.
 */
export const WORKFLOW_DISPATCH_CALLBACKS = "workflowDispatchCallbacks";
export type WorkflowDispatchCallbacks = (runId: string, stepId: string) => Promise<{ status: string } | null>;

/** How often a waiting step looks for its callback. */
const CALLBACK_LOOK_MS = 1_000;

/** GitHub's limit on a dispatch's inputs. */
const MAX_INPUTS = 25;

export interface WorkflowDispatchOutput {
  runId: number;
  htmlUrl: string;
  status: string;
  conclusion: string | null;
}

interface WorkflowRun {
  id: number;
  html_url: string;
  status: string | null;
  conclusion: string | null;
  created_at: string;
}

export const githubWorkflowDispatch: Action<WorkflowDispatchInput, WorkflowDispatchOutput> = {
  name: "github.workflow-dispatch",
  description: "Starts a GitHub Actions workflow with inputs and (by default) waits for its conclusion.",
  input: {
    type: "object",
    additionalProperties: false,
    required: ["repository", "workflow", "ref"],
    properties: {
      repository: { type: "string", pattern: "^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$" },
      workflow: { oneOf: [{ type: "string", pattern: "^[A-Za-z0-9_.-]+\\.ya?ml$" }, { type: "integer", minimum: 1 }] },
      ref: { type: "string", minLength: 1, maxLength: 255, pattern: "^[^\\u0000-\\u001f ~^:?*\\[\\\\]+$" },
      // GitHub caps a dispatch at 25 inputs.
      inputs: { type: "object", maxProperties: 25, additionalProperties: { type: ["string", "number", "boolean"] } },
      wait: { type: "boolean" },
      pollInterval: { type: "string", pattern: DURATION_PATTERN },
      callbackInputs: { type: "boolean" },
    },
  },
  output: {
    type: "object",
    required: ["runId", "htmlUrl", "status", "conclusion"],
    properties: {
      runId: { type: "integer" },
      htmlUrl: { type: "string" },
      status: { type: "string" },
      conclusion: { type: ["string", "null"] },
    },
  },
  errorCodes: ["workflow-failed", "workflow-not-found", "invalid-input"],
  async run(input, ctx) {
    // The token is scoped to the repository dispatched to, not the ops repository.
    const gh = await githubOf(ctx, input.repository);
    const { owner, repo } = splitRepository(input.repository);
    const where = `dispatch ${input.repository}/${input.workflow}@${input.ref}`;
    const inputs: Record<string, string> = Object.fromEntries(Object.entries(input.inputs ?? {}).map(([k, v]) => [k, String(v)]));
    if (input.callbackInputs) {
      for (const k of ["clutch_run", "clutch_step"]) {
        if (k in inputs) throw new ActionError("invalid-input", `inputs.${k} is set by callbackInputs; remove it from inputs`);
      }
      inputs.clutch_run = ctx.identity.runId;
      inputs.clutch_step = ctx.identity.stepId;
    }
    if (Object.keys(inputs).length > MAX_INPUTS) {
      throw new ActionError("invalid-input", `GitHub accepts at most ${MAX_INPUTS} workflow inputs, this dispatch has ${Object.keys(inputs).length}`);
    }
    const dispatchedAt = Date.now();
    let runId: number | undefined;
    let htmlUrl = "";
    try {
      const res = await gh.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
        owner,
        repo,
        workflow_id: input.workflow,
        ref: input.ref,
        inputs,
        return_run_details: true,
        request: { signal: ctx.signal },
      });
      const data = res.data as { workflow_run_id?: number; html_url?: string } | undefined;
      if (res.status === 200 && typeof data?.workflow_run_id === "number") {
        runId = data.workflow_run_id;
        htmlUrl = data.html_url ?? "";
      }
    } catch (e) {
      throw githubError(e, where, ctx);
    }
    // Servers without `return_run_details` answer 204: find the run we just started.
    if (runId === undefined) {
      const found = await findDispatchedRun(gh, ctx, { owner, repo, workflow: input.workflow, ref: input.ref, since: dispatchedAt }, where);
      runId = found.id;
      htmlUrl = found.html_url;
    }
    const id: number = runId;
    const record = ctx.services[WORKFLOW_DISPATCH_RECORDER] as WorkflowDispatchRecorder | undefined;
    await record?.({ runId: ctx.identity.runId, stepId: ctx.identity.stepId, repository: input.repository, workflowRunId: id });
    ctx.log.info(`dispatched ${input.repository} ${input.workflow} run ${id}`, { runId: id, htmlUrl });
    if (input.wait === false) return { runId: id, htmlUrl, status: "queued", conclusion: null };

    const interval = parseDuration(input.pollInterval ?? "10s");
    for (;;) {
      let run: WorkflowRun;
      try {
        run = (await gh.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}", { owner, repo, run_id: id, request: { signal: ctx.signal } })).data as WorkflowRun;
      } catch (e) {
        throw githubError(e, `poll run ${id}`, ctx);
      }
      if (run.status === "completed") {
        const out = { runId: id, htmlUrl: run.html_url || htmlUrl, status: "completed", conclusion: run.conclusion };
        if (run.conclusion !== "success" && run.conclusion !== "skipped" && run.conclusion !== "neutral") {
          throw new ActionError("workflow-failed", `workflow run ${id} concluded ${run.conclusion ?? "without a conclusion"}: ${out.htmlUrl}`);
        }
        return out;
      }
      await untilCallbackOr(interval, ctx);
    }
  },
};

/** Wait `ms` for the next poll, or less once the workflow run has called back. */
async function untilCallbackOr(ms: number, ctx: StepContext): Promise<void> {
  const callbacks = ctx.services[WORKFLOW_DISPATCH_CALLBACKS] as WorkflowDispatchCallbacks | undefined;
  if (!callbacks) return pause(ms, ctx.signal);
  const end = Date.now() + ms;
  while (Date.now() < end && !ctx.signal.aborted) {
    await pause(Math.min(CALLBACK_LOOK_MS, end - Date.now()), ctx.signal);
    // A lookup failing is no reason to fail the step: the poll covers it.
    if (await callbacks(ctx.identity.runId, ctx.identity.stepId).catch(() => null)) return;
  }
}

async function findDispatchedRun(
  gh: GitHubRequester,
  ctx: StepContext,
  q: { owner: string; repo: string; workflow: string | number; ref: string; since: number },
  where: string,
): Promise<WorkflowRun> {
  // Runs appear a few seconds after the dispatch; allow for clock skew with GitHub.
  // Filtered here rather than with `created=>=…`, which GitHub's description types as a plain date-time.
  const since = new Date(q.since - 60_000).toISOString();
  for (let i = 0; i < 10; i++) {
    try {
      const res = await gh.request("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", {
        owner: q.owner,
        repo: q.repo,
        workflow_id: q.workflow,
        event: "workflow_dispatch",
        branch: q.ref,
        per_page: 10,
        request: { signal: ctx.signal },
      });
      const runs = ((res.data as { workflow_runs?: WorkflowRun[] }).workflow_runs ?? [])
        .filter((r) => new Date(r.created_at).toISOString() >= since)
        .sort((a, b) => b.created_at.localeCompare(a.created_at));
      if (runs[0]) return runs[0];
    } catch (e) {
      throw githubError(e, where, ctx);
    }
    await pause(2000, ctx.signal);
  }
  throw new ActionError("workflow-not-found", `${where}: the dispatched run did not appear`);
}
