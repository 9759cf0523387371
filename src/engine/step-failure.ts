/**
 * What an attempt that did not finish well is reported as: why it stopped (abort,
 * outage, an action's error), whether the step's retry policy gives it another go,
 * and the failure that stands in for a result the store refused.
 */
import { classifyError } from "../actions/types.js";
import { redactSecrets, type SecretsSeen } from "./context.js";
import type { StepNode } from "./graph.js";
import type { UnstorableResultError, ClaimedStep, StepResult } from "./queue.js";
import { decideRetry } from "./retry.js";
import { storableText, truncateText } from "../store/storable.js";

export type AbortKind = "timeout" | "run-timeout" | "cancelled" | "shutdown";

/** The reason a step's controller is aborted with: it decides how the attempt is recorded. */
export class StepAbort extends Error {
  constructor(readonly kind: AbortKind, message: string) {
    super(message);
    this.name = "StepAbort";
  }
}

/** The store stayed unreachable for a lease's length while a step's inputs were loaded. */
export class StoreUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreUnavailable";
  }
}

/** The result of an attempt that threw `err` (or was aborted through `signal`). */
export function failureResult(
  step: ClaimedStep,
  node: StepNode | undefined,
  signal: AbortSignal,
  err: unknown,
  secrets: SecretsSeen,
  random: () => number,
): StepResult {
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
  if (step.phase === "rollback") {
    // Undoing is retried under the step's own policy: the conditions that make the
    // forward call flaky (timeouts, connections) make its undo flaky too.
    const again = retryable ? decideRetry(node?.spec.retry, errorClass, step.attempt, random) : null;
    return { kind: "rollback_failed", errorClass, message, retryInMs: again?.retry ? again.delayMs : null };
  }
  const decision = retryable ? decideRetry(node?.spec.retry, errorClass, step.failures + 1, random) : null;
  return { kind: "failed", errorClass, message, retryInMs: decision?.retry ? decision.delayMs : null };
}

const UNSTORABLE = "the store refused to record this step's result";

/** Whether `result` already is the stand-in failure: reporting it again could not help. */
export function isUnstorableFallback(result: StepResult): boolean {
  return (result.kind === "failed" || result.kind === "rollback_failed") && result.message.startsWith(UNSTORABLE);
}

/** The failure reported in place of a result the store cannot hold. */
export function unstorableResult(step: ClaimedStep, err: UnstorableResultError): StepResult {
  const message = truncateText(storableText(`${UNSTORABLE}: ${err.message}`), 2_000);
  return step.phase === "rollback"
    ? { kind: "rollback_failed", errorClass: "invalid-output", message, retryInMs: null }
    : { kind: "failed", errorClass: "invalid-output", message, retryInMs: null };
}
