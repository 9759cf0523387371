/**
 * Reporting attempts' ends: every report a worker has ready travels in one call of
 * cl_report (migration 015), which applies each transition, claims the worker's next
 * steps and appends the audit rows in one transaction. Whatever finishes while a
 * batch is in flight rides the following one, so batching adds no delay of its own.
 */
import type { Knex } from "knex";
import type { ClaimedStep, CompleteOutcome, StepResult } from "../engine/queue.js";
import type { OutputCipher } from "./cipher.js";
import { parseJson, toClaimed, type ClaimRow } from "./claims.js";
import { rowsOf } from "./db.js";
import { refusedData } from "./db-errors.js";
import { sealOutputs } from "./step-outputs.js";

/** Reports per transaction: enough to amortize a commit, few enough to keep locks short. */
const MAX_BATCH = 64;
/**
 * Batches in flight at once: one. Steps keep running while it is in flight, and what
 * they report meanwhile rides the next batch. A second batch in flight (as before)
 * only split the same reports over two transactions queueing on the same run rows
 * and the audit head: three alternating pairs of bench:engine runs put 2,000 5-step
 * chains at 1,263–1,589 steps/s with one against 1,029–1,055 with two (0.53 commits a
 * step against 0.68), the other shapes level.
 */
const MAX_IN_FLIGHT = 1;

type Status = "ok" | "lost";

interface Pending {
  item: ReportItem;
  claimNext: number;
  resolve: (o: CompleteOutcome) => void;
  reject: (e: unknown) => void;
}

/** One report as cl_end_attempt and cl_run_after_attempt_events read it. */
export interface ReportItem {
  run_id: string;
  step_id: string;
  phase: ClaimedStep["phase"];
  attempt: number;
  kind: StepResult["kind"];
  outputs?: Record<string, unknown>;
  sealed?: string | null;
  output_names?: string[];
  reason?: string | null;
  error_class?: string;
  message?: string;
  retry_in_ms?: number | null;
  delay_ms?: number;
}

export function reportItem(step: ClaimedStep, result: StepResult, cipher: OutputCipher | null): ReportItem {
  const base = { run_id: step.runId, step_id: step.stepId, phase: step.phase, attempt: step.attempt, kind: result.kind };
  switch (result.kind) {
    case "succeeded":
    case "skipped": {
      const { plain, sealed } = sealOutputs(cipher, result.outputs, result.secretOutputs);
      const reason = result.kind === "skipped" ? (result.reason ?? null) : null;
      return { ...base, outputs: plain, sealed, output_names: Object.keys(result.outputs).sort(), reason };
    }
    case "failed":
    case "rollback_failed":
      return { ...base, error_class: result.errorClass, message: result.message, retry_in_ms: result.retryInMs };
    case "park":
      return { ...base, delay_ms: result.delayMs };
    case "interrupted":
      return { ...base, message: result.message };
    case "rolled_back":
      return base;
  }
}

export class ReportBatcher {
  private pending: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly db: () => Knex,
    private readonly workerId: string,
    private readonly leaseMs: number,
    private readonly notify: boolean,
    /** Steps claimed for reports that turned out lost: the next claim() hands them out. */
    private readonly onSpare: (steps: ClaimedStep[]) => void,
  ) {}

  report(item: ReportItem, claimNext: number): Promise<CompleteOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, claimNext, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT) return;
    this.scheduled = true;
    // Reports that finish in the same turn of the event loop share a batch.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.pending.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      const batch = this.pending.splice(0, MAX_BATCH);
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        if (this.pending.length > 0) this.schedule();
      });
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    const claimNext = batch.reduce((n, b) => n + b.claimNext, 0);
    try {
      const out = parseJson<{ statuses: Record<string, Status>; claimed: ClaimRow[] }>(
        rowsOf<{ r: unknown }>(
          await this.db().raw("select cl_report(?, ?::jsonb, ?, ?, ?) as r", [
            this.workerId, JSON.stringify(batch.map((b) => b.item)), claimNext, this.leaseMs, this.notify,
          ]),
        )[0]?.r,
      )!;
      // Hand the claimed steps out in proportion to what each report asked for.
      const claimed = toClaimed(out.claimed);
      for (const b of batch) {
        const ok = out.statuses[`${b.item.run_id}/${b.item.step_id}`] === "ok";
        b.resolve({ ok, next: ok ? claimed.splice(0, b.claimNext) : [] });
      }
      if (claimed.length > 0) this.onSpare(claimed);
    } catch (err) {
      const refused = refusedData(err);
      // One report the database refuses must not sink the others it travelled with.
      if (refused && batch.length > 1) {
        for (const b of batch) await this.send([b]);
        return;
      }
      for (const b of batch) b.reject(refused ?? err);
    }
  }
}
