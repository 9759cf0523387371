/**
 * What a person may ask of a finished run: retry what did not finish well, or roll
 * back one that succeeded. (Cancelling an active run is `cancelRun` in runs.ts.)
 * Each is one transaction with the run row locked, its audit rows included, and moves
 * only along RUN_TRANSITIONS / STEP_TRANSITIONS. Which steps run again is the pure
 * `planRerun` (src/engine/rerun.ts); the moves are the SQL functions cl_retry_run and
 * cl_roll_back_run (migration 015).
 */
import type { Knex } from "knex";
import { buildGraph } from "../engine/graph.js";
import { planRerun, RerunError } from "../engine/rerun.js";
import { canRunMove, type RunState, type StepState } from "../engine/states.js";
import type { WorkflowSpec } from "../formats/types.js";
import { undoError } from "../engine/undo-cause.js";
import { appendAudit } from "./audit.js";
import { rowsOf, type Store } from "./db.js";
import { settleExpiry } from "./expiries.js";

export type RunControlCode = "not-found" | "not-retryable" | "not-rollbackable" | "nothing-to-undo" | "lock-held" | "not-active" | "not-time-bound" | "not-break-glass" | "already-followed-up";

/** The run is not in a state this request applies to; nothing was changed. */
export class RunControlRefusal extends Error {
  constructor(
    readonly code: RunControlCode,
    message: string,
    readonly state: RunState | null = null,
  ) {
    super(message);
    this.name = "RunControlRefusal";
  }
}

export interface RunControlResult {
  /** The run's state once the request was applied. */
  state: RunState;
  /** The steps that run again (retry) or are undone (roll back). */
  steps: string[];
}

/** Extra fields for the audit row of the request (where it came from: a button, the CLI, the API). */
export type RequestOrigin = Record<string, unknown>;

interface LockedRun {
  state: RunState;
  lock_key: string | null;
}

async function lockRun(trx: Knex.Transaction, runId: string): Promise<LockedRun> {
  const run = rowsOf<LockedRun>(await trx.raw("select state, lock_key from runs where id = ? for update", [runId]))[0];
  if (!run) throw new RunControlRefusal("not-found", `no run ${runId}`);
  return run;
}

async function currentState(trx: Knex.Transaction, runId: string): Promise<RunState> {
  return rowsOf<{ state: RunState }>(await trx.raw("select state from runs where id = ?", [runId]))[0]!.state;
}

/**
 * "Retry failed steps": a failed or rolled-back run becomes active again as the same
 * run. Its failed, cancelled and rolled-back steps go back to `pending` with a fresh
 * retry budget; succeeded and skipped steps keep their outputs. The run takes its lock
 * again, or waits for it (`waiting`) when another run holds it, and gets a new deadline.
 *
 * A rolled-back step gets a new idempotency key (`<run>:<step>@<attempts so far>`): its
 * first effect was undone, so a downstream service must not answer the new attempt
 * from what it remembers of the old one. A failed or cancelled step keeps its key: a
 * failed attempt may have half-happened downstream, which is what the key is for.
 */
export async function retryRun(store: Store, runId: string, actor: string, origin: RequestOrigin = {}): Promise<RunControlResult> {
  return store.db.transaction(async (trx: Knex.Transaction) => {
    const run = await lockRun(trx, runId);
    if (!canRunMove(run.state, "running")) {
      throw new RunControlRefusal("not-retryable", `run ${runId} is ${run.state}: only a failed or rolled-back run can be retried`, run.state);
    }
    const spec = rowsOf<{ spec: { workflow: WorkflowSpec } }>(await trx.raw("select spec from runs where id = ?", [runId]))[0]!.spec;
    const rows = rowsOf<{ step_id: string; state: StepState }>(await trx.raw("select step_id, state from steps where run_id = ?", [runId]));
    let plan;
    try {
      plan = planRerun(buildGraph(spec.workflow), new Map(rows.map((r) => [r.step_id, r.state])));
    } catch (e) {
      if (e instanceof RerunError) throw new RunControlRefusal("not-retryable", `run ${runId}: ${e.message}`, run.state);
      throw e;
    }
    if (plan.rerun.length === 0) throw new RunControlRefusal("not-retryable", `run ${runId} has no step to run again`, run.state);
    const ids = plan.rerun;
    const state = rowsOf<{ state: RunState }>(
      await trx.raw("select cl_retry_run(?, ?, ?::text[], ?::int[], ?::jsonb, ?) as state", [
        runId, actor, ids, ids.map((id) => plan.depsLeft.get(id)!), JSON.stringify(origin), store.backend === "pg",
      ]),
    )[0]!.state;
    return { state, steps: ids };
  });
}

