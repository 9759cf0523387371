/**
 * The WorkQueue on Postgres. Claiming is one statement (`FOR UPDATE SKIP LOCKED`
 * over the claimable-steps index, so workers never wait on each other's rows);
 * finishing steps is one transaction that records the attempts, moves the steps,
 * promotes their dependents, claims the next steps and appends the audit rows (see
 * migrations/002_hot_path.ts). A crash between the two leaves a lease that expires.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import pg from "pg";
import { classifyError } from "../actions/types.js";
import type { ClaimedStep, CompleteOutcome, RunDefinition, StepResult, WorkQueue } from "../engine/queue.js";
import { stepKey, UnstorableResultError } from "../engine/queue.js";
import type { Outputs } from "../engine/scope.js";
import type { RequestSpec, WorkflowSpec } from "../formats/types.js";
import { fireDueExpiries } from "./expiry-timer.js";
import { appendAudit, type AuditEvent } from "./audit.js";
import { rowsOf, type Store } from "./db.js";
import {
  NOTIFY_CHANNEL,
  failRun,
  finishRun,
  flushEffects,
  handOnLock,
  newEffects,
  promoteQueued,
  reconcileFailing,
  type TxEffects,
} from "./transitions.js";

export interface PgQueueOptions {
  workerId?: string;
  /** How long a claimed step stays ours without a heartbeat. */
  leaseMs?: number;
}

interface ClaimRow {
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

function parseJson<T>(v: unknown): T | undefined {
  if (v === null || v === undefined) return undefined;
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

function toClaimed(rows: ClaimRow[]): ClaimedStep[] {
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

/** `secret_outputs` of a step whose secrets were dropped for want of a key: the names only. */
const WITHHELD = "withheld:";

/** A success waiting for the next cl_complete_many batch. */
interface PendingDone {
  item: Record<string, unknown> & { run_id: string; step_id: string };
  claimNext: number;
  resolve: (o: CompleteOutcome | null) => void;
  reject: (e: unknown) => void;
}

/** Lease expiries after which a step fails with error class `interrupted` (graceful hand-backs do not count). */
export const MAX_INTERRUPTIONS = 5;

/**
 * Postgres refused the data itself (class 22: data exception, e.g. a NUL in jsonb;
 * class 54: a limit exceeded): sending the same values again cannot succeed.
 */
function refusedData(err: unknown): UnstorableResultError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^(22|54)/.test(code)) return null;
  const msg = err instanceof Error ? err.message : String(err);
  // knex puts the statement in front of the server's message; keep only the latter.
  return new UnstorableResultError(msg.slice(msg.lastIndexOf(" - ") + 3 || 0), { cause: err });
}

/** The database is unreachable or went away mid-query: worth waiting out, unlike a refusal. */
export function isConnectionError(err: unknown): boolean {
  if (classifyError(err) === "connection") return true;
  const e = err as { name?: unknown; message?: unknown } | null;
  if (e?.name === "KnexTimeoutError") return true;
  return typeof e?.message === "string"
    && /Connection terminated|Connection ended unexpectedly|connection error|ECONNREFUSED|ECONNRESET|server closed the connection/i.test(e.message);
}

export function defaultWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

export class PgWorkQueue implements WorkQueue {
  readonly workerId: string;
  readonly leaseMs: number;
  private listener: pg.Client | null = null;
  private subscribed = false;
  /**
   * Set when a wake-up may have been missed: a NOTIFY arrived while nobody waited, or
   * LISTEN was only just issued (work that became ready between the worker's last
   * claim and its LISTEN was announced to nobody). The next wait then returns at once
   * so the worker looks again: listen first, then check, then sleep.
   */
  private wakePending = false;
  private listenChain: Promise<void> = Promise.resolve();
  private waiters = new Set<() => void>();
  private pendingDone: PendingDone[] = [];
  private flushing = false;
  /** Steps already leased to this worker, waiting for the next claim(). */
  private stash: ClaimedStep[] = [];
  private closed = false;

