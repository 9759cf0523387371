/**
 * The contract between the engine and the code that touches the outside world.
 * An action is data (name, schemas) plus functions; the registry of actions is
 * what `validate` checks a step's `uses`/`with` against and what workers execute.
 */
import type { JsonSchema } from "../formats/types.js";

/** Who asked, who allowed it, and where this call sits in a run. Signed into step tokens. */
export interface IdentityContext {
  /** `owner/name` of the ops repository. */
  repository: string;
  pullRequest?: number;
  /** The merge commit the run was started from (or the local HEAD for `clutch-luigi run`). */
  commit?: string;
  requestPath: string;
  workflow: string;
  requester: { login: string; type: string };
  approvers: { login: string; reviewId?: number }[];
  /** True when the request went through on a break-glass label. */
  breakGlass?: boolean;
  runId: string;
  stepId: string;
  attempt: number;
  /** Stable across attempts of the same step in the same run: safe for downstream dedup. */
  idempotencyKey: string;
}

export interface StepLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Everything an action may use. Built per attempt by the worker. */
export interface StepContext {
  identity: IdentityContext;
  /** Aborted on step timeout, run timeout, cancel, or worker shutdown. */
  signal: AbortSignal;
  /** Redacts every secret value this context has seen. */
  log: StepLogger;
  /** A short-lived JWT (≤ 5 min) carrying `identity`, for the given audience. */
  token(audience: string): Promise<string>;
  /** Resolve a secret by name from server configuration; the value is registered for redaction. */
  secret(name: string): Promise<string>;
  /** Mark a value produced at run time (e.g. a generated password) as secret for redaction. */
  markSecret(value: string): void;
  /** Server-side services an action may need (connections, GitHub client, shell allow-list, …). */
  services: ActionServices;
}

/**
 * Filled by the server wiring; the engine only passes it through. Kept as an open
 * record so that adding a service does not ripple through the engine.
 */
export interface ActionServices {
  [name: string]: unknown;
}

export interface Action<I = Record<string, unknown>, O = Record<string, unknown>> {
  name: string;
  description: string;
  /** JSON Schema of `with`, after expressions are substituted. */
  input: JsonSchema;
  /** JSON Schema of the outputs `run` returns. */
  output: JsonSchema;
  /** Output names whose values are secret: stored encrypted, never printed or audited. */
  secretOutputs?: string[];
  /**
   * For actions whose outputs depend on their input (e.g. `http.request`'s `outputs:`
   * mapping): the output names a step with this `with` will produce, so validation can
   * check `${{ steps.x.outputs.y }}` references. Values may still hold expressions.
   */
  outputNames?(input: Record<string, unknown>): string[];
  /** Error codes of this action that a `retry.on` may name, besides the built-in classes. */
  errorCodes?: string[];
  /**
   * When set, the engine does not call `run` on a worker: it parks the step on a
   * durable timer for the returned number of milliseconds (the `wait` action).
   */
  delayMs?(input: I): number;
  run(input: I, ctx: StepContext): Promise<O>;
  /** Undo a completed `run`. Receives the outputs that `run` returned. */
  rollback?(input: I, output: O, ctx: StepContext): Promise<void>;
  /** Luigi's `complete()`: return outputs if the work is already done, else undefined. */
  check?(input: I, ctx: StepContext): Promise<O | undefined>;
}

/**
 * A failure with a class the retry policy can match on. Anything thrown that is not
 * an ActionError is classified by `classifyError` (connection errors by errno, etc.).
 */
export class ActionError extends Error {
  constructor(
    /** `timeout`, `connection`, `http-5xx`, `http-429`, `http-4xx`, or an action's own code. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ActionError";
  }
}

const CONNECTION_ERRNOS = new Set([
  "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN",
  "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004",
]);

/** Map any thrown value to the error class retry policies match on. */
export function classifyError(err: unknown): string {
  if (err instanceof ActionError) return err.code;
  if (err && typeof err === "object") {
    const e = err as { name?: string; code?: unknown; cause?: unknown };
    if (e.name === "AbortError" || e.name === "TimeoutError") return "timeout";
    if (typeof e.code === "string" && CONNECTION_ERRNOS.has(e.code)) return "connection";
    if (e.cause && e.cause !== err) {
      const inner = classifyError(e.cause);
      if (inner !== "error") return inner;
    }
  }
  return "error";
}
