import { describe, expect, it } from "vitest";
import { backoffDelay, decideRetry } from "../../../src/engine/retry.js";
import type { RetrySpec } from "../../../src/formats/types.js";

const half = () => 0.5; // jitter factor 0.5 + 0.5 = 1: the undisturbed delay

describe("decideRetry", () => {
  const retry: RetrySpec = { attempts: 3, backoff: "2s", on: ["timeout", "connection"] };
  const http: RetrySpec = { attempts: 3, on: ["http-5xx", "http-429", "throttled"] };
  it.each<[RetrySpec | undefined, string, number, ReturnType<typeof decideRetry>]>([
    [undefined, "connection", 1, { retry: false, reason: "no retry configured" }],
    [{ attempts: 1, on: ["connection"] }, "connection", 1, { retry: false, reason: "no retry configured" }],
    [retry, "http-4xx", 1, { retry: false, reason: 'error class "http-4xx" is not in retry.on [timeout, connection]' }],
    [retry, "connection", 1, { retry: true, delayMs: 2_000 }],
    [retry, "timeout", 2, { retry: true, delayMs: 4_000 }],
    [retry, "timeout", 3, { retry: false, reason: "all 3 attempts used" }],
    // HTTP classes and an action's own error codes are matched the same way
    [http, "http-5xx", 1, { retry: true, delayMs: 1_000 }],
    [http, "http-429", 2, { retry: true, delayMs: 2_000 }],
    [http, "throttled", 1, { retry: true, delayMs: 1_000 }],
    [http, "http-4xx", 1, { retry: false, reason: 'error class "http-4xx" is not in retry.on [http-5xx, http-429, throttled]' }],
  ])("%#", (spec, cls, failures, expected) => {
    expect(decideRetry(spec, cls, failures, half)).toEqual(expected);
  });
});

describe("backoffDelay", () => {
  it.each<[Partial<RetrySpec>, number, number, number]>([
    [{ backoff: "1s", strategy: "fixed" }, 5, 0.5, 1_000],
    [{ backoff: "1s" }, 1, 0.5, 1_000],
    [{ backoff: "1s" }, 4, 0.5, 8_000],
    [{ backoff: "1s", maxBackoff: "5s" }, 10, 0.5, 5_000],
    [{ backoff: "1s" }, 1, 0, 500], // jitter low end
    [{ backoff: "1s" }, 1, 0.999, 1_499], // jitter high end
    [{ backoff: "1s", maxBackoff: "5s" }, 10, 0.999, 5_000], // jitter never exceeds the cap
    [{ backoff: "1s", jitter: false }, 2, 0, 2_000],
    [{}, 1, 0.5, 1_000], // default 1s
    [{ backoff: "1s" }, 10_000, 0.5, 300_000], // absurd attempt counts stay finite, at the 5m default cap
  ])("%j after %i failures with random %d → %i ms", (spec, failures, r, expected) => {
    expect(backoffDelay({ attempts: 99, on: [], ...spec }, failures, () => r)).toBe(expected);
  });
});
