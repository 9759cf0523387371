/**
 * Run-level transitions applied in SQL: starting a run, promoting steps into the
 * queue, the failing/cancelling path, finishing and handing the lock on. Every
 * function runs inside the caller's transaction with the run row already locked,
 * and returns the audit events for the caller to append before commit.
 */
import type { Knex } from "knex";
import { buildGraph, type RunGraph } from "../engine/graph.js";
import { planRollback, type StepSnapshot } from "../engine/rollback.js";
import type { RunState, StepState } from "../engine/states.js";
import type { WorkflowSpec } from "../formats/types.js";
import type { AuditEvent } from "./audit.js";
import { rowsOf } from "./db.js";

export const NOTIFY_CHANNEL = "clutch_luigi_work";

const graphs = new Map<string, RunGraph>();

/** The run's DAG, from its stored spec. Specs never change after creation, so caching is safe. */
export async function runGraph(trx: Knex | Knex.Transaction, runId: string): Promise<RunGraph> {
  let g = graphs.get(runId);
  if (!g) {
    const row = rowsOf<{ spec: { workflow: WorkflowSpec } }>(await trx.raw("select spec from runs where id = ?", [runId]))[0];
    if (!row) throw new Error(`no run ${runId}`);
    g = buildGraph(row.spec.workflow);
    if (graphs.size > 1_000) graphs.clear();
    graphs.set(runId, g);
  }
  return g;
}

export interface TxEffects {
  audit: AuditEvent[];
  /** Steps this transaction made claimable. */
  queued: number;
  /** Steps this transaction also claimed for its own worker; only the rest need waking anyone for. */
  claimed: number;
}

export function newEffects(): TxEffects {
  return { audit: [], queued: 0, claimed: 0 };
}

/** Move queued steps (dependencies done) to ready/waiting, within the run's parallelism budget. */
export async function promoteQueued(trx: Knex.Transaction, runId: string, fx: TxEffects, actor: string): Promise<void> {
  const promoted = rowsOf<{ step_id: string; state: StepState; after_ms: string | number }>(
    await trx.raw(
      `with budget as (select greatest(max_parallel - active, 0) as free from runs where id = ?),
            picked as (
              select step_id from steps
              where run_id = ? and state = 'pending' and deps_left = 0
              order by ord limit (select free from budget)
              for update
            ),
            upd as (
              update steps s set
                state = case when s.after_ms > 0 then 'waiting' else 'ready' end,
                run_at = clock_timestamp() + s.after_ms * interval '1 millisecond',
                ready_at = clock_timestamp() + s.after_ms * interval '1 millisecond'
              from picked where s.run_id = ? and s.step_id = picked.step_id
              returning s.step_id, s.state, s.after_ms
            ),
            bump as (update runs set active = active + (select count(*) from upd) where id = ? returning 1)
       select upd.*, (select count(*) from bump) as bumped from upd`,
      [runId, runId, runId, runId],
    ),
  );
  for (const p of promoted) {
    fx.audit.push({
      kind: p.state === "waiting" ? "step.waiting" : "step.ready",
      runId,
      stepId: p.step_id,
      actor,
      data: p.state === "waiting" ? { timerMs: Number(p.after_ms) } : {},
    });
  }
  fx.queued += promoted.length;
}

/** Give a run its lock-free start: deadline from now, root steps into the queue. */
export async function startRun(trx: Knex.Transaction, runId: string, fx: TxEffects, actor: string): Promise<void> {
  await trx.raw(
    `update runs set state = 'running', updated_at = now(),
       deadline = case when (spec->>'timeoutMs') is null then null
                       else now() + (spec->>'timeoutMs')::bigint * interval '1 millisecond' end
     where id = ?`,
    [runId],
  );
  fx.audit.push({ kind: "run.started", runId, actor });
  await promoteQueued(trx, runId, fx, actor);
}

/** Try to take `key` for `runId`. */
export async function acquireLock(trx: Knex.Transaction, key: string, runId: string): Promise<boolean> {
  const got = rowsOf(await trx.raw("insert into locks (key, run_id) values (?, ?) on conflict (key) do nothing returning key", [key, runId]));
  return got.length > 0;
}

/** Start the oldest run waiting on `key`, if the key is free. */
export async function handOnLock(trx: Knex.Transaction, key: string, fx: TxEffects, actor: string): Promise<string | null> {
  const next = rowsOf<{ id: string }>(
    await trx.raw(
      "select id from runs where state = 'waiting' and lock_key = ? order by created_at, id limit 1 for update skip locked",
      [key],
    ),
  )[0];
  if (!next) return null;
  if (!(await acquireLock(trx, key, next.id))) return null;
  fx.audit.push({ kind: "lock.acquired", runId: next.id, actor, data: { key } });
  await startRun(trx, next.id, fx, actor);
  return next.id;
}

