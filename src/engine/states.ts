/**
 * The run and step state machines as data. The store applies transitions in SQL
 * functions (src/store/migrations/015_transitions.ts); these lists become the
 * database's CHECK constraints and the table of moves its transition trigger
 * refuses anything outside (src/store/state-sql.ts), so an illegal move is a loud
 * error rather than a silently corrupted run.
 */

export const STEP_STATES = [
  "pending", // dependencies not done, or queued behind the run's parallelism limit
  "waiting", // on a durable timer (`after:` or the `wait` action)
  "ready", // claimable by a worker
  "running",
  "succeeded",
  "skipped", // the action's check() said the work was already done
  "failed",
  "cancelled", // never ran: the run failed or was cancelled first
  "rolling_back", // rollback queued or running
  "rolled_back",
  "rollback_failed",
] as const;
export type StepState = (typeof STEP_STATES)[number];

export const RUN_STATES = [
  "waiting", // for its lock
  "running",
  "rolling_back", // a step failed for good, the run timed out, or it was cancelled
  "succeeded",
  "failed", // failed with nothing to roll back
  "rolled_back",
  "rollback_failed",
  "cancelled",
] as const;
export type RunState = (typeof RUN_STATES)[number];

/** Which half of a step an attempt ran: its action, or its undo. */
export const ATTEMPT_PHASES = ["forward", "rollback"] as const;

/** How an attempt ended (`running` while it has not). */
export const ATTEMPT_OUTCOMES = ["running", "succeeded", "skipped", "parked", "interrupted", "failed", "cancelled", "rolled_back"] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export const STEP_TRANSITIONS: Readonly<Record<StepState, readonly StepState[]>> = {
  pending: ["ready", "waiting", "cancelled"],
  waiting: ["running", "cancelled"],
  ready: ["running", "cancelled"],
  // running → ready: a retry after backoff, or an interrupted attempt handed back to the queue;
  // running → waiting: a `wait` step parked on its timer, or a retry with a long backoff.
  running: ["succeeded", "skipped", "failed", "ready", "waiting", "cancelled"],
  succeeded: ["rolling_back"],
  skipped: [],
  // → pending: a retry of the finished run runs the step again (src/store/run-control.ts).
  // A rolled-back step's effect was undone, so it is run again too; a step whose undo
  // failed is never re-run: its run ends rollback_failed, which a person must sort out.
  failed: ["pending"],
  cancelled: ["pending"],
  rolling_back: ["rolled_back", "rollback_failed"],
  rolled_back: ["pending"],
  rollback_failed: [],
};

export const RUN_TRANSITIONS: Readonly<Record<RunState, readonly RunState[]>> = {
  waiting: ["running", "cancelled"],
  running: ["succeeded", "rolling_back"],
  rolling_back: ["failed", "rolled_back", "rollback_failed", "cancelled"],
  // succeeded → rolling_back: "Roll back" of a run that finished well (rollbackRun).
  succeeded: ["rolling_back"],
  // → running | waiting (for its lock): "Retry failed steps" (retryRun).
  failed: ["running", "waiting"],
  rolled_back: ["running", "waiting"],
  rollback_failed: [],
  cancelled: [],
};

/**
 * Runs with nothing in flight: no worker will move them again on its own. Some may
 * still move when a person asks (retry, roll back), so "final" is a list, not
 * "has no outgoing transitions".
 */
export const FINAL_RUN_STATES: readonly RunState[] = ["succeeded", "failed", "rolled_back", "rollback_failed", "cancelled"];

export class IllegalTransitionError extends Error {
  constructor(kind: "step" | "run", from: string, to: string) {
    super(`illegal ${kind} transition ${from} → ${to}`);
    this.name = "IllegalTransitionError";
  }
}

export function canStepMove(from: StepState, to: StepState): boolean {
  return STEP_TRANSITIONS[from].includes(to);
}

export function canRunMove(from: RunState, to: RunState): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

export function assertStepMove(from: StepState, to: StepState): void {
  if (!canStepMove(from, to)) throw new IllegalTransitionError("step", from, to);
}

export function assertRunMove(from: RunState, to: RunState): void {
  if (!canRunMove(from, to)) throw new IllegalTransitionError("run", from, to);
}

/** The run has finished: nothing is queued, running or being undone. */
export function isFinalRunState(s: RunState): boolean {
  return FINAL_RUN_STATES.includes(s);
}

export function isStepState(s: string): s is StepState {
  return (STEP_STATES as readonly string[]).includes(s);
}

export function isRunState(s: string): s is RunState {
  return (RUN_STATES as readonly string[]).includes(s);
}
