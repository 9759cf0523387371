/**
 * Leasing steps to a worker. Claiming is one statement (`FOR UPDATE SKIP LOCKED` over
 * the claimable-steps index, so workers never wait on each other's rows) that also
 * appends the claims' audit rows: cl_claim, migration 002.
 */
import type { Knex } from "knex";
import { stepKey, type ClaimedStep } from "../engine/queue.js";
import { rowsOf } from "./db.js";

/** A step row as cl_claim_rows returns it. */
export interface ClaimRow {
  run_id: string;
  step_id: string;
  state: string;
  attempt: number;
  rb_attempt: number;
  failures: number;
  timer_done: boolean;
  idempotency_key: string;
  deadline: Date | string | null;
}

export function parseJson<T>(v: unknown): T | undefined {
  if (v === null || v === undefined) return undefined;
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

export function toClaimed(rows: readonly ClaimRow[]): ClaimedStep[] {
  return rows.map((r) => ({
    runId: r.run_id,
    stepId: r.step_id,
    phase: r.state === "rolling_back" ? ("rollback" as const) : ("forward" as const),
    attempt: r.state === "rolling_back" ? Number(r.rb_attempt) : Number(r.attempt),
    failures: Number(r.failures),
    timerDone: Boolean(r.timer_done),
    idempotencyKey: r.idempotency_key,
    deadline: r.deadline ? new Date(r.deadline) : null,
  }));
}

export async function claimSteps(db: Knex, workerId: string, limit: number, leaseMs: number): Promise<ClaimedStep[]> {
  if (limit <= 0) return [];
  const row = rowsOf<{ rows: ClaimRow[] | string }>(await db.raw("select cl_claim(?, ?, ?) as rows", [workerId, limit, leaseMs]))[0];
  return toClaimed(parseJson<ClaimRow[]>(row?.rows) ?? []);
}

/**
 * Of steps leased to this worker earlier but not started yet, those still ours, with
 * their leases renewed. A step that waited past its lease may have been taken over
 * (and even finished) by another worker: running it here would run it twice.
 */
export async function renewLeases(db: Knex, workerId: string, steps: readonly ClaimedStep[], leaseMs: number): Promise<ClaimedStep[]> {
  if (steps.length === 0) return [];
  const rows = rowsOf<{ run_id: string; step_id: string }>(
    await db.raw(
      `update steps s set lease_expires_at = now() + ? * interval '1 millisecond'
       from unnest(?::uuid[], ?::text[], ?::int[], ?::text[]) as k(run_id, step_id, attempt, phase)
       where s.run_id = k.run_id and s.step_id = k.step_id and s.lease_owner = ?
         and ((k.phase = 'forward' and s.state = 'running' and s.attempt = k.attempt)
           or (k.phase = 'rollback' and s.state = 'rolling_back' and s.rb_attempt = k.attempt))
       returning s.run_id, s.step_id`,
      [leaseMs, steps.map((t) => t.runId), steps.map((t) => t.stepId), steps.map((t) => t.attempt), steps.map((t) => t.phase), workerId],
    ),
  );
  const kept = new Set(rows.map((r) => stepKey({ runId: r.run_id, stepId: r.step_id })));
  return steps.filter((t) => kept.has(stepKey(t)));
}

/**
 * Extend the leases of steps running here. Returns the keys of those to abort: the
 * lease was lost, or a person cancelled the run (rollbacks finish even then: the
 * cancel is what asked for them).
 */
export async function heartbeatSteps(db: Knex, workerId: string, steps: readonly ClaimedStep[], leaseMs: number): Promise<Set<string>> {
  if (steps.length === 0) return new Set();
  const kept = rowsOf<{ run_id: string; step_id: string; cancel_requested: boolean }>(
    await db.raw(
      // Rows locked in key order, as reports take them, so a heartbeat and a report never wait on each other in a cycle.
      `with k as (select * from unnest(?::uuid[], ?::text[]) as k(run_id, step_id)),
            mine as (
              select s.run_id, s.step_id from steps s join k on s.run_id = k.run_id and s.step_id = k.step_id
              where s.lease_owner = ? order by s.run_id, s.step_id for update of s
            ),
            upd as (
              update steps s set lease_expires_at = now() + ? * interval '1 millisecond'
              from mine where s.run_id = mine.run_id and s.step_id = mine.step_id
              returning s.run_id, s.step_id
            )
       select upd.*, r.cancel_requested from upd join runs r on r.id = upd.run_id`,
      [steps.map((s) => s.runId), steps.map((s) => s.stepId), workerId, leaseMs],
    ),
  );
  const alive = new Map(kept.map((k) => [stepKey({ runId: k.run_id, stepId: k.step_id }), k]));
  const abort = new Set<string>();
  for (const s of steps) {
    const k = alive.get(stepKey(s));
    if (!k || (k.cancel_requested && s.phase === "forward")) abort.add(stepKey(s));
  }
  return abort;
}
