/**
 * When a failed delivery is tried again. Failures that pass by themselves
 * (GitHub 5xx, rate limits, the database going away) are retried with
 * exponential backoff and jitter, up to `maxAttempts`; GitHub's own hint
 * (retry-after, x-ratelimit-reset) is a floor on the wait. Anything else (a
 * 404, a 422, a bug) is retried a few times only, since a repeat rarely helps;
 * either way the delivery ends `dead` with its error kept, never dropped.
 */
import { isConnectionError } from "../store/db-errors.js";

export interface RetryPolicy {
  /** Attempts for transient failures (default 8). */
  maxAttempts: number;
  /** Attempts for other failures (default 3, at most maxAttempts). */
  otherAttempts: number;
  /** First backoff (default 2 s); doubled per attempt. */
  baseMs: number;
  /** Longest backoff (default 10 min); also caps GitHub's hint. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, otherAttempts: 3, baseMs: 2_000, maxMs: 600_000 };

export interface Failure {
  transient: boolean;
  /** The least wait GitHub asked for, in ms. */
  waitMs?: number;
  /** For logs and the stored error. */
  reason: string;
}

type Headers = Record<string, string | number | undefined>;

function headersOf(err: unknown): Headers {
  const e = err as { response?: { headers?: unknown }; headers?: unknown } | null;
  const h = e?.response?.headers ?? e?.headers;
  return typeof h === "object" && h !== null ? (h as Headers) : {};
}

/** GitHub's hint: retry-after (seconds), else x-ratelimit-reset (epoch seconds) when no calls remain. */
function hintMs(h: Headers, now: number): number | undefined {
  const after = Number(h["retry-after"]);
  if (h["retry-after"] !== undefined && Number.isFinite(after) && after >= 0) return after * 1000;
  const reset = Number(h["x-ratelimit-reset"]);
  if (String(h["x-ratelimit-remaining"]) === "0" && Number.isFinite(reset)) return Math.max(0, reset * 1000 - now);
  return undefined;
}

/** An attempt that outlived the processor's timeout: abandoned, and retried as a transient failure. */
export class DeliveryTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`processing did not finish within ${timeoutMs} ms`);
    this.name = "DeliveryTimeout";
  }
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function classifyFailure(err: unknown, now = Date.now()): Failure {
  if (err instanceof DeliveryTimeout) return { transient: true, reason: "timed out" };
  const status = (err as { status?: unknown } | null)?.status;
  const h = headersOf(err);
  const wait = hintMs(h, now);
  const withWait = (f: Failure): Failure => (wait !== undefined ? { ...f, waitMs: wait } : f);
  if (typeof status === "number") {
    if (status >= 500) return withWait({ transient: true, reason: `GitHub answered ${status}` });
    if (status === 429) return withWait({ transient: true, reason: "GitHub rate limit (429)" });
    // GitHub signals both its primary and its secondary rate limit with a 403.
    if (status === 403 && (wait !== undefined || /rate limit/i.test(message(err)))) return withWait({ transient: true, reason: "GitHub rate limit (403)" });
    return { transient: false, reason: `GitHub answered ${status}` };
  }
  if (isConnectionError(err)) return { transient: true, reason: "database unavailable" };
  // SQLSTATE classes that pass: 08 connection, 40 serialization/deadlock, 53 resources, 57 operator intervention.
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^(08|40|53|57)/.test(code)) return { transient: true, reason: `database error ${code}` };
  if (typeof code === "string" && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|UND_ERR)/.test(code)) return { transient: true, reason: `network error ${code}` };
  return { transient: false, reason: "error" };
}

/** Wait before the next attempt, or null when `attempts` (so far) used them all up. */
export function retryDelay(policy: RetryPolicy, failure: Failure, attempts: number, random: () => number = Math.random): number | null {
  const allowed = failure.transient ? policy.maxAttempts : Math.min(policy.otherAttempts, policy.maxAttempts);
  if (attempts >= allowed) return null;
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  // Jitter spreads the retries of deliveries that failed together (one GitHub outage).
  const jittered = exp / 2 + (random() * exp) / 2;
  return Math.round(Math.max(jittered, Math.min(failure.waitMs ?? 0, policy.maxMs)));
}
