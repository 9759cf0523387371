/**
 * The shapes of the two documents users write (DESIGN.md §3). These types are
 * what the rest of the system consumes after validation; the JSON Schemas in
 * `src/formats/schemas/` are the authority on what a valid document is.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
/** A JSON Schema (draft 2020-12 subset accepted by ajv). */
export type JsonSchema = Record<string, unknown>;

export const API_VERSION = "clutch-luigi/v1";

/** Error classes a step's `retry.on` may name, besides an action's own codes. */
export const BUILTIN_ERROR_CLASSES = ["timeout", "connection", "http-5xx", "http-429", "http-4xx", "interrupted"] as const;
export type BuiltinErrorClass = (typeof BUILTIN_ERROR_CLASSES)[number];

export interface RetrySpec {
  /** Total attempts including the first (1 = no retry). */
  attempts: number;
  /** Delay before the second attempt, e.g. `2s`. Default `1s`. */
  backoff?: string;
  /** `exponential` (default) doubles the delay each attempt; `fixed` keeps it. */
  strategy?: "fixed" | "exponential";
  /** Upper bound on any single delay. Default `5m`. */
  maxBackoff?: string;
  /** Randomise each delay by up to ±50% (default true) so retries of many runs spread out. */
  jitter?: boolean;
  /** Error classes that are retried; any other error fails the step at once. */
  on: string[];
}

/** An action and its inputs: a step's rollback, or its check. */
export interface CallSpec {
  uses: string;
  with?: Record<string, unknown>;
}

export type RollbackSpec = CallSpec;

/** Luigi's `complete()` for any step: when this action's outputs say `done: true`, the step is skipped. */
export type CheckSpec = CallSpec;

export interface StepSpec {
  id: string;
  description?: string;
  uses: string;
  needs?: string[];
  with?: Record<string, unknown>;
  retry?: RetrySpec;
  /** Per-attempt timeout, e.g. `30s`. */
  timeout?: string;
  /** Durable delay after the step's dependencies completed, before it starts. */
  after?: string;
  rollback?: RollbackSpec;
  /** Run before the step's action (forward only); outputs `done: true` skip the step. */
  check?: CheckSpec;
}

export interface ApprovalSpec {
  minApprovals?: number;
  /** Users (`@alice`) or teams (`@org/team`) whose approvals count toward minApprovals. */
  from?: string[];
}

export interface WorkflowSpec {
  apiVersion: typeof API_VERSION;
  kind: "Workflow";
  name: string;
  description?: string;
  params?: JsonSchema;
  approval?: ApprovalSpec;
  lock?: string;
  /** Whole-run timeout, e.g. `30m`. */
  timeout?: string;
  /** Time-bound: undone this long after the run succeeds. */
  expires?: ExpiresSpec;
  steps: StepSpec[];
}

export interface ExpiresSpec {
  after: string;
  max: string;
  /** The param that chooses the duration, up to `max`. */
  param?: string;
}

export interface RequestSpec {
  apiVersion: typeof API_VERSION;
  kind: "Request";
  workflow: string;
  reason: string;
  params?: Record<string, unknown>;
  /** The id of an active time-bound run whose expiry this request moves. */
  extends?: string;
}