  constructor(private readonly store: Store, opts: PgQueueOptions = {}) {
    this.workerId = opts.workerId ?? defaultWorkerId();
    this.leaseMs = opts.leaseMs ?? 30_000;
  }

  private get db(): Knex {
    return this.store.db;
  }

  private get actor(): string {
    return `worker:${this.workerId}`;
  }

  private async commit(trx: Knex.Transaction, fx: TxEffects): Promise<void> {
    await flushEffects(trx, fx, appendAudit, this.store.backend === "pg");
  }

  async claim(limit: number): Promise<ClaimedStep[]> {
    if (limit <= 0) return [];
    if (this.stash.length > 0) {
      const kept = await this.takeStash(this.db, limit);
      if (kept.length > 0) return kept;
    }
    // One statement, one commit: cl_claim leases the steps and appends their audit rows.
    const row = rowsOf<{ rows: ClaimRow[] | string }>(
      await this.db.raw("select cl_claim(?, ?, ?) as rows", [this.workerId, limit, this.leaseMs]),
    )[0];
    return toClaimed(parseJson<ClaimRow[]>(row?.rows) ?? []);
  }

  /**
   * Steps from the stash that are still ours, with their leases renewed. A stashed
   * step is not heartbeated: if it waited past its lease, another worker may have
   * taken it over (and even finished it), and running it here would run it twice.
   */
  private async takeStash(db: Knex | Knex.Transaction, limit: number): Promise<ClaimedStep[]> {
    const take = this.stash.splice(0, limit);
    if (take.length === 0) return [];
    const rows = rowsOf<{ run_id: string; step_id: string }>(
      await db.raw(
        `update steps s set lease_expires_at = now() + ? * interval '1 millisecond'
         from unnest(?::uuid[], ?::text[], ?::int[], ?::text[]) as k(run_id, step_id, attempt, phase)
         where s.run_id = k.run_id and s.step_id = k.step_id and s.lease_owner = ?
           and ((k.phase = 'forward' and s.state = 'running' and s.attempt = k.attempt)
             or (k.phase = 'rollback' and s.state = 'rolling_back' and s.rb_attempt = k.attempt))
         returning s.run_id, s.step_id`,
        [this.leaseMs, take.map((t) => t.runId), take.map((t) => t.stepId), take.map((t) => t.attempt), take.map((t) => t.phase), this.workerId],
      ),
    );
    const kept = new Set(rows.map((r) => stepKey({ runId: r.run_id, stepId: r.step_id })));
    return take.filter((t) => kept.has(stepKey(t)));
  }

  /** Lease up to `limit` claimable steps inside `trx`, queueing their audit rows in `fx`. */
  private async claimIn(trx: Knex.Transaction, limit: number, fx: TxEffects): Promise<ClaimedStep[]> {
    if (limit <= 0) return [];
    const row = rowsOf<{ rows: ClaimRow[] | string }>(
      await trx.raw("select cl_claim_rows(?, ?, ?) as rows", [this.workerId, limit, this.leaseMs]),
    )[0];
    const rows = parseJson<ClaimRow[]>(row?.rows) ?? [];
    fx.claimed += rows.length;
    for (const r of rows) {
      fx.audit.push({
        kind: r.state === "rolling_back" ? "step.rollback_started" : "step.running",
        runId: r.run_id,
        stepId: r.step_id,
        actor: this.actor,
        data: { attempt: r.state === "rolling_back" ? r.rb_attempt : r.attempt },
      });
    }
    return toClaimed(rows);
  }

  async loadRun(runId: string): Promise<RunDefinition> {
    const row = rowsOf<{ spec: { workflow: WorkflowSpec; request: RequestSpec }; identity: RunDefinition["identity"]; request_path: string }>(
      await this.db.raw("select spec, identity, request_path from runs where id = ?", [runId]),
    )[0];
    if (!row) throw new Error(`no run ${runId}`);
    return { runId, workflow: row.spec.workflow, request: row.spec.request, requestPath: row.request_path, identity: row.identity };
  }

