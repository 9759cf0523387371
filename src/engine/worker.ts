/**
 * The worker loop: claim steps, run their attempts in its slots, report results.
 * It decides nothing durable by itself — every decision is handed to the WorkQueue,
 * which applies it in one transaction — so a worker can die at any instruction.
 * What one attempt does is the StepRunner's job (step-runner.ts).
 */
import type { ActionRegistry } from "../actions/registry.js";
import { plainContextFactory, type StepContextFactory } from "./context.js";
import { buildGraph } from "./graph.js";
import { stepKey, UnstorableResultError, type ClaimedStep, type StepResult, type WorkQueue } from "./queue.js";
import { requestFields } from "./request-fields.js";
import { isUnstorableFallback, StepAbort, unstorableResult } from "./step-failure.js";
import { StepRunner, type LoadedRun } from "./step-runner.js";
import { MAX_TIMER_MS, sleep, whenAborted } from "./timers.js";

export interface WorkerOptions {
  queue: WorkQueue;
  registry: ActionRegistry;
  contextFactory?: StepContextFactory;
  /** Steps this worker runs at once. */
  concurrency?: number;
  /** Longest sleep between looks for work when no notification arrives. */
  pollMs?: number;
  /** Heartbeats run every third of this; the store's lease length must match. */
  leaseMs?: number;
  signal?: AbortSignal;
  /** Unexpected errors (database down, …). The loop keeps going after them. */
  onError?: (err: unknown) => void;
  /** Each finished attempt, for metrics: its action, what became of it, how long it took. */
  onAttempt?: (a: AttemptObservation) => void;
  random?: () => number;
}

export interface AttemptObservation {
  action: string;
  phase: "forward" | "rollback";
  outcome: StepResult["kind"];
  seconds: number;
}

const MAX_CACHED_RUNS = 1_000;
/** How often running steps look whether their run was cancelled. */
export const CANCEL_WATCH_MS = 1_000;
/** The reason an idle wait is cut short; a constant, since abort() without one builds a DOMException each time. */
const WOKEN = "woken";
const MAX_CACHED_RUN_BYTES = 64 * 1024 * 1024;

export class Worker {
  private readonly queue: WorkQueue;
  private readonly runner: StepRunner;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly onError: (err: unknown) => void;
  private readonly onAttempt: ((a: AttemptObservation) => void) | undefined;
  /** `settled`: the action has returned and only the report is pending; nothing left to abort. */
  private readonly inflight = new Map<string, { step: ClaimedStep; controller: AbortController; settled: boolean }>();
  /** The one cache of runs' definitions and graphs; the runner reads through it. */
  private readonly runs = new Map<string, LoadedRun & { bytes: number }>();
  private cachedBytes = 0;
  private readonly loading = new Map<string, Promise<LoadedRun>>();
  /** Slots promised to claims in flight, so a completion and the main loop never overbook. */
  private reserved = 0;
  private stopping = false;
  private wake: (() => void) | null = null;
  /** Steps run to completion by this worker (for logs and tests). */
  completed = 0;

  constructor(opts: WorkerOptions) {
    this.queue = opts.queue;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.pollMs = Math.min(MAX_TIMER_MS, opts.pollMs ?? 1_000);
    this.leaseMs = Math.min(MAX_TIMER_MS, opts.leaseMs ?? 30_000);
    this.onError = opts.onError ?? (() => undefined);
    this.onAttempt = opts.onAttempt;
    this.runner = new StepRunner({
      queue: opts.queue,
      registry: opts.registry,
      contextFactory: opts.contextFactory ?? plainContextFactory(),
      leaseMs: this.leaseMs,
      onError: this.onError,
      random: opts.random ?? Math.random,
    });
  }

