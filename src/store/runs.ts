/**
 * Starting, cancelling and reading runs. A run is created once per idempotency key
 * (e.g. repository + PR + merge commit) and once per request key (repository + PR +
 * request path), so neither a replayed webhook nor a second merge event naming
 * another commit ever starts it twice.
 */
import { createHash, randomUUID } from "node:crypto";
import type { ActionRegistry } from "../actions/registry.js";
import { buildGraph, GraphError } from "../engine/graph.js";
import type { RunIdentity } from "../engine/queue.js";
import type { RunState, StepState } from "../engine/states.js";
import { requestFields } from "../engine/request-fields.js";
import { jsonProblem, truncateText } from "./storable.js";
import { substitute } from "../formats/expressions.js";
import { ExpiryError, expiryTerms, type ExpiryTerms } from "../formats/expiry.js";
import type { RequestSpec, WorkflowSpec } from "../formats/types.js";
import { auditPayload, type AuditEvent } from "./audit.js";
import { rowsOf, type Store } from "./db.js";

export interface CreateRunInput extends RunIdentity {
  request: RequestSpec;
  workflow: WorkflowSpec;
  requestPath: string;
  /** Same key → same run. Omit for a run that is always new (local `clutch-luigi run`). */
  idempotencyKey?: string;
  /** One run per request (see `requestKey()`); a second create with it returns the first run. */
  requestKey?: string;
  /** Git-linked evidence for the hashed run.created row (blob SHAs, approvals with their reviews). */
  evidence?: Record<string, unknown>;
  /** Steps of this run queued or running at once (default 16). */
  maxParallel?: number;
  /** Who is starting it, for the audit row (default the requester). */
  actor?: string;
  /** Knows which actions can undo themselves; without it every step is assumed to have a rollback. */
  registry?: ActionRegistry;
  /** The GitHub App installation the run came from: workers mint its tokens from it. */
  installationId?: number;
  /** Started from a pull request: its check and outcome comment follow the run (see run-reports.ts). */
  report?: { detailsUrl: string | null; defaultBranch: string | null; timeZone?: string | null };
}

export interface CreatedRun {
  runId: string;
  /** False when the idempotency key matched an existing run. */
  created: boolean;
  state: RunState;
}

const MAX_DELAY_MS = 3_650 * 86_400_000;

/** The request or workflow cannot become a run (not a database or transient failure). */
export class CannotStartRun extends Error {
  constructor(why: string) {
    super(`cannot start a run: ${why}`);
    this.name = "CannotStartRun";
  }
}

/** The key of a request's one run: repository, PR number and request path. */
export function requestKey(repository: string, pullRequest: number, requestPath: string): string {
  return `${repository}#${pullRequest}:${requestPath}`;
}

/** The run a pull request already started, if any (a PR carries at most one request). */
export async function findPullRequestRun(store: Store, repository: string, pullRequest: number): Promise<{ runId: string; state: RunState; requestPath: string } | null> {
  const prefix = `${repository}#${pullRequest}:`;
  const row = rowsOf<{ id: string; state: RunState; request_path: string }>(
    await store.db.raw("select id, state, request_path from runs where left(request_key, ?) = ? order by created_at limit 1", [prefix.length, prefix]),
  )[0];
  return row ? { runId: row.id, state: row.state, requestPath: row.request_path } : null;
}

/** Longer lock keys are stored as a prefix plus their hash: an index entry has a size limit, equality is all a lock needs. */
export const MAX_LOCK_KEY_LENGTH = 200;

function boundedLockKey(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text.length <= MAX_LOCK_KEY_LENGTH) return text;
  return `${truncateText(text, 64)}…sha256:${createHash("sha256").update(text).digest("hex")}`;
}

function graphOf(workflow: WorkflowSpec): ReturnType<typeof buildGraph> {
  try {
    return buildGraph(workflow);
  } catch (e) {
    if (e instanceof GraphError) throw new CannotStartRun(e.message);
    throw e;
  }
}

