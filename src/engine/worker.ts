/**
 * The worker loop: claim steps, run their actions under a deadline, report results.
 * It decides nothing durable by itself — every decision is handed to the WorkQueue,
 * which applies it in one transaction — so a worker can die at any instruction.
 */
import type { Action } from "../actions/types.js";
import type { ActionRegistry } from "../actions/registry.js";
import { ActionError, classifyError } from "../actions/types.js";
import { assertActionInput } from "./input-check.js";
import { plainContextFactory, redactSecrets, type SecretsSeen, type StepContextFactory } from "./context.js";
import { buildGraph, type RunGraph } from "./graph.js";
import { stepKey, UnstorableResultError, type ClaimedStep, type RunDefinition, type StepResult, type WorkQueue } from "./queue.js";
import { MAX_OUTPUT_BYTES, jsonProblem, storableText, truncateText } from "../store/storable.js";
import { decideRetry } from "./retry.js";
import { requestFields } from "./request-fields.js";
import { longTimeout, MAX_TIMER_MS, sleep, whenAborted } from "./timers.js";
import { outputsNeeded, resolveInput } from "./scope.js";

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

type AbortKind = "timeout" | "run-timeout" | "cancelled" | "shutdown";

class StepAbort extends Error {
  constructor(readonly kind: AbortKind, message: string) {
    super(message);
    this.name = "StepAbort";
  }
}

const MAX_CACHED_RUNS = 1_000;
/** How often running steps look whether their run was cancelled. */
export const CANCEL_WATCH_MS = 1_000;
const MAX_CACHED_RUN_BYTES = 64 * 1024 * 1024;

/** The store stayed unreachable for a lease's length while a step's inputs were loaded. */
class StoreUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreUnavailable";
  }
}

interface Loaded {
  def: RunDefinition;
  graph: RunGraph;
  request: Record<string, unknown>;
  params: Record<string, unknown>;
}

/** Settle with `p`, or reject as soon as `signal` aborts: an action that ignores its signal is abandoned. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * An action's outputs, refused with class `invalid-output` unless they are an object
 * the store can hold. Caught here, the step fails once with a clear reason; caught by
 * the database, the result could never be recorded and the step would run again.
 */
function checkedOutputs(action: Action, out: unknown, from: string): Record<string, unknown> {
  if (out === undefined || out === null) return {};
  if (typeof out !== "object" || Array.isArray(out)) {
    throw new ActionError("invalid-output", `${action.name} ${from} returned ${Array.isArray(out) ? "an array" : `a ${typeof out}`}; outputs are an object of named values`);
  }
  const problem = jsonProblem(out);
  if (problem) throw new ActionError("invalid-output", `${action.name} ${from} returned outputs that cannot be stored: ${problem.replace(/^"/, 'output "')}`);
  const size = Buffer.byteLength(JSON.stringify(out));
  if (size > MAX_OUTPUT_BYTES) {
    throw new ActionError("invalid-output", `${action.name} ${from} returned ${size} bytes of outputs; the limit is ${MAX_OUTPUT_BYTES}`);
  }
  return out as Record<string, unknown>;
}

const UNSTORABLE = "the store refused to record this step's result";

function unstorableFallback(result: StepResult): boolean {
  return (result.kind === "failed" || result.kind === "rollback_failed") && result.message.startsWith(UNSTORABLE);
}

/** The failure reported in place of a result the store cannot hold. */
function unstorable(step: ClaimedStep, err: UnstorableResultError): StepResult {
  const message = truncateText(storableText(`${UNSTORABLE}: ${err.message}`), 2_000);
  return step.phase === "rollback"
    ? { kind: "rollback_failed", errorClass: "invalid-output", message, retryInMs: null }
    : { kind: "failed", errorClass: "invalid-output", message, retryInMs: null };
}