export async function finishRun(
  trx: Knex.Transaction,
  runId: string,
  final: RunState,
  fx: TxEffects,
  actor: string,
): Promise<void> {
  const run = rowsOf<{ lock_key: string | null; error: string | null }>(
    await trx.raw(
      "update runs set state = ?, finished_at = now(), updated_at = now(), active = 0 where id = ? returning lock_key, error",
      [final, runId],
    ),
  )[0]!;
  fx.audit.push({ kind: `run.${final}`, runId, actor, data: run.error ? { error: run.error } : {} });
  if (run.lock_key) {
    const released = rowsOf(await trx.raw("delete from locks where key = ? and run_id = ? returning key", [run.lock_key, runId]));
    if (released.length > 0) {
      fx.audit.push({ kind: "lock.released", runId, actor, data: { key: run.lock_key } });
      await handOnLock(trx, run.lock_key, fx, actor);
    }
  }
}

/**
 * The failing path: cancel what never started, roll back what is out of its
 * dependents' way, and finish the run once nothing is in flight. Idempotent —
 * called after every event of a failing run.
 */
export async function reconcileFailing(trx: Knex.Transaction, runId: string, fx: TxEffects, actor: string): Promise<void> {
  const graph = await runGraph(trx, runId);
  for (let round = 0; round < 5; round++) {
    const run = rowsOf<{ state: RunState; cancel_requested: boolean }>(
      await trx.raw("select state, cancel_requested from runs where id = ?", [runId]),
    )[0]!;
    if (run.state !== "rolling_back") return;
    const rows = rowsOf<{ step_id: string; state: StepState; has_rollback: boolean }>(
      await trx.raw("select step_id, state, has_rollback from steps where run_id = ?", [runId]),
    );
    const steps = new Map<string, StepSnapshot>(rows.map((r) => [r.step_id, { state: r.state, hasRollback: r.has_rollback }]));
    const plan = planRollback(graph, { cancelRequested: run.cancel_requested, steps });
    if (plan.cancel.length > 0) {
      const done = rowsOf<{ step_id: string }>(
        await trx.raw(
          `update steps set state = 'cancelled', finished_at = now()
           where run_id = ? and step_id = any(?) and state in ('pending', 'ready', 'waiting') and lease_owner is null
           returning step_id`,
          [runId, plan.cancel],
        ),
      );
      for (const d of done) fx.audit.push({ kind: "step.cancelled", runId, stepId: d.step_id, actor });
      // A worker claimed one of them meanwhile: it is running now, so plan again from what is true.
      if (done.length !== plan.cancel.length) continue;
    }
    if (plan.rollback.length > 0) {
      const started = rowsOf<{ step_id: string }>(
        await trx.raw(
          // interruptions restart: the cap counts lost leases of the undo, not of the forward run
          `update steps set state = 'rolling_back', run_at = now(), ready_at = clock_timestamp(), interruptions = 0
           where run_id = ? and step_id = any(?) and state = 'succeeded' returning step_id`,
          [runId, plan.rollback],
        ),
      );
      for (const s of started) fx.audit.push({ kind: "step.rolling_back", runId, stepId: s.step_id, actor });
      fx.queued += started.length;
    }
    await trx.raw(
      "update runs set active = (select count(*) from steps where run_id = ? and state in ('ready', 'running', 'waiting')) where id = ?",
      [runId, runId],
    );
    if (plan.final) await finishRun(trx, runId, plan.final, fx, actor);
    return;
  }
  throw new Error(`run ${runId}: could not settle its failing steps (claims kept racing)`);
}

/** Put a running run on the failing path. */
export async function failRun(trx: Knex.Transaction, runId: string, error: string, fx: TxEffects, actor: string): Promise<void> {
  const moved = rowsOf(
    await trx.raw(
      "update runs set state = 'rolling_back', error = coalesce(error, ?), updated_at = now() where id = ? and state = 'running' returning id",
      [error, runId],
    ),
  );
  if (moved.length > 0) fx.audit.push({ kind: "run.rolling_back", runId, actor, data: { error } });
  await reconcileFailing(trx, runId, fx, actor);
}

/** Apply side effects that belong at the end of a transaction. */
export async function flushEffects(trx: Knex.Transaction, fx: TxEffects, appendAudit: (t: Knex.Transaction, e: AuditEvent[]) => Promise<void>, notify: boolean): Promise<void> {
  // Waking idle workers for work this transaction already took would only make them
  // run empty claims: notify for the remainder.
  if (notify && fx.queued > fx.claimed) await trx.raw("select pg_notify(?, '')", [NOTIFY_CHANNEL]);
  await appendAudit(trx, fx.audit);
}
