/**
 * One attempt of one claimed step: load what it reads, call its action (or its undo)
 * under the step's and the run's deadlines, and turn whatever happened into the
 * StepResult the worker reports. It never throws: every failure becomes a result.
 */
import { ActionError, classifyError, type Action, type IdentityContext } from "../actions/types.js";
import type { ActionRegistry } from "../actions/registry.js";
import { checkedOutputs, secretNames } from "./action-outputs.js";
import type { SecretsSeen, StepContextFactory } from "./context.js";
import type { RunGraph, StepNode } from "./graph.js";
import { assertActionInput } from "./input-check.js";
import type { ClaimedStep, RunDefinition, StepResult, WorkQueue } from "./queue.js";
import { outputsNeeded, resolveInput, type Outputs } from "./scope.js";
import type { CheckSpec } from "../formats/types.js";
import { failureResult, StepAbort, StoreUnavailable } from "./step-failure.js";
import { longTimeout, sleep } from "./timers.js";

/** A run as its steps need it; the worker caches one per run. */
export interface LoadedRun {
  def: RunDefinition;
  graph: RunGraph;
  request: Record<string, unknown>;
  params: Record<string, unknown>;
}

export interface StepRunnerOptions {
  queue: WorkQueue;
  registry: ActionRegistry;
  contextFactory: StepContextFactory;
  /** How long a store outage is ridden out while a step's inputs load. */
  leaseMs: number;
  onError: (err: unknown) => void;
  random: () => number;
}

export interface Attempt {
  result: StepResult;
  /** The step in its run's graph; absent when the run could not be loaded or lacks the step. */
  node: StepNode | undefined;
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

export class StepRunner {
  constructor(private readonly opts: StepRunnerOptions) {}

  /** Run one attempt of `step`; `controller` is the worker's handle to abort it. */
  async attempt(step: ClaimedStep, controller: AbortController, load: (runId: string) => Promise<LoadedRun>): Promise<Attempt> {
    const secrets: SecretsSeen = new Set();
    let loaded: LoadedRun | undefined;
    try {
      loaded = await this.storeRead(() => load(step.runId), controller.signal);
      if (!loaded.graph.nodes.has(step.stepId)) throw new Error(`step "${step.stepId}" is not in the run's workflow`);
      const result = step.phase === "forward"
        ? await this.forward(step, loaded, controller, secrets)
        : await this.rollback(step, loaded, controller, secrets);
      return { result, node: loaded.graph.nodes.get(step.stepId) };
    } catch (err) {
      const node = loaded?.graph.nodes.get(step.stepId);
      return { result: failureResult(step, node, controller.signal, err, secrets, this.opts.random), node };
    }
  }

  private async forward(step: ClaimedStep, loaded: LoadedRun, controller: AbortController, secrets: SecretsSeen): Promise<StepResult> {
    const node = loaded.graph.nodes.get(step.stepId)!;
    const action = this.action(node.spec.uses);
    const check = node.spec.check;
    // The step's inputs and its check's are read in one load.
    const read = await this.outputs(step, loaded, [node.spec.with, check?.with], controller.signal, secrets);
    const input = resolveInput(loaded.graph, step.stepId, node.spec.with, loaded.params, loaded.request, read);
    assertActionInput(action, input);
    // A timer that fired ends its step: the check, if any, ran before the step was parked.
    if (action.delayMs && step.timerDone) return { kind: "succeeded", outputs: {}, secretOutputs: [] };
    // One clock for the attempt: the check and the action share the step's timeout.
    const clear = this.timeouts(step, node.timeoutMs, controller);
    try {
      if (check) {
        const skipped = await this.stepCheck(step, loaded, check, read, controller.signal, secrets);
        if (skipped) return skipped;
      }
      if (action.delayMs) return { kind: "park", delayMs: Math.max(0, action.delayMs(input)) };
      const ctx = this.opts.contextFactory(this.identity(step, loaded), controller.signal, secrets);
      if (action.check) {
        const done = await untilAborted(action.check(input, ctx), controller.signal);
        // null is "not done" too: skipping real work on a sloppy return would be the worse mistake.
        if (done !== undefined && done !== null) {
          const outputs = checkedOutputs(action, done, "check()");
          return { kind: "skipped", outputs, secretOutputs: secretNames(action, outputs, secrets) };
        }
      }
      const outputs = checkedOutputs(action, await untilAborted(action.run(input, ctx), controller.signal), "run()");
      return { kind: "succeeded", outputs, secretOutputs: secretNames(action, outputs, secrets) };
    } finally {
      clear();
    }
  }