export interface RollbackOptions {
  /** The audit row of the request (default `run.rollback_requested`; an expiry firing names its own). */
  requestKind?: string;
  /** Extra fields for that row (where the request came from). */
  origin?: RequestOrigin;
  /** The run's error while it is undone (default `rollback requested by <actor>`). */
  error?: string;
}

/**
 * The transition "a succeeded run is undone" (cl_roll_back_run), inside the caller's
 * transaction, its audit rows included: for "Roll back" here and for anything else
 * that must undo a succeeded run in its own transaction (a time-bound run expiring).
 * Its succeeded steps that can be undone are undone, dependents first, through the
 * same failing path a failed run takes; the run ends `rolled_back` (or
 * `rollback_failed`). It holds its lock while it undoes; when another run holds that
 * lock now, it is refused rather than queued behind it, since undoing under someone
 * else's run is exactly what the lock is there to prevent. Returns the steps to undo.
 */
export async function rollBackSucceededRun(trx: Knex.Transaction, runId: string, actor: string, notify: boolean, opts: RollbackOptions = {}): Promise<string[]> {
  const error = opts.error ?? undoError("requested", actor);
  const res = rowsOf<{ r: RollbackOutcome | string }>(
    await trx.raw("select cl_roll_back_run(?, ?, ?, ?::jsonb, ?, ?) as r", [
      runId, actor, opts.requestKind ?? "run.rollback_requested", JSON.stringify(opts.origin ?? {}), error, notify,
    ]),
  )[0]!.r;
  const out = typeof res === "string" ? (JSON.parse(res) as RollbackOutcome) : res;
  switch (out.status) {
    case "ok":
      return out.steps;
    case "not-found":
      throw new RunControlRefusal("not-found", `no run ${runId}`);
    case "not-rollbackable":
      throw new RunControlRefusal("not-rollbackable", `run ${runId} is ${out.state}: only a succeeded run can be rolled back`, out.state);
    case "nothing-to-undo":
      throw new RunControlRefusal("nothing-to-undo", `run ${runId} has no step that can be undone`, out.state);
    case "lock-held": {
      const key = rowsOf<{ lock_key: string }>(await trx.raw("select lock_key from runs where id = ?", [runId]))[0]?.lock_key;
      throw new RunControlRefusal("lock-held", `run ${runId}: its lock ${key} is held by run ${out.holder ?? "(another run)"}; roll back once that run has finished`, out.state);
    }
  }
}

type RollbackOutcome =
  | { status: "ok"; steps: string[] }
  | { status: "not-found" }
  | { status: "not-rollbackable" | "nothing-to-undo"; state: RunState }
  | { status: "lock-held"; state: RunState; holder: string | null };

/**
 * "Roll back": a person asks a succeeded run to be undone (`rollBackSucceededRun`). A
 * time-bound run's armed expiry is settled as `rolled_back` in the same transaction:
 * the change it would have undone is being undone now.
 */
export async function rollbackRun(store: Store, runId: string, actor: string, origin: RequestOrigin = {}): Promise<RunControlResult> {
  return store.db.transaction(async (trx: Knex.Transaction) => {
    const steps = await rollBackSucceededRun(trx, runId, actor, store.backend === "pg", { origin });
    await settleExpiry(trx, runId, "rolled_back");
    return { state: await currentState(trx, runId), steps };
  });
}

/**
 * "Revoke now": a time-bound run whose change is in force is undone at once instead of
 * at its expiry, through the same roll-back path, and its timer is settled as revoked
 * in the same transaction (the timer and a revoke never both undo it).
 */
