/**
 * The WorkQueue on Postgres: the worker loop's view of the store. Every state change
 * it asks for is one of the transition functions of migration 015, each of which
 * appends its audit rows in the same transaction; this file only wires them to the
 * loop. Claims: claims.ts. Reports, batched: report-batch.ts. Outputs at rest:
 * step-outputs.ts. Wake-ups: work-listener.ts.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import type { ClaimedStep, CompleteOutcome, RunDefinition, StepResult, WorkQueue } from "../engine/queue.js";
import type { Outputs } from "../engine/scope.js";
import type { RequestSpec, WorkflowSpec } from "../formats/types.js";
import { claimSteps, heartbeatSteps, renewLeases } from "./claims.js";
import { rowsOf, type Store } from "./db.js";
import { isConnectionError } from "./db-errors.js";
import { fireDueExpiries } from "./expiry-timer.js";
import { ReportBatcher, reportItem } from "./report-batch.js";
import { loadOutputs } from "./step-outputs.js";
import { WorkListener } from "./work-listener.js";

export { isConnectionError } from "./db-errors.js";

export interface PgQueueOptions {
  workerId?: string;
  /** How long a claimed step stays ours without a heartbeat. */
  leaseMs?: number;
}

/** Lease expiries after which a step fails with error class `interrupted` (graceful hand-backs do not count). */
export const MAX_INTERRUPTIONS = 5;

export function defaultWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

export class PgWorkQueue implements WorkQueue {
  readonly workerId: string;
  readonly leaseMs: number;
  private readonly listener: WorkListener;
  private readonly reports: ReportBatcher;
  /** Steps already leased to this worker (for reports that were lost), waiting for the next claim(). */
  private stash: ClaimedStep[] = [];

  constructor(private readonly store: Store, opts: PgQueueOptions = {}) {
    this.workerId = opts.workerId ?? defaultWorkerId();
    this.leaseMs = opts.leaseMs ?? 30_000;
    const pg = store.backend === "pg";
    this.listener = new WorkListener(pg ? (store.databaseUrl ?? null) : null);
    this.reports = new ReportBatcher(() => this.db, this.workerId, this.leaseMs, pg, (spare) => {
      this.stash.push(...spare);
      this.listener.wakeAll();
    });
  }

  private get db(): Knex {
    return this.store.db;
  }

  private get notify(): boolean {
    return this.store.backend === "pg";
  }

  async claim(limit: number): Promise<ClaimedStep[]> {
    if (limit <= 0) return [];
    if (this.stash.length > 0) {
      const kept = await renewLeases(this.db, this.workerId, this.stash.splice(0, limit), this.leaseMs);
      if (kept.length > 0) return kept;
    }
    return claimSteps(this.db, this.workerId, limit, this.leaseMs);
  }

  async loadRun(runId: string): Promise<RunDefinition> {
    const row = rowsOf<{ spec: { workflow: WorkflowSpec; request: RequestSpec }; identity: RunDefinition["identity"]; request_path: string }>(
      await this.db.raw("select spec, identity, request_path from runs where id = ?", [runId]),
    )[0];
    if (!row) throw new Error(`no run ${runId}`);
    return { runId, workflow: row.spec.workflow, request: row.spec.request, requestPath: row.request_path, identity: row.identity };
  }

  loadOutputs(runId: string, stepIds: string[], secretsSeen?: Set<string>): Promise<Outputs> {
    return loadOutputs(this.db, this.store.cipher, runId, stepIds, secretsSeen);
  }

  /** Which steps a result promotes is the store's to know: each step row carries its dependents. */
  complete(step: ClaimedStep, result: StepResult, claimNext = 0): Promise<CompleteOutcome> {
    return this.reports.report(reportItem(step, result, this.store.cipher), claimNext);
  }

  async cancelRequested(runIds: string[]): Promise<Set<string>> {
    if (runIds.length === 0) return new Set();
    const rows = rowsOf<{ id: string }>(await this.db.raw("select id from runs where id = any(?::uuid[]) and cancel_requested", [runIds]));
    return new Set(rows.map((r) => r.id));
  }

  heartbeat(steps: ClaimedStep[]): Promise<Set<string>> {
    return heartbeatSteps(this.db, this.workerId, steps, this.leaseMs);
  }

  /**
   * @param all also take leases that have not expired — only for the embedded
   *   database, where one process at a time can hold it, so any lease is a dead one.
   */
  async reclaimExpired(all = false): Promise<number> {
    const row = rowsOf<{ n: number }>(
      await this.db.raw("select cl_reclaim_expired(?, ?, ?, ?) as n", [this.workerId, all, MAX_INTERRUPTIONS, this.notify]),
    )[0];
    return Number(row?.n ?? 0);
  }

  async expireRuns(): Promise<number> {
    // Time-bound runs whose change is due to be undone (a different clock from deadlines: see expiry-timer.ts).
    await fireDueExpiries(this.db, `worker:${this.workerId}`, this.notify);
    const row = rowsOf<{ n: number }>(await this.db.raw("select cl_expire_runs(?, ?) as n", [this.workerId, this.notify]))[0];
    return Number(row?.n ?? 0);
  }

  isTransient(err: unknown): boolean {
    return isConnectionError(err);
  }

  waitForWork(ms: number, signal: AbortSignal, listen = true): Promise<void> {
    return this.listener.wait(ms, signal, listen);
  }

  async close(): Promise<void> {
    // Steps leased for us but never started: hand them back now rather than at lease expiry.
    for (const step of this.stash.splice(0)) {
      await this.complete(step, { kind: "interrupted", message: "worker stopped before starting it" }).catch(() => undefined);
    }
    await this.listener.close();
  }
}
