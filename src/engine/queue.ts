/**
 * The contract between the worker loop (pure: decides what to do with a step) and
 * the store (applies it in SQL). Plain data both ways so the loop can be tested
 * against an in-memory queue and the store against SQL, separately.
 */
import type { RequestSpec, WorkflowSpec } from "../formats/types.js";
import type { Outputs } from "./scope.js";

export type Phase = "forward" | "rollback";

export interface ClaimedStep {
  runId: string;
  stepId: string;
  phase: Phase;
  /** Attempt number of this phase, from 1. */
  attempt: number;
  /** Failed forward attempts before this one (interrupted ones excluded). */
  failures: number;
  /** A `wait` step whose timer already fired: complete it without running anything. */
  timerDone: boolean;
  idempotencyKey: string;
  /** When the run must be over, if it has a timeout. */
  deadline: Date | null;
}

export interface RunIdentity {
  repository: string;
  pullRequest?: number;
  commit?: string;
  requester: { login: string; type: string };
  approvers: { login: string; reviewId?: number }[];
  breakGlass?: boolean;
}

export interface RunDefinition {
  runId: string;
  workflow: WorkflowSpec;
  request: RequestSpec;
  requestPath: string;
  identity: RunIdentity;
}

export type StepResult =
  | { kind: "succeeded"; outputs: Record<string, unknown>; secretOutputs: string[] }
  /** The work was already done (its check said so); `reason` says how it was known, for the audit row. */
  | { kind: "skipped"; outputs: Record<string, unknown>; secretOutputs: string[]; reason?: string }
  /** Retry after `retryInMs`; null means the step failed for good. */
  | { kind: "failed"; errorClass: string; message: string; retryInMs: number | null }
  | { kind: "park"; delayMs: number }
  | { kind: "rolled_back" }
  /** Retry the rollback after `retryInMs` (same `retry:` policy as the step); null: it failed for good. */
  | { kind: "rollback_failed"; errorClass: string; message: string; retryInMs: number | null }
  /** The worker is shutting down: give the step back now rather than when the lease expires. */
  | { kind: "interrupted"; message: string };

export interface CompleteOutcome {
  ok: boolean;
  next: ClaimedStep[];
}

export interface WorkQueue {
  readonly workerId: string;
  /** Lease up to `limit` claimable steps. */
  claim(limit: number): Promise<ClaimedStep[]>;
  loadRun(runId: string): Promise<RunDefinition>;
  /**
   * Decrypted outputs of the named steps of a run. String values of secret outputs
   * are added to `secretsSeen`, so whatever the reading step logs, throws or
   * returns with them in it is redacted or sealed in turn.
   */
  loadOutputs(runId: string, stepIds: string[], secretsSeen?: Set<string>): Promise<Outputs>;
  /**
   * Record an attempt's end, and in the same transaction claim up to `claimNext`
   * further steps for this worker. `ok` is false when the lease was lost (another
   * worker took the step over); the result is then dropped.
   */
  complete(step: ClaimedStep, result: StepResult, claimNext?: number): Promise<CompleteOutcome>;
  /** Extend the leases of steps still running here. Returns the keys of steps to abort (cancelled or lease lost). */
  heartbeat(steps: ClaimedStep[]): Promise<Set<string>>;
  /** Of these runs, those a person asked to cancel: their running steps stop within a second, not at the next heartbeat. */
  cancelRequested?(runIds: string[]): Promise<Set<string>>;
  /** Hand steps whose lease expired back to the queue, recording their attempts as interrupted. */
  reclaimExpired(): Promise<number>;
  /** Fail runs past their deadline. */
  expireRuns(): Promise<number>;
  /**
   * Resolve when new work may be there (a notification, or `ms` elapsed). `listen`
   * false: this worker is busy and will find work when it reports; skip notifications.
   */
  waitForWork(ms: number, signal: AbortSignal, listen?: boolean): Promise<void>;
  /** Whether `err` is the store being unreachable (worth waiting out) rather than a refusal. */
  isTransient?(err: unknown): boolean;
  close?(): Promise<void>;
}

export function stepKey(s: { runId: string; stepId: string }): string {
  return `${s.runId}/${s.stepId}`;
}

/**
 * Thrown by `complete` when the store refuses the result itself (a value it cannot
 * hold). Reporting the same result again cannot succeed, so the worker reports a
 * failure instead — otherwise the step would be re-run at every lease expiry.
 */
export class UnstorableResultError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UnstorableResultError";
  }
}