export async function createRun(store: Store, input: CreateRunInput): Promise<CreatedRun> {
  const graph = graphOf(input.workflow);
  const runId = randomUUID();
  const identity: RunIdentity = {
    repository: input.repository,
    requester: input.requester,
    approvers: input.approvers,
    ...(input.pullRequest !== undefined ? { pullRequest: input.pullRequest } : {}),
    ...(input.commit !== undefined ? { commit: input.commit } : {}),
    ...(input.breakGlass !== undefined ? { breakGlass: input.breakGlass } : {}),
  };
  // Checked before anything is substituted or sent: a request is hostile input.
  const problem = jsonProblem({ request: input.request, workflow: input.workflow });
  if (problem) throw new CannotStartRun(problem);
  // Timers and deadlines are timestamps in Postgres, which end in the year 294276.
  for (const n of graph.nodes.values()) {
    if (n.afterMs > MAX_DELAY_MS) throw new CannotStartRun(`step "${n.id}" after: ${n.spec.after} is longer than ten years`);
  }
  if ((graph.timeoutMs ?? 0) > MAX_DELAY_MS) throw new CannotStartRun(`timeout: ${input.workflow.timeout} is longer than ten years`);
  let expiry: ExpiryTerms | null;
  try {
    expiry = expiryTerms(input.workflow, input.request.params ?? {});
  } catch (e) {
    if (e instanceof ExpiryError) throw new CannotStartRun(e.message);
    throw e;
  }
  if (expiry && expiry.maxMs > MAX_DELAY_MS) throw new CannotStartRun(`expires.max: ${input.workflow.expires!.max} is longer than ten years`);
  const params = input.request.params ?? {};
  const lockKey = input.workflow.lock
    ? boundedLockKey(
        substitute(input.workflow.lock, {
          params,
          steps: {},
          request: requestFields({ runId, workflow: input.workflow, request: input.request, requestPath: input.requestPath, identity }),
        }),
      )
    : null;
  const actor = input.actor ?? input.requester.login;
  const run = {
    id: runId,
    idempotency_key: input.idempotencyKey ?? null,
    request_key: input.requestKey ?? null,
    workflow: input.workflow.name,
    request_path: input.requestPath,
    spec: { workflow: input.workflow, request: input.request, timeoutMs: graph.timeoutMs ?? null },
    identity,
    lock_key: lockKey,
    max_parallel: Math.max(1, input.maxParallel ?? 16),
    steps_left: graph.order.length,
    installation_id: input.installationId !== undefined ? installationIdOf(input.installationId) : null,
    // The timer is armed by a trigger the moment the run succeeds (migration 012).
    expiry_ms: expiry?.durationMs ?? null,
    expiry_max_ms: expiry?.maxMs ?? null,
  };
  const report = input.report ? { details_url: input.report.detailsUrl, default_branch: input.report.defaultBranch, time_zone: input.report.timeZone ?? null } : null;
  const steps = graph.order.map((id) => {
    const n = graph.nodes.get(id)!;
    const action = input.registry?.get(n.spec.uses);
    return {
      step_id: id,
      ord: n.index,
      deps_left: n.needs.length,
      after_ms: n.afterMs,
      has_rollback: input.registry ? Boolean(n.spec.rollback || action?.rollback) : true,
      dependents: n.dependents,
    };
  });
  const created: AuditEvent = {
    kind: "run.created",
    runId,
    actor,
    data: {
      workflow: input.workflow.name,
      requestPath: input.requestPath,
      repository: identity.repository,
      pullRequest: identity.pullRequest ?? null,
      commit: identity.commit ?? null,
      requester: identity.requester.login,
      approvers: identity.approvers.map((a) => a.login),
      // The review ids are what tie the run to the approving reviews on GitHub: they
      // belong in the hashed row, not only in the editable runs table.
      approvals: identity.approvers.map((a) => ({ login: a.login, reviewId: a.reviewId ?? null })),
      reason: input.request.reason,
      // Names only: values stay in the request file at the commit.
      params: Object.keys(input.request.params ?? {}).sort(),
      breakGlass: identity.breakGlass ?? false,
      lock: lockKey,
      steps: graph.order,
      ...(expiry ? { expires: { afterMs: expiry.durationMs, maxMs: expiry.maxMs } } : {}),
      ...(input.evidence ? { evidence: input.evidence } : {}),
    },
  };
  // One statement, so one round trip and the audit head held only until its own commit:
  // cl_create_run inserts the run and its steps and begins it (migration 016).
  const out = rowsOf<{ r: { created: boolean; run_id: string | null; state: RunState | null } }>(
    await store.db.raw("select cl_create_run(?::jsonb, ?::jsonb, ?::jsonb, ?::jsonb, ?) as r", [
      JSON.stringify(run), JSON.stringify(steps), report ? JSON.stringify(report) : null, JSON.stringify(auditPayload(created)), store.backend === "pg",
    ]),
  )[0]!.r;
  if (!out.run_id || !out.state) throw new Error("a run with this key was being created concurrently and is not visible yet; retry");
  return { runId: out.run_id, created: out.created, state: out.state };
}