  async loadOutputs(runId: string, stepIds: string[], secretsSeen?: Set<string>): Promise<Outputs> {
    const rows = rowsOf<{ step_id: string; outputs: Record<string, unknown> | null; secret_outputs: string | null }>(
      await this.db.raw("select step_id, outputs, secret_outputs from steps where run_id = ? and step_id = any(?)", [runId, stepIds]),
    );
    const out: Outputs = {};
    for (const r of rows) {
      const values: Record<string, unknown> = { ...(r.outputs ?? {}) };
      if (r.secret_outputs?.startsWith(WITHHELD)) {
        // Reading one of these is the error, not loading the step: its plain outputs stay usable.
        for (const name of JSON.parse(r.secret_outputs.slice(WITHHELD.length)) as string[]) {
          Object.defineProperty(values, name, {
            enumerable: true,
            get() {
              throw new Error(`output "${name}" of step "${r.step_id}" is secret and was not stored: no encryption key was configured when it ran (set CLUTCH_LUIGI_ENCRYPTION_KEY)`);
            },
          });
        }
      } else if (r.secret_outputs) {
        if (!this.store.cipher) throw new Error(`step "${r.step_id}" has encrypted outputs but no encryption key is configured (set CLUTCH_LUIGI_ENCRYPTION_KEY)`);
        let secret: Record<string, unknown>;
        try {
          secret = JSON.parse(this.store.cipher.decrypt(r.secret_outputs)) as Record<string, unknown>;
        } catch {
          throw new Error(`step "${r.step_id}" has encrypted outputs that the configured key cannot open (was CLUTCH_LUIGI_ENCRYPTION_KEY changed?)`);
        }
        for (const v of Object.values(secret)) if (typeof v === "string" && v !== "") secretsSeen?.add(v);
        Object.assign(values, secret);
      }
      out[r.step_id] = values;
    }
    return out;
  }

  private sealOutputs(outputs: Record<string, unknown>, secretNames: string[]): { plain: Record<string, unknown>; sealed: string | null } {
    const plain: Record<string, unknown> = {};
    const secret: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(outputs)) (secretNames.includes(k) ? secret : plain)[k] = v;
    if (Object.keys(secret).length === 0) return { plain, sealed: null };
    // No key: the secret is not stored at all, only its names, so that a later step
    // that reads one is told why it is missing.
    return { plain, sealed: this.store.cipher ? this.store.cipher.encrypt(JSON.stringify(secret)) : WITHHELD + JSON.stringify(Object.keys(secret)) };
  }

  async complete(step: ClaimedStep, result: StepResult, dependents: string[], claimNext = 0): Promise<CompleteOutcome> {
    if (step.phase === "forward" && (result.kind === "succeeded" || result.kind === "skipped")) {
      const fast = await this.completeBatched(step, result, dependents, claimNext);
      if (fast) return fast;
    }
    try {
      return await this.db.transaction(async (trx: Knex.Transaction) => {
        const fx = newEffects();
        const ok = step.phase === "forward"
          ? await this.completeForward(trx, step, result, dependents, fx)
          : await this.completeRollback(trx, step, result, fx);
        if (!ok) return { ok: false, next: [] };
        // Take the next steps in the same transaction: a chain then costs one commit
        // per step, and the step just made ready starts without a round of wake-ups.
        // Steps already leased to us for the batch this report left come first.
        const stashed = claimNext > 0 ? await this.takeStash(trx, claimNext) : [];
        const next = [...stashed, ...(claimNext > stashed.length ? await this.claimIn(trx, claimNext - stashed.length, fx) : [])];
        await this.commit(trx, fx);
        return { ok: true, next };
      });
    } catch (err) {
      throw refusedData(err) ?? err;
    }
  }

