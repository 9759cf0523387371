import type { IncomingMessage, ServerResponse } from "node:http";
import { GITHUB_ACTIONS_ISSUER } from "../server-config/types.js";
import type { CallerIdentity, OidcVerifier } from "../identity/oidc.js";
import { authenticate, forbid, type RefusalSink } from "./auth.js";
import { checkCallbackBinding, type DispatchBinding } from "./authz.js";
import { refuseTooLarge } from "./body-limit.js";
import { BodyError, readJsonBody, sendJson } from "./http.js";

export const GITHUB_ACTIONS_CALLBACK_PATH = "/api/callbacks/github-actions";

/** What a dispatched workflow reports back. `caller` proves which repository and workflow sent it. */
export interface GitHubActionsCallback {
  caller: CallerIdentity;
  /** The Clutch Luigi run and step that dispatched the workflow. */
  runId: string;
  stepId: string;
  /** GitHub's own run id (`github.run_id`), to match against the dispatch. */
  workflowRunId?: number;
  status: "success" | "failure" | "cancelled";
  outputs: Record<string, string>;
}

/** Called only for a callback bound to its step's dispatch. */
export type CallbackDelivery = (callback: GitHubActionsCallback) => Promise<void>;

/** The step (does it exist?) and the workflow run it dispatched, if any. */
export type DispatchLookup = (runId: string, stepId: string) => Promise<{ step: boolean; dispatch?: DispatchBinding }>;

/** A callback carries ids, a status and a few outputs: 64 KiB is far more than any needs. */
export const CALLBACK_BODY_LIMIT = 64 * 1024;

const ID = /^[A-Za-z0-9_.-]{1,100}$/;

function parse(body: unknown): Omit<GitHubActionsCallback, "caller"> | string {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "the body must be a JSON object";
  const b = body as Record<string, unknown>;
  if (typeof b.runId !== "string" || !ID.test(b.runId)) return "runId: expected an id";
  if (typeof b.stepId !== "string" || !ID.test(b.stepId)) return "stepId: expected an id";
  if (b.status !== "success" && b.status !== "failure" && b.status !== "cancelled") return "status: expected success, failure or cancelled";
  if (b.workflowRunId !== undefined && (!Number.isSafeInteger(b.workflowRunId) || (b.workflowRunId as number) < 1)) return "workflowRunId: expected a positive integer";
  const outputs: Record<string, string> = {};
  if (b.outputs !== undefined) {
    if (!b.outputs || typeof b.outputs !== "object" || Array.isArray(b.outputs)) return "outputs: expected an object of strings";
    for (const [k, v] of Object.entries(b.outputs)) {
      if (!/^[A-Za-z_][A-Za-z0-9_-]{0,99}$/.test(k) || typeof v !== "string") return `outputs.${k}: expected a string under a plain name`;
      outputs[k] = v;
    }
  }
  return {
    runId: b.runId,
    stepId: b.stepId,
    ...(b.workflowRunId !== undefined ? { workflowRunId: b.workflowRunId as number } : {}),
    status: b.status,
    outputs,
  };
}

/** POST /api/callbacks/github-actions — a dispatched workflow reports, authenticated by its own OIDC token. */
export function githubActionsCallbackHandler(options: { verifier: OidcVerifier; findDispatch: DispatchLookup; deliver: CallbackDelivery; refusals?: RefusalSink }) {
  const path = GITHUB_ACTIONS_CALLBACK_PATH;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const caller = await authenticate(options.verifier, req, res, path, options.refusals);
    if (!caller) return;
    // Other trusted issuers may read run status, but only GitHub Actions reports workflow results.
    if (caller.issuer !== GITHUB_ACTIONS_ISSUER) return forbid(req, res, options.refusals, caller, path, "not-github-actions", "only GitHub Actions tokens may call back");
    let body: unknown;
    try {
      body = await readJsonBody(req, CALLBACK_BODY_LIMIT);
    } catch (e) {
      if (e instanceof BodyError && e.status === 413) return refuseTooLarge(req, res, CALLBACK_BODY_LIMIT);
      if (e instanceof BodyError) return sendJson(res, e.status, { error: e.message });
      throw e;
    }
    const parsed = parse(body);
    if (typeof parsed === "string") return sendJson(res, 400, { error: parsed });
    // An unknown step is refused like a foreign one: the caller learns nothing about other runs.
    const refused = checkCallbackBinding(caller, parsed.workflowRunId, await options.findDispatch(parsed.runId, parsed.stepId));
    if (refused) return forbid(req, res, options.refusals, caller, path, refused, "this workflow run did not get this step's dispatch");
    await options.deliver({ caller, ...parsed });
    sendJson(res, 202, { accepted: true });
  };
}