function installationIdOf(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1) throw new Error(`cannot start a run: installation id must be a positive integer, got ${String(id)}`);
  return id;
}

/** The installation a run was started from, or null (a local run, or no such run). */
export async function runInstallation(store: Store, runId: string): Promise<number | null> {
  const row = rowsOf<{ installation_id: string | number | null }>(await store.db.raw("select installation_id from runs where id = ?", [runId]))[0];
  return row?.installation_id == null ? null : Number(row.installation_id);
}

/**
 * Ask a run to stop: queued steps are cancelled, running ones aborted, completed ones
 * rolled back. The one cancel for the CLI, the API and the check run's button; `origin`
 * says which, in the audit row. A run that is not active is left as it is.
 */
export async function cancelRun(store: Store, runId: string, actor: string, origin: Record<string, unknown> = {}): Promise<RunState> {
  const state = rowsOf<{ state: RunState | null }>(
    await store.db.raw("select cl_cancel_run(?, ?, ?::jsonb, ?) as state", [runId, actor, JSON.stringify(origin), store.backend === "pg"]),
  )[0]?.state;
  if (!state) throw new Error(`no run ${runId}`);
  return state;
}

export interface StepStatus {
  stepId: string;
  state: StepState;
  attempt: number;
  rollbackAttempt: number;
  errorClass: string | null;
  error: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface RunStatus {
  runId: string;
  workflow: string;
  requestPath: string;
  state: RunState;
  error: string | null;
  lockKey: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  steps: StepStatus[];
}

export async function getRun(store: Store, runId: string): Promise<RunStatus | null> {
  const run = rowsOf<Record<string, unknown>>(await store.db.raw("select * from runs where id = ?", [runId]))[0];
  if (!run) return null;
  const steps = rowsOf<Record<string, unknown>>(
    await store.db.raw(
      "select step_id, state, attempt, rb_attempt, error_class, error, started_at, finished_at from steps where run_id = ? order by ord",
      [runId],
    ),
  );
  return {
    runId,
    workflow: String(run.workflow),
    requestPath: String(run.request_path),
    state: run.state as RunState,
    error: (run.error as string | null) ?? null,
    lockKey: (run.lock_key as string | null) ?? null,
    createdAt: new Date(run.created_at as string),
    finishedAt: run.finished_at ? new Date(run.finished_at as string) : null,
    steps: steps.map((s) => ({
      stepId: String(s.step_id),
      state: s.state as StepState,
      attempt: Number(s.attempt),
      rollbackAttempt: Number(s.rb_attempt),
      errorClass: (s.error_class as string | null) ?? null,
      error: (s.error as string | null) ?? null,
      startedAt: s.started_at ? new Date(s.started_at as string) : null,
      finishedAt: s.finished_at ? new Date(s.finished_at as string) : null,
    })),
  };
}

export interface AttemptRow {
  stepId: string;
  phase: "forward" | "rollback";
  attempt: number;
  worker: string;
  outcome: string;
  errorClass: string | null;
  error: string | null;
}

export async function listAttempts(store: Store, runId: string): Promise<AttemptRow[]> {
  const rows = rowsOf<Record<string, unknown>>(
    await store.db.raw("select * from attempts where run_id = ? order by started_at, step_id, phase, attempt", [runId]),
  );
  return rows.map((r) => ({
    stepId: String(r.step_id),
    phase: r.phase as "forward" | "rollback",
    attempt: Number(r.attempt),
    worker: String(r.worker),
    outcome: String(r.outcome),
    errorClass: (r.error_class as string | null) ?? null,
    error: (r.error as string | null) ?? null,
  }));
}