  /** Run until `signal` aborts; then give running steps back and return. */
  async run(signal: AbortSignal): Promise<void> {
    const heartbeat = setInterval(() => void this.beat(), Math.max(50, Math.floor(this.leaseMs / 3)));
    // A cancel is looked for every second while steps run: one small read, not a heartbeat.
    const cancelWatch = setInterval(() => void this.watchCancels(), CANCEL_WATCH_MS);
    let lastMaintenance = 0;
    let failures = 0;
    try {
      while (!signal.aborted) {
        try {
          if (Date.now() - lastMaintenance >= this.pollMs) {
            lastMaintenance = Date.now();
            await this.queue.reclaimExpired();
            await this.queue.expireRuns();
          }
          const free = this.freeSlots();
          let claimed: ClaimedStep[] = [];
          if (free > 0) {
            this.reserved += free;
            try {
              claimed = await this.queue.claim(free);
            } finally {
              this.reserved -= free;
            }
          }
          failures = 0;
          for (const step of claimed) this.start(step, signal);
          if (claimed.length > 0 && claimed.length === free) continue;
          await this.idle(signal);
        } catch (err) {
          // The database went away or refused: back off and try again; leases cover the gap.
          this.onError(err);
          failures++;
          await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)), signal);
        }
      }
    } finally {
      this.stopping = true;
      for (const { controller } of this.inflight.values()) {
        controller.abort(new StepAbort("shutdown", "worker shutting down"));
      }
      while (this.inflight.size > 0) await sleep(20);
      clearInterval(heartbeat);
      clearInterval(cancelWatch);
    }
  }

  private freeSlots(): number {
    return this.concurrency - this.inflight.size - this.reserved;
  }

  private idle(signal: AbortSignal): Promise<void> {
    const ctl = new AbortController();
    // The stop may have come while this loop was claiming: then the wait must not start.
    const unsubscribe = whenAborted(signal, () => ctl.abort(WOKEN));
    // A full worker waits for a slot to free up. One with free slots waits for new
    // work only: a finishing step already claimed what there was in its own
    // transaction, so asking the database again would be an empty commit.
    const full = this.freeSlots() <= 0;
    // Only a worker with nothing in flight listens for notifications; one that is busy
    // is woken when its last step ends, to start listening.
    const busy = this.inflight.size > 0;
    if (full) this.wake = () => ctl.abort(WOKEN);
    else if (busy) this.wake = () => {
      if (this.inflight.size === 0) ctl.abort(WOKEN);
    };
    const wait = full ? sleep(this.pollMs, ctl.signal) : this.queue.waitForWork(this.pollMs, ctl.signal, !busy);
    return wait.finally(() => {
      unsubscribe();
      this.wake = null;
    });
  }

  private start(step: ClaimedStep, signal: AbortSignal): void {
    const controller = new AbortController();
    if (signal.aborted) controller.abort(new StepAbort("shutdown", "worker shutting down"));
    const key = `${stepKey(step)}#${step.phase}`;
    const entry = { step, controller, settled: false };
    this.inflight.set(key, entry);
    void this.execute(step, controller, signal, () => (entry.settled = true))
      .then((next) => {
        this.inflight.delete(key);
        for (const n of next) this.start(n, signal);
      })
      .catch((err: unknown) => {
        this.inflight.delete(key);
        this.onError(err);
      })
      .finally(() => this.wake?.());
  }

  private async watchCancels(): Promise<void> {
    if (this.inflight.size === 0 || !this.queue.cancelRequested) return;
    // Rollbacks finish even when the run was cancelled: cancelling is what asked for them.
    const forward = [...this.inflight.values()].filter((e) => !e.settled && e.step.phase === "forward");
    if (forward.length === 0) return;
    try {
      const cancelled = await this.queue.cancelRequested([...new Set(forward.map((e) => e.step.runId))]);
      for (const e of forward) if (!e.settled && cancelled.has(e.step.runId)) e.controller.abort(new StepAbort("cancelled", "run cancelled"));
    } catch (err) {
      this.onError(err);
    }
  }

  private async beat(): Promise<void> {
    if (this.inflight.size === 0) return;
    const entries = [...this.inflight.values()];
    try {
      const abort = await this.queue.heartbeat(entries.map((e) => e.step));
      for (const e of entries) {
        // A step whose action already returned is past aborting: its report is on the way.
        if (!e.settled && abort.has(stepKey(e.step))) {
          e.controller.abort(new StepAbort("cancelled", "run cancelled or step taken over"));
        }
      }
    } catch (err) {
      this.onError(err);
    }
  }

  private load(runId: string): Promise<LoadedRun> {
    const cached = this.runs.get(runId);
    if (cached) {
      // Least recently used goes first: a run in progress must not be evicted by the ones queued behind it.
      this.runs.delete(runId);
      this.runs.set(runId, cached);
      return Promise.resolve(cached);
    }
    // The slots that claim a new run's first steps together share one load of it.
    let pending = this.loading.get(runId);
    if (!pending) {
      pending = this.loadOnce(runId).finally(() => this.loading.delete(runId));
      this.loading.set(runId, pending);
    }
    return pending;
  }

  private async loadOnce(runId: string): Promise<LoadedRun> {
    const def = await this.queue.loadRun(runId);
    const bytes = JSON.stringify(def.request).length + JSON.stringify(def.workflow).length;
    const entry = { def, graph: buildGraph(def.workflow), request: requestFields(def), params: def.request.params ?? {}, bytes };
    // Bounded by count and by size: requests may carry large params, and a worker
    // that serves many runs must not hold them all.
    for (const [id, old] of this.runs) {
      if (this.runs.size < MAX_CACHED_RUNS && this.cachedBytes + bytes <= MAX_CACHED_RUN_BYTES) break;
      this.runs.delete(id);
      this.cachedBytes -= old.bytes;
    }
    this.runs.set(runId, entry);
    this.cachedBytes += bytes;
    return entry;
  }

  /** Run one claimed step and report it; returns the steps claimed along with the report. */
  private async execute(step: ClaimedStep, controller: AbortController, workerSignal: AbortSignal, settle: () => void): Promise<ClaimedStep[]> {
    const began = performance.now();
    const { result, node } = await this.runner.attempt(step, controller, (runId) => this.load(runId));
    settle();
    if (node && this.onAttempt) {
      const action = step.phase === "forward" ? node.spec.uses : (node.spec.rollback?.uses ?? node.spec.uses);
      this.onAttempt({ action, phase: step.phase, outcome: result.kind, seconds: (performance.now() - began) / 1000 });
    }
    // This step's own slot passes to whatever the report claims next, plus any idle ones.
    const extra = this.stopping || workerSignal.aborted ? 0 : Math.max(0, this.freeSlots());
    this.reserved += extra;
    try {
      return await this.report(step, result, this.stopping || workerSignal.aborted ? 0 : extra + 1);
    } finally {
      this.reserved -= extra;
    }
  }

  /** Persist a result, retrying through database outages for as long as the lease could still be ours. */
  private async report(step: ClaimedStep, result: StepResult, claimNext: number): Promise<ClaimedStep[]> {
    const giveUpAt = Date.now() + this.leaseMs * 4;
    for (let i = 0; ; i++) {
      try {
        const { next } = await this.queue.complete(step, result, claimNext);
        this.completed++;
        return next;
      } catch (err) {
        this.onError(err);
        if (err instanceof UnstorableResultError && !isUnstorableFallback(result)) {
          result = unstorableResult(step, err);
          continue;
        }
        if (Date.now() > giveUpAt) throw err;
        await sleep(Math.min(2_000, 50 * 2 ** Math.min(i, 6)));
      }
    }
  }
}
