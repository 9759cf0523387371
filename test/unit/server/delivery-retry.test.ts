/** Which failures are retried how: GitHub's outages and limits patiently, with its hint as the floor; anything else a few times. */
import { describe, expect, it } from "vitest";
import { classifyFailure, DEFAULT_RETRY, retryDelay } from "../../../src/server/delivery-retry.js";

const gh = (status: number, headers: Record<string, string> = {}, message = "x") => Object.assign(new Error(message), { status, response: { headers } });

describe("classifyFailure", () => {
  it("GitHub 5xx and 429 are transient; 429's retry-after is kept", () => {
    expect(classifyFailure(gh(502))).toEqual({ transient: true, reason: "GitHub answered 502" });
    expect(classifyFailure(gh(429, { "retry-after": "30" }))).toEqual({ transient: true, waitMs: 30_000, reason: "GitHub rate limit (429)" });
  });

  it("a 403 is a rate limit only when GitHub says so (retry-after, no calls remaining, or the message)", () => {
    expect(classifyFailure(gh(403, { "retry-after": "60" }, "You have exceeded a secondary rate limit"))).toMatchObject({ transient: true, waitMs: 60_000 });
    const now = 1_700_000_000_000;
    expect(classifyFailure(gh(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 90) }), now)).toMatchObject({ transient: true, waitMs: 90_000 });
    expect(classifyFailure(gh(403, {}, "You have exceeded a secondary rate limit. Please wait"))).toMatchObject({ transient: true });
    expect(classifyFailure(gh(403, {}, "Resource not accessible by integration"))).toEqual({ transient: false, reason: "GitHub answered 403" });
  });

  it("other GitHub refusals and bugs are not transient; database and network trouble is", () => {
    expect(classifyFailure(gh(404)).transient).toBe(false);
    expect(classifyFailure(gh(422)).transient).toBe(false);
    expect(classifyFailure(new TypeError("x is undefined")).transient).toBe(false);
    expect(classifyFailure(Object.assign(new Error("Connection terminated unexpectedly"), {})).transient).toBe(true);
    expect(classifyFailure(Object.assign(new Error("deadlock detected"), { code: "40P01" })).transient).toBe(true);
    expect(classifyFailure(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" })).transient).toBe(true);
    expect(classifyFailure(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })).transient).toBe(true);
    expect(classifyFailure(Object.assign(new Error("duplicate key"), { code: "23505" })).transient).toBe(false);
  });
});

describe("retryDelay", () => {
  const policy = { ...DEFAULT_RETRY, baseMs: 1_000, maxMs: 60_000, maxAttempts: 5, otherAttempts: 2 };
  it("doubles per attempt with jitter in [half, full], capped", () => {
    const t = { transient: true, reason: "" };
    expect(retryDelay(policy, t, 1, () => 0)).toBe(500);
    expect(retryDelay(policy, t, 1, () => 1)).toBe(1_000);
    expect(retryDelay(policy, t, 3, () => 1)).toBe(4_000);
    expect(retryDelay({ ...policy, maxAttempts: 20 }, t, 12, () => 1)).toBe(60_000);
  });

  it("never waits less than GitHub asked, nor more than the cap", () => {
    expect(retryDelay(policy, { transient: true, waitMs: 45_000, reason: "" }, 1, () => 0)).toBe(45_000);
    expect(retryDelay(policy, { transient: true, waitMs: 3_600_000, reason: "" }, 1, () => 0)).toBe(60_000);
  });

  it("gives up after maxAttempts for transient failures and otherAttempts for the rest", () => {
    expect(retryDelay(policy, { transient: true, reason: "" }, 4)).not.toBeNull();
    expect(retryDelay(policy, { transient: true, reason: "" }, 5)).toBeNull();
    expect(retryDelay(policy, { transient: false, reason: "" }, 1)).not.toBeNull();
    expect(retryDelay(policy, { transient: false, reason: "" }, 2)).toBeNull();
  });
});