export async function revokeRun(store: Store, runId: string, actor: string, origin: RequestOrigin = {}): Promise<RunControlResult> {
  return store.db.transaction(async (trx: Knex.Transaction) => {
    const timer = rowsOf<{ expires_at: string }>(await trx.raw("select expires_at from run_expiries where run_id = ? and fired_at is null for update", [runId]))[0];
    if (!timer) throw new RunControlRefusal("not-time-bound", `run ${runId} has no change in force to revoke (not time-bound, or already expired or undone)`);
    const steps = await rollBackSucceededRun(trx, runId, actor, store.backend === "pg", {
      requestKind: "run.revoked",
      origin: { ...origin, expiresAt: new Date(timer.expires_at).toISOString() },
      error: undoError("revoked", actor),
    });
    await settleExpiry(trx, runId, "revoked");
    return { state: await currentState(trx, runId), steps };
  });
}

/**
 * A break-glass run's follow-up review, recorded once: who reviewed it and how they
 * were allowed (the caller decides that; see decideRunAction). Until then the run is
 * listed by `clutch-luigi audit list --open-follow-ups` and counted in /metrics.
 */
export async function recordFollowUp(store: Store, runId: string, actor: string, origin: RequestOrigin = {}): Promise<{ followedUpAt: Date }> {
  return store.db.transaction(async (trx: Knex.Transaction) => {
    const run = rowsOf<{ state: RunState; identity: unknown; followed_up_at: string | null; followed_up_by: string | null }>(
      await trx.raw("select state, identity, followed_up_at, followed_up_by from runs where id = ? for update", [runId]),
    )[0];
    if (!run) throw new RunControlRefusal("not-found", `no run ${runId}`);
    const identity = (typeof run.identity === "string" ? JSON.parse(run.identity) : run.identity) as { breakGlass?: boolean };
    if (identity.breakGlass !== true) throw new RunControlRefusal("not-break-glass", `run ${runId} was approved the usual way: it needs no follow-up`, run.state);
    if (run.followed_up_at) {
      throw new RunControlRefusal("already-followed-up", `run ${runId} was followed up by ${run.followed_up_by ?? "someone"} at ${new Date(run.followed_up_at).toISOString()}`, run.state);
    }
    const at = rowsOf<{ at: string }>(await trx.raw("update runs set followed_up_at = now(), followed_up_by = ? where id = ? returning followed_up_at as at", [actor, runId]))[0]!;
    await appendAudit(trx, { kind: "run.followed_up", runId, actor, data: { by: actor, ...origin } });
    return { followedUpAt: new Date(at.at) };
  });
}

/** A run as the check's buttons see it: where it came from, and its state now. */
export interface CheckedRun {
  runId: string;
  state: RunState;
  repository: string;
  commit: string | null;
  pullRequest: number | null;
  requestPath: string;
  requester: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The run a `clutch-luigi/run` check on `commit` of `repository` is about: by the check's
 * `external_id` when it holds a run id, else the run of that merge commit. Either way
 * the run must be of that repository and commit, so a check elsewhere never reaches it.
 */
export async function findRunForCheck(store: Store, repository: string, commit: string, runId: string | null): Promise<CheckedRun | null> {
  const rows = rowsOf<{ id: string; state: RunState; identity: { repository: string; commit?: string; pullRequest?: number; requester?: { login: string } }; request_path: string }>(
    runId !== null && UUID.test(runId)
      ? await store.db.raw("select id, state, identity, request_path from runs where id = ?", [runId])
      : await store.db.raw(
          "select id, state, identity, request_path from runs where lower(identity->>'repository') = lower(?) and identity->>'commit' = ? order by created_at limit 1",
          [repository, commit],
        ),
  );
  const r = rows[0];
  if (!r || r.identity.repository.toLowerCase() !== repository.toLowerCase() || r.identity.commit !== commit) return null;
  return { runId: r.id, state: r.state, repository: r.identity.repository, commit: r.identity.commit ?? null, pullRequest: r.identity.pullRequest ?? null, requestPath: r.request_path, requester: r.identity.requester?.login ?? "" };
}