export class Worker {
  private readonly queue: WorkQueue;
  private readonly registry: ActionRegistry;
  private readonly contextFactory: StepContextFactory;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly onError: (err: unknown) => void;
  private readonly onAttempt: ((a: AttemptObservation) => void) | undefined;
  private readonly random: () => number;
  /** `settled`: the action has returned and only the report is pending; nothing left to abort. */
  private readonly inflight = new Map<string, { step: ClaimedStep; controller: AbortController; settled: boolean }>();
  private readonly runs = new Map<string, Loaded & { bytes: number }>();
  private cachedBytes = 0;
  /** Slots promised to claims in flight, so a completion and the main loop never overbook. */
  private reserved = 0;
  private stopping = false;
  private wake: (() => void) | null = null;
  /** Steps run to completion by this worker (for logs and tests). */
  completed = 0;

  constructor(opts: WorkerOptions) {
    this.queue = opts.queue;
    this.registry = opts.registry;
    this.contextFactory = opts.contextFactory ?? plainContextFactory();
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.pollMs = Math.min(MAX_TIMER_MS, opts.pollMs ?? 1_000);
    this.leaseMs = Math.min(MAX_TIMER_MS, opts.leaseMs ?? 30_000);
    this.onError = opts.onError ?? (() => undefined);
    this.onAttempt = opts.onAttempt;
    this.random = opts.random ?? Math.random;
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
    const unsubscribe = whenAborted(signal, () => ctl.abort());
    // A full worker waits for a slot to free up. One with free slots waits for new
    // work only: a finishing step already claimed what there was in its own
    // transaction, so asking the database again would be an empty commit.
    const full = this.freeSlots() <= 0;
    // Only a worker with nothing in flight listens for notifications; one that is busy
    // is woken when its last step ends, to start listening.
    const busy = this.inflight.size > 0;
    if (full) this.wake = () => ctl.abort();
    else if (busy) this.wake = () => {
      if (this.inflight.size === 0) ctl.abort();
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

  private async load(runId: string): Promise<Loaded> {
    let loaded = this.runs.get(runId);
    if (!loaded) {
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
      loaded = entry;
    }
    return loaded;
  }

  /** Run one claimed step and report it; returns the steps claimed along with the report. */
  private async execute(step: ClaimedStep, controller: AbortController, workerSignal: AbortSignal, settle: () => void): Promise<ClaimedStep[]> {
    const secrets: SecretsSeen = new Set();
    const began = performance.now();
    let loaded: Loaded | undefined;
    let result: StepResult;
    try {
      loaded = await this.storeRead(() => this.load(step.runId), controller.signal);
      if (!loaded.graph.nodes.has(step.stepId)) throw new Error(`step "${step.stepId}" is not in the run's workflow`);
      result = step.phase === "forward"
        ? await this.forward(step, loaded, controller, secrets)
        : await this.rollback(step, loaded, controller, secrets);
    } catch (err) {
      result = this.failure(step, loaded, controller.signal, err, secrets);
    }
    settle();
    const node = loaded?.graph.nodes.get(step.stepId);
    if (node && this.onAttempt) {
      const action = step.phase === "forward" ? node.spec.uses : (node.spec.rollback?.uses ?? node.spec.uses);
      this.onAttempt({ action, phase: step.phase, outcome: result.kind, seconds: (performance.now() - began) / 1000 });
    }
    const dependents = node?.dependents ?? [];
    // This step's own slot passes to whatever the report claims next, plus any idle ones.
    const extra = this.stopping || workerSignal.aborted ? 0 : Math.max(0, this.freeSlots());
    this.reserved += extra;
    try {
      return await this.report(step, result, dependents, this.stopping || workerSignal.aborted ? 0 : extra + 1);
    } finally {
      this.reserved -= extra;
    }
  }

  /** Persist a result, retrying through database outages for as long as the lease could still be ours. */
  private async report(step: ClaimedStep, result: StepResult, dependents: string[], claimNext: number): Promise<ClaimedStep[]> {
    const giveUpAt = Date.now() + this.leaseMs * 4;
    for (let i = 0; ; i++) {
      try {
        const { next } = await this.queue.complete(step, result, dependents, claimNext);
        this.completed++;
        return next;
      } catch (err) {
        this.onError(err);
        if (err instanceof UnstorableResultError && !unstorableFallback(result)) {
          result = unstorable(step, err);
          continue;
        }
        if (Date.now() > giveUpAt) throw err;
        await sleep(Math.min(2_000, 50 * 2 ** Math.min(i, 6)));
      }
    }
  }

  private timeouts(step: ClaimedStep, timeoutMs: number | undefined, controller: AbortController): () => void {
    const cancels: (() => void)[] = [];
    if (timeoutMs !== undefined) {
      cancels.push(longTimeout(() => controller.abort(new StepAbort("timeout", `step timed out after ${timeoutMs}ms`)), timeoutMs));
    }
    if (step.deadline) {
      const left = Math.max(0, step.deadline.getTime() - Date.now());
      cancels.push(longTimeout(() => controller.abort(new StepAbort("run-timeout", "run timed out")), left));
    }
    return () => cancels.forEach((c) => c());
  }

  private action(name: string): Action {
    const action = this.registry.get(name);
    if (!action) throw new Error(`unknown action "${name}"`);
    return action;
  }

  private identity(step: ClaimedStep, loaded: Loaded) {
    const id = loaded.def.identity;
    return {
      repository: id.repository,
      ...(id.pullRequest !== undefined ? { pullRequest: id.pullRequest } : {}),
      ...(id.commit !== undefined ? { commit: id.commit } : {}),
      requestPath: loaded.def.requestPath,
      workflow: loaded.def.workflow.name,
      requester: id.requester,
      approvers: id.approvers,
      ...(id.breakGlass !== undefined ? { breakGlass: id.breakGlass } : {}),
      runId: step.runId,
      stepId: step.stepId,
      attempt: step.attempt,
      idempotencyKey: step.idempotencyKey,
    };
  }

  private async forward(step: ClaimedStep, loaded: Loaded, controller: AbortController, secrets: SecretsSeen): Promise<StepResult> {
    const node = loaded.graph.nodes.get(step.stepId)!;
    const action = this.action(node.spec.uses);
    const needed = outputsNeeded(loaded.graph, step.stepId, node.spec.with ?? {});
    const outputs = needed.length > 0 ? await this.storeRead(() => this.queue.loadOutputs(step.runId, needed, secrets), controller.signal) : {};
    const input = resolveInput(loaded.graph, step.stepId, node.spec.with, loaded.params, loaded.request, outputs);
    assertActionInput(action, input);
    if (action.delayMs) {
      if (step.timerDone) return { kind: "succeeded", outputs: {}, secretOutputs: [] };
      return { kind: "park", delayMs: Math.max(0, action.delayMs(input)) };
    }
    const clear = this.timeouts(step, node.timeoutMs, controller);
    try {
      const ctx = this.contextFactory(this.identity(step, loaded), controller.signal, secrets);
      if (action.check) {
        const done = await untilAborted(action.check(input, ctx), controller.signal);
        // null is "not done" too: skipping real work on a sloppy return would be the worse mistake.
        if (done !== undefined && done !== null) {
          const outputs = checkedOutputs(action, done, "check()");
          return { kind: "skipped", outputs, secretOutputs: this.secretNames(action, outputs, secrets) };
        }
      }
      const outputs = checkedOutputs(action, await untilAborted(action.run(input, ctx), controller.signal), "run()");
      return { kind: "succeeded", outputs, secretOutputs: this.secretNames(action, outputs, secrets) };
    } finally {
      clear();
    }
  }

  private async rollback(step: ClaimedStep, loaded: Loaded, controller: AbortController, secrets: SecretsSeen): Promise<StepResult> {
    const node = loaded.graph.nodes.get(step.stepId)!;
    const clear = this.timeouts({ ...step, deadline: null }, node.timeoutMs, controller);
    try {
      const ctx = this.contextFactory(this.identity(step, loaded), controller.signal, secrets);
      const spec = node.spec.rollback;
      if (spec) {
        const needed = outputsNeeded(loaded.graph, step.stepId, spec.with ?? {}, true);
        const outputs = needed.length > 0 ? await this.storeRead(() => this.queue.loadOutputs(step.runId, needed, secrets), controller.signal) : {};
        const input = resolveInput(loaded.graph, step.stepId, spec.with, loaded.params, loaded.request, outputs, true);
        const undo = this.action(spec.uses);
        assertActionInput(undo, input);
        await untilAborted(undo.run(input, ctx), controller.signal);
      } else {
        const action = this.action(node.spec.uses);
        if (!action.rollback) return { kind: "rolled_back" };
        const needed = [...new Set([...outputsNeeded(loaded.graph, step.stepId, node.spec.with ?? {}), step.stepId])];
        const outputs = await this.storeRead(() => this.queue.loadOutputs(step.runId, needed, secrets), controller.signal);
        const input = resolveInput(loaded.graph, step.stepId, node.spec.with, loaded.params, loaded.request, outputs);
        assertActionInput(action, input);
        await untilAborted(action.rollback(input, outputs[step.stepId] ?? {}, ctx), controller.signal);
      }
      return { kind: "rolled_back" };
    } finally {
      clear();
    }
  }

  private secretNames(action: Action, outputs: Record<string, unknown>, secrets: SecretsSeen): string[] {
    const names = new Set(action.secretOutputs ?? []);
    // An output that merely *contains* a secret (a log line echoing a password, a JSON
    // body that carries it) is as secret as the value itself: it is stored sealed.
    const known = [...secrets].filter((x) => x.length > 0);
    for (const [k, v] of Object.entries(outputs)) {
      if (v === undefined || v === null) continue;
      const text = typeof v === "string" ? v : JSON.stringify(v);
      if (known.some((x) => text.includes(x))) names.add(k);
    }
    return [...names].filter((n) => n in outputs);
  }

  /**
   * Read what a step needs from the store, riding out a database outage for as long
   * as our lease lasts. The step's own action has not run yet: an outage here is the
   * engine's problem, never a failure of the user's step.
   */
  private async storeRead<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const giveUpAt = Date.now() + this.leaseMs;
    for (let i = 0; ; i++) {
      try {
        return await read();
      } catch (err) {
        if (!this.queue.isTransient?.(err)) throw err;
        this.onError(err);
        if (Date.now() > giveUpAt || signal.aborted) {
          throw new StoreUnavailable(`the database was unreachable while loading the step: ${err instanceof Error ? err.message : String(err)}`);
        }
        await sleep(Math.min(2_000, 50 * 2 ** Math.min(i, 6)), signal);
      }
    }
  }

  private failure(step: ClaimedStep, loaded: Loaded | undefined, signal: AbortSignal, err: unknown, secrets: SecretsSeen): StepResult {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    let errorClass: string;
    let message: string;
    let retryable = true;
    if (!(reason instanceof StepAbort) && err instanceof StoreUnavailable) {
      // Hand the step back untouched; whichever worker reaches the database next runs it.
      return { kind: "interrupted", message: truncateText(storableText(err.message), 2_000) };
    }
    if (reason instanceof StepAbort) {
      if (reason.kind === "shutdown") return { kind: "interrupted", message: reason.message };
      errorClass = reason.kind === "cancelled" ? "cancelled" : "timeout";
      retryable = reason.kind === "timeout";
      message = reason.message;
    } else {
      errorClass = classifyError(err);
      message = err instanceof Error ? err.message : String(err);
    }
    message = truncateText(storableText(redactSecrets(message, secrets)), 2_000);
    const node = loaded?.graph.nodes.get(step.stepId);
    if (step.phase === "rollback") {
      // Undoing is retried under the step's own policy: the conditions that make the
      // forward call flaky (timeouts, connections) make its undo flaky too.
      const again = retryable ? decideRetry(node?.spec.retry, errorClass, step.attempt, this.random) : null;
      return { kind: "rollback_failed", errorClass, message, retryInMs: again?.retry ? again.delayMs : null };
    }
    const decision = retryable ? decideRetry(node?.spec.retry, errorClass, step.failures + 1, this.random) : null;
    return { kind: "failed", errorClass, message, retryInMs: decision?.retry ? decision.delayMs : null };
  }
}
