/**
 * Running engine workers against a store: what `clutch-luigi worker`, `clutch-luigi
 * run` and the server all call. The context factory is injected so the server can
 * plug in signed identity tokens and secret resolution.
 */
import type { ActionRegistry } from "../actions/registry.js";
import type { StepContextFactory } from "../engine/context.js";
import { Worker, type WorkerOptions } from "../engine/worker.js";
import type { Store } from "./db.js";
import { PgWorkQueue } from "./queue.js";

export interface RunWorkersOptions {
  registry: ActionRegistry;
  contextFactory?: StepContextFactory;
  /** Steps run at once by this process (default 4). */
  concurrency?: number;
  leaseMs?: number;
  pollMs?: number;
  workerId?: string;
  signal: AbortSignal;
  onError?: (err: unknown) => void;
  onAttempt?: WorkerOptions["onAttempt"];
}

export async function runWorker(store: Store, opts: RunWorkersOptions): Promise<void> {
  const leaseMs = opts.leaseMs ?? 30_000;
  const queue = new PgWorkQueue(store, { leaseMs, ...(opts.workerId ? { workerId: opts.workerId } : {}) });
  const worker = new Worker({
    queue,
    registry: opts.registry,
    ...(opts.contextFactory ? { contextFactory: opts.contextFactory } : {}),
    concurrency: opts.concurrency ?? 4,
    leaseMs,
    // PGlite has no LISTEN across processes worth waiting on: poll briskly instead.
    pollMs: opts.pollMs ?? (store.backend === "pglite" ? 100 : 1_000),
    ...(opts.onError ? { onError: opts.onError } : {}),
    ...(opts.onAttempt ? { onAttempt: opts.onAttempt } : {}),
  });
  try {
    await worker.run(opts.signal);
  } finally {
    await queue.close();
  }
}