  /**
   * Queue a success for the next batch. Whatever completes while a batch is in
   * flight rides the following one, so batching adds no delay of its own.
   * Resolves null when the general path must handle it (run failing, lock hand-off).
   */
  private completeBatched(
    step: ClaimedStep,
    result: Extract<StepResult, { kind: "succeeded" | "skipped" }>,
    dependents: string[],
    claimNext: number,
  ): Promise<CompleteOutcome | null> {
    const { plain, sealed } = this.sealOutputs(result.outputs, result.secretOutputs);
    return new Promise((resolve, reject) => {
      this.pendingDone.push({
        item: {
          run_id: step.runId, step_id: step.stepId, attempt: step.attempt, kind: result.kind, outputs: plain, sealed,
          output_names: Object.keys(result.outputs).sort(), dependents,
        },
        claimNext,
        resolve,
        reject,
      });
      if (!this.flushing) void this.flushDone();
    });
  }

  private async flushDone(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pendingDone.length > 0) {
        const batch = this.pendingDone.splice(0, 64);
        await this.flushBatch(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async flushBatch(batch: PendingDone[]): Promise<void> {
    const claimNext = batch.reduce((n, b) => n + b.claimNext, 0);
    try {
      const out = parseJson<{ statuses: Record<string, "ok" | "lost" | "slow">; claimed: ClaimRow[] }>(
        rowsOf<{ r: unknown }>(
          await this.db.raw("select cl_complete_many(?, ?::jsonb, ?, ?, ?) as r", [
            this.workerId, JSON.stringify(batch.map((b) => b.item)), claimNext, this.leaseMs, this.store.backend === "pg",
          ]),
        )[0]?.r,
      )!;
      // Hand the claimed steps out in proportion to what each report asked for.
      const claimed = toClaimed(out.claimed);
      for (const b of batch) {
        const status = out.statuses[`${b.item.run_id}/${b.item.step_id}`];
        const next = status === "ok" ? claimed.splice(0, b.claimNext) : [];
        if (status === "ok") b.resolve({ ok: true, next });
        else if (status === "lost") b.resolve({ ok: false, next: [] });
        else b.resolve(null);
      }
      // Leased for reports that turned out lost or slow: the next claim() hands them out.
      this.stash.push(...claimed);
      if (claimed.length > 0) this.notifyAll();
    } catch (err) {
      const refused = refusedData(err);
      // One report the database refuses must not sink the others it travelled with.
      if (refused && batch.length > 1) {
        for (const b of batch) await this.flushBatch([b]);
        return;
      }
      for (const b of batch) b.reject(refused ?? err);
    }
  }

  private async endAttempt(trx: Knex.Transaction, step: ClaimedStep, outcome: string, errorClass: string | null, error: string | null): Promise<void> {
    await trx.raw(
      `update attempts set outcome = ?, error_class = ?, error = ?, finished_at = now()
       where run_id = ? and step_id = ? and phase = ? and attempt = ?`,
      [outcome, errorClass, error, step.runId, step.stepId, step.phase, step.attempt],
    );
  }

  /** Release our lease and move the step; false if the step is no longer ours. */
  private async moveOwned(trx: Knex.Transaction, step: ClaimedStep, from: string, set: string, bindings: Knex.Value[]): Promise<boolean> {
    const attemptCol = step.phase === "forward" ? "attempt" : "rb_attempt";
    const moved = rowsOf(
      await trx.raw(
        `update steps set ${set}, lease_owner = null, lease_expires_at = null
         where run_id = ? and step_id = ? and lease_owner = ? and ${attemptCol} = ? and state = ?
         returning 1`,
        [...bindings, step.runId, step.stepId, this.workerId, step.attempt, from],
      ),
    );
    return moved.length > 0;
  }

  private async completeForward(trx: Knex.Transaction, step: ClaimedStep, result: StepResult, dependents: string[], fx: TxEffects): Promise<boolean> {
    const ev = (kind: string, data: Record<string, unknown> = {}): AuditEvent => ({ kind, runId: step.runId, stepId: step.stepId, actor: this.actor, data: { attempt: step.attempt, ...data } });
    switch (result.kind) {
      case "succeeded":
      case "skipped": {
        const { plain, sealed } = this.sealOutputs(result.outputs, result.secretOutputs);
        if (!(await this.moveOwned(trx, step, "running", "state = ?, outputs = ?::jsonb, secret_outputs = ?, finished_at = clock_timestamp()", [result.kind, JSON.stringify(plain), sealed]))) return false;
        await this.endAttempt(trx, step, result.kind, null, null);
        fx.audit.push(ev(`step.${result.kind}`, { outputs: Object.keys(result.outputs).sort() }));
        const run = rowsOf<{ state: string; steps_left: number }>(
          await trx.raw(
            "update runs set active = active - 1, steps_left = steps_left - 1, updated_at = now() where id = ? returning state, steps_left",
            [step.runId],
          ),
        )[0]!;
        if (run.state !== "running") {
          await reconcileFailing(trx, step.runId, fx, this.actor);
          return true;
        }
        if (dependents.length > 0) {
          await trx.raw("update steps set deps_left = deps_left - 1 where run_id = ? and step_id = any(?)", [step.runId, dependents]);
        }
        if (Number(run.steps_left) === 0) await finishRun(trx, step.runId, "succeeded", fx, this.actor);
        else await promoteQueued(trx, step.runId, fx, this.actor);
        return true;
      }
      case "park": {
        if (!(await this.moveOwned(trx, step, "running", "state = 'waiting', timer_done = true, run_at = now() + ? * interval '1 millisecond', ready_at = now() + ? * interval '1 millisecond'", [result.delayMs, result.delayMs]))) return false;
        await this.endAttempt(trx, step, "parked", null, null);
        fx.audit.push(ev("step.waiting", { timerMs: result.delayMs }));
        return true;
      }
      case "interrupted": {
        if (!(await this.moveOwned(trx, step, "running", "state = 'ready', run_at = now(), ready_at = clock_timestamp()", []))) return false;
        await this.endAttempt(trx, step, "interrupted", "interrupted", result.message);
        fx.audit.push(ev("step.interrupted", { reason: result.message }));
        fx.queued += 1;
        return true;
      }
      case "failed": {
        if (result.retryInMs !== null) {
          const state = result.retryInMs > 0 ? "waiting" : "ready";
          if (!(await this.moveOwned(trx, step, "running", "state = ?, failures = failures + 1, error_class = ?, error = ?, run_at = now() + ? * interval '1 millisecond', ready_at = now() + ? * interval '1 millisecond'", [state, result.errorClass, result.message, result.retryInMs, result.retryInMs]))) return false;
          await this.endAttempt(trx, step, "failed", result.errorClass, result.message);
          fx.audit.push(ev("step.retrying", { errorClass: result.errorClass, delayMs: result.retryInMs }));
          fx.queued += 1;
          return true;
        }
        const state = result.errorClass === "cancelled" ? "cancelled" : "failed";
        if (!(await this.moveOwned(trx, step, "running", "state = ?, failures = failures + 1, error_class = ?, error = ?, finished_at = clock_timestamp()", [state, result.errorClass, result.message]))) return false;
        await this.endAttempt(trx, step, state === "cancelled" ? "cancelled" : "failed", result.errorClass, result.message);
        fx.audit.push(ev(`step.${state}`, { errorClass: result.errorClass }));
        await trx.raw("update runs set active = active - 1 where id = ?", [step.runId]);
        await failRun(trx, step.runId, `step ${step.stepId} failed (${result.errorClass}): ${result.message}`, fx, this.actor);
        return true;
      }
      default:
        throw new Error(`a forward attempt cannot end as ${result.kind}`);
    }
  }

  private async completeRollback(trx: Knex.Transaction, step: ClaimedStep, result: StepResult, fx: TxEffects): Promise<boolean> {
    const ev = (kind: string, data: Record<string, unknown> = {}): AuditEvent => ({ kind, runId: step.runId, stepId: step.stepId, actor: this.actor, data: { attempt: step.attempt, ...data } });
    // Lock the run first: completions of one run's rollbacks serialize, so the plan sees them in order.
    await trx.raw("select 1 from runs where id = ? for update", [step.runId]);
    if (result.kind === "interrupted") {
      if (!(await this.moveOwned(trx, step, "rolling_back", "run_at = now()", []))) return false;
      await this.endAttempt(trx, step, "interrupted", "interrupted", result.message);
      fx.audit.push(ev("step.interrupted", { phase: "rollback", reason: result.message }));
      fx.queued += 1;
      return true;
    }
    if (result.kind === "rolled_back") {
      if (!(await this.moveOwned(trx, step, "rolling_back", "state = 'rolled_back', finished_at = clock_timestamp()", []))) return false;
      await this.endAttempt(trx, step, "rolled_back", null, null);
      fx.audit.push(ev("step.rolled_back"));
    } else if (result.kind === "rollback_failed" && result.retryInMs !== null) {
      if (!(await this.moveOwned(trx, step, "rolling_back", "run_at = now() + ? * interval '1 millisecond', error_class = ?, error = ?", [result.retryInMs, result.errorClass, result.message]))) return false;
      await this.endAttempt(trx, step, "failed", result.errorClass, result.message);
      fx.audit.push(ev("step.rollback_retrying", { errorClass: result.errorClass, delayMs: result.retryInMs }));
      fx.queued += 1;
      return true;
    } else if (result.kind === "rollback_failed") {
      if (!(await this.moveOwned(trx, step, "rolling_back", "state = 'rollback_failed', error_class = ?, error = ?, finished_at = clock_timestamp()", [result.errorClass, result.message]))) return false;
      await this.endAttempt(trx, step, "failed", result.errorClass, result.message);
      fx.audit.push(ev("step.rollback_failed", { errorClass: result.errorClass }));
    } else {
      throw new Error(`a rollback attempt cannot end as ${result.kind}`);
    }
    await reconcileFailing(trx, step.runId, fx, this.actor);
    return true;
  }

  async cancelRequested(runIds: string[]): Promise<Set<string>> {
    if (runIds.length === 0) return new Set();
    const rows = rowsOf<{ id: string }>(await this.db.raw("select id from runs where id = any(?::uuid[]) and cancel_requested", [runIds]));
    return new Set(rows.map((r) => r.id));
  }

  async heartbeat(steps: ClaimedStep[]): Promise<Set<string>> {
    if (steps.length === 0) return new Set();
    const kept = rowsOf<{ run_id: string; step_id: string; state: string; cancel_requested: boolean }>(
      await this.db.raw(
        `with k as (select * from unnest(?::uuid[], ?::text[]) as k(run_id, step_id)),
              upd as (
                update steps s set lease_expires_at = now() + ? * interval '1 millisecond'
                from k where s.run_id = k.run_id and s.step_id = k.step_id and s.lease_owner = ?
                returning s.run_id, s.step_id, s.state
              )
         select upd.*, r.cancel_requested from upd join runs r on r.id = upd.run_id`,
        [steps.map((s) => s.runId), steps.map((s) => s.stepId), this.leaseMs, this.workerId],
      ),
    );
    const alive = new Map(kept.map((k) => [stepKey({ runId: k.run_id, stepId: k.step_id }), k]));
    const abort = new Set<string>();
    for (const s of steps) {
      const k = alive.get(stepKey(s));
      // Rollbacks finish even when the run was cancelled: cancelling is what asked for them.
      if (!k || (k.cancel_requested && s.phase === "forward")) abort.add(stepKey(s));
    }
    return abort;
  }

  /**
   * @param all also take leases that have not expired — only for the embedded
   *   database, where one process at a time can hold it, so any lease is a dead one.
   */
  async reclaimExpired(all = false): Promise<number> {
    return this.db.transaction(async (trx: Knex.Transaction) => {
      const rows = rowsOf<{ run_id: string; step_id: string; state: string; prev_state: string; attempt: number; rb_attempt: number; prev_owner: string }>(
        await trx.raw(
          `with exp as (
             select run_id, step_id, state as prev_state, lease_owner as prev_owner from steps
             where lease_owner is not null and (lease_expires_at < now() or ?)
             order by lease_expires_at limit 100
             for update skip locked
           ),
           upd as (
             update steps s set
               lease_owner = null, lease_expires_at = null, run_at = now(), ready_at = clock_timestamp(),
               state = case when s.interruptions + 1 < ? then (case when exp.prev_state = 'running' then 'ready' else exp.prev_state end)
                            when exp.prev_state = 'running' then 'failed' else 'rollback_failed' end,
               error_class = case when s.interruptions + 1 >= ? then 'interrupted' else s.error_class end,
               error = case when s.interruptions + 1 >= ?
                            then 'interrupted ' || (s.interruptions + 1) || ' times: every worker running it stopped heartbeating'
                            else s.error end,
               finished_at = case when s.interruptions + 1 >= ? then now() else s.finished_at end,
               interruptions = s.interruptions + 1
             from exp where s.run_id = exp.run_id and s.step_id = exp.step_id
             returning s.run_id, s.step_id, s.state, exp.prev_state, s.attempt, s.rb_attempt, exp.prev_owner
           ),
           att as (
             update attempts a set outcome = 'interrupted', error_class = 'interrupted',
               error = 'lease expired: worker ' || upd.prev_owner || ' stopped heartbeating', finished_at = now()
             from upd
             where a.run_id = upd.run_id and a.step_id = upd.step_id and a.outcome = 'running'
               and a.phase = case when upd.prev_state = 'running' then 'forward' else 'rollback' end
               and a.attempt = case when upd.prev_state = 'running' then upd.attempt else upd.rb_attempt end
             returning 1
           )
           select upd.*, (select count(*) from att) as n from upd`,
          [all, MAX_INTERRUPTIONS, MAX_INTERRUPTIONS, MAX_INTERRUPTIONS, MAX_INTERRUPTIONS],
        ),
      );
      if (rows.length === 0) return 0;
      const fx = newEffects();
      fx.queued += rows.filter((r) => r.state !== "failed" && r.state !== "rollback_failed").length;
      for (const r of rows) {
        fx.audit.push({
          kind: "step.interrupted",
          runId: r.run_id,
          stepId: r.step_id,
          actor: this.actor,
          data: { attempt: r.prev_state === "running" ? r.attempt : r.rb_attempt, phase: r.prev_state === "running" ? "forward" : "rollback", worker: r.prev_owner },
        });
      }
      // A step that takes down every worker that runs it is not retried for ever.
      for (const r of rows.filter((x) => x.state === "failed")) {
        fx.audit.push({ kind: "step.failed", runId: r.run_id, stepId: r.step_id, actor: this.actor, data: { attempt: r.attempt, errorClass: "interrupted" } });
        await trx.raw("update runs set active = active - 1 where id = ?", [r.run_id]);
        await failRun(trx, r.run_id, `step ${r.step_id} failed (interrupted): interrupted ${MAX_INTERRUPTIONS} times`, fx, this.actor);
      }
      // Nor is an undo that does: it fails for good, which stops what depends on it being undone.
      for (const r of rows.filter((x) => x.state === "rollback_failed")) {
        fx.audit.push({ kind: "step.rollback_failed", runId: r.run_id, stepId: r.step_id, actor: this.actor, data: { attempt: r.rb_attempt, errorClass: "interrupted" } });
        await trx.raw("select 1 from runs where id = ? for update", [r.run_id]);
        await reconcileFailing(trx, r.run_id, fx, this.actor);
      }
      await this.commit(trx, fx);
      return rows.length;
    });
  }

  async expireRuns(): Promise<number> {
    // Time-bound runs whose change is due to be undone (a different clock from deadlines: see expiry-timer.ts).
    await fireDueExpiries(this.db, this.actor, this.store.backend === "pg");
    const ids = rowsOf<{ id: string }>(
      await this.db.raw("select id from runs where deadline < now() and state = 'running' limit 20"),
    );
    let n = 0;
    for (const { id } of ids) {
      await this.db.transaction(async (trx: Knex.Transaction) => {
        const locked = rowsOf(await trx.raw("select 1 from runs where id = ? and state = 'running' and deadline < now() for update skip locked", [id]));
        if (locked.length === 0) return;
        const fx = newEffects();
        await failRun(trx, id, "run timed out", fx, this.actor);
        await this.commit(trx, fx);
        n++;
      });
    }
    // Runs left waiting by a lock hand-off that raced with their creation.
    const stranded = rowsOf<{ key: string }>(
      await this.db.raw(
        "select distinct lock_key as key from runs w where state = 'waiting' and lock_key is not null and not exists (select 1 from locks l where l.key = w.lock_key) limit 20",
      ),
    );
    for (const { key } of stranded) {
      await this.db.transaction(async (trx: Knex.Transaction) => {
        const fx = newEffects();
        await handOnLock(trx, key, fx, this.actor);
        await this.commit(trx, fx);
      });
    }
    return n;
  }

  /**
   * LISTEN while idle, UNLISTEN while busy. Each NOTIFY costs a transaction in every
   * listening backend, so a busy worker — which finds its next steps when it reports
   * the current ones — should not be paying for the fleet's wake-ups.
   */
  private setListening(want: boolean): Promise<void> {
    if (this.store.backend !== "pg" || !this.store.databaseUrl || this.closed) return Promise.resolve();
    this.listenChain = this.listenChain.then(async () => {
      if (want === this.subscribed && this.listener) return;
      if (!want && !this.listener) return;
      if (!this.listener) {
        const client = new pg.Client({ connectionString: this.store.databaseUrl, application_name: "clutch-luigi-listen", keepAlive: true });
        client.on("notification", () => this.notifyAll());
        client.on("error", () => {
          // Reconnect on the next idle wait; meanwhile polling covers us.
          if (this.listener === client) {
            this.listener = null;
            this.subscribed = false;
          }
          client.end().catch(() => undefined);
        });
        await client.connect();
        this.listener = client;
      }
      await this.listener.query(want ? `listen ${NOTIFY_CHANNEL}` : `unlisten ${NOTIFY_CHANNEL}`);
      if (want && !this.subscribed) this.wakePending = true;
      this.subscribed = want;
    }).catch(() => {
      this.listener?.end().catch(() => undefined);
      this.listener = null;
      this.subscribed = false;
    });
    return this.listenChain;
  }

  isTransient(err: unknown): boolean {
    return isConnectionError(err);
  }

  private notifyAll(): void {
    if (this.waiters.size === 0) this.wakePending = true;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  async waitForWork(ms: number, signal: AbortSignal, listen = true): Promise<void> {
    await this.setListening(listen);
    if (signal.aborted) return;
    if (this.wakePending) {
      this.wakePending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Steps leased for us but never started: hand them back now rather than at lease expiry.
    for (const step of this.stash.splice(0)) {
      await this.complete(step, { kind: "interrupted", message: "worker stopped before starting it" }, []).catch(() => undefined);
    }
    this.notifyAll();
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => undefined);
  }
}