  /**
   * The step's `check:`: its action run with its own `with`. Outputs `done: true` (the
   * boolean, nothing merely truthy) make the step skipped, with the check's outputs as
   * its own; anything else lets the step run. A check that fails fails the attempt,
   * under the step's retry policy, with a message that says it was the check.
   */
  private async stepCheck(step: ClaimedStep, loaded: LoadedRun, check: CheckSpec, outputs: Outputs, signal: AbortSignal, secrets: SecretsSeen): Promise<StepResult | null> {
    const action = this.action(check.uses);
    let out: Record<string, unknown>;
    try {
      // Validation refuses a timer as a check; a run() of one would not say anything.
      if (action.delayMs) throw new ActionError("invalid-input", "a durable timer cannot be a check");
      const input = resolveInput(loaded.graph, step.stepId, check.with, loaded.params, loaded.request, outputs);
      assertActionInput(action, input);
      const ctx = this.opts.contextFactory(this.identity(step, loaded), signal, secrets);
      out = checkedOutputs(action, await untilAborted(action.run(input, ctx), signal), "run()");
    } catch (err) {
      // An abort is recorded by its reason (timeout, cancel, shutdown), not as the check's failure.
      if (signal.aborted) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new ActionError(classifyError(err), `check ${action.name}: ${message}`, { cause: err });
    }
    if (out.done !== true) return null;
    return { kind: "skipped", outputs: out, secretOutputs: secretNames(action, out, secrets), reason: `check ${action.name} reported done` };
  }

  private async rollback(step: ClaimedStep, loaded: LoadedRun, controller: AbortController, secrets: SecretsSeen): Promise<StepResult> {
    const node = loaded.graph.nodes.get(step.stepId)!;
    const clear = this.timeouts({ ...step, deadline: null }, node.timeoutMs, controller);
    try {
      const ctx = this.opts.contextFactory(this.identity(step, loaded), controller.signal, secrets);
      const spec = node.spec.rollback;
      if (spec) {
        const outputs = await this.outputs(step, loaded, [spec.with], controller.signal, secrets, true);
        const input = resolveInput(loaded.graph, step.stepId, spec.with, loaded.params, loaded.request, outputs, true);
        const undo = this.action(spec.uses);
        assertActionInput(undo, input);
        await untilAborted(undo.run(input, ctx), controller.signal);
      } else {
        const action = this.action(node.spec.uses);
        if (!action.rollback) return { kind: "rolled_back" };
        const needed = [...new Set([...outputsNeeded(loaded.graph, step.stepId, node.spec.with ?? {}), step.stepId])];
        const outputs = await this.storeRead(() => this.opts.queue.loadOutputs(step.runId, needed, secrets), controller.signal);
        const input = resolveInput(loaded.graph, step.stepId, node.spec.with, loaded.params, loaded.request, outputs);
        assertActionInput(action, input);
        await untilAborted(action.rollback(input, outputs[step.stepId] ?? {}, ctx), controller.signal);
      }
      return { kind: "rolled_back" };
    } finally {
      clear();
    }
  }

  /** The outputs these `with` templates of the step read, loaded in one go. `self`: a rollback's, which may read the step's own. */
  private async outputs(
    step: ClaimedStep,
    loaded: LoadedRun,
    templates: (Record<string, unknown> | undefined)[],
    signal: AbortSignal,
    secrets: SecretsSeen,
    self = false,
  ): Promise<Outputs> {
    const needed = [...new Set(templates.flatMap((t) => outputsNeeded(loaded.graph, step.stepId, t ?? {}, self)))];
    return needed.length > 0 ? await this.storeRead(() => this.opts.queue.loadOutputs(step.runId, needed, secrets), signal) : {};
  }

  /** Abort the attempt at the step's own timeout and at the run's deadline; returns the disarm. */
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
    const action = this.opts.registry.get(name);
    if (!action) throw new Error(`unknown action "${name}"`);
    return action;
  }

  private identity(step: ClaimedStep, loaded: LoadedRun): IdentityContext {
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

  /**
   * Read what a step needs from the store, riding out a database outage for as long
   * as our lease lasts. The step's own action has not run yet: an outage here is the
   * engine's problem, never a failure of the user's step.
   */
  private async storeRead<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const giveUpAt = Date.now() + this.opts.leaseMs;
    for (let i = 0; ; i++) {
      try {
        return await read();
      } catch (err) {
        if (!this.opts.queue.isTransient?.(err)) throw err;
        this.opts.onError(err);
        if (Date.now() > giveUpAt || signal.aborted) {
          throw new StoreUnavailable(`the database was unreachable while loading the step: ${err instanceof Error ? err.message : String(err)}`);
        }
        await sleep(Math.min(2_000, 50 * 2 ** Math.min(i, 6)), signal);
      }
    }
  }
}
