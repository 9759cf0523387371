/**
 * Whether a failed attempt is tried again, and after how long. Retrying is opt-in
 * per error class: an error nobody named is a real failure, not noise.
 */
import { parseDuration } from "../formats/duration.js";
import type { RetrySpec } from "../formats/types.js";

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: string };

const DEFAULT_BACKOFF_MS = 1_000;
const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;

/**
 * @param failures failed attempts so far, including the one just finished (interrupted ones excluded)
 * @param random a source in [0, 1) so tests can pin the jitter
 */
export function decideRetry(
  retry: RetrySpec | undefined,
  errorClass: string,
  failures: number,
  random: () => number = Math.random,
): RetryDecision {
  if (!retry || retry.attempts <= 1) return { retry: false, reason: "no retry configured" };
  if (!retry.on.includes(errorClass)) {
    return { retry: false, reason: `error class "${errorClass}" is not in retry.on [${retry.on.join(", ")}]` };
  }
  if (failures >= retry.attempts) return { retry: false, reason: `all ${retry.attempts} attempts used` };
  return { retry: true, delayMs: backoffDelay(retry, failures, random) };
}

/** Delay before attempt `failures + 1`. */
export function backoffDelay(retry: RetrySpec, failures: number, random: () => number = Math.random): number {
  const base = retry.backoff ? parseDuration(retry.backoff) : DEFAULT_BACKOFF_MS;
  const cap = retry.maxBackoff ? parseDuration(retry.maxBackoff) : DEFAULT_MAX_BACKOFF_MS;
  const exponent = (retry.strategy ?? "exponential") === "exponential" ? Math.max(0, failures - 1) : 0;
  // Capping before jitter keeps 2^n from overflowing to Infinity on absurd attempt counts.
  let delay = Math.min(cap, base * 2 ** Math.min(exponent, 52));
  if (retry.jitter ?? true) delay = delay * (0.5 + random());
  return Math.round(Math.min(cap, Math.max(0, delay)));
}
