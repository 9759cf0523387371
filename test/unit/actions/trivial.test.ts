import { describe, expect, it } from "vitest";
import { ActionRegistry, defaultRegistry } from "../../../src/actions/index.js";
import { ActionError, classifyError, type StepContext } from "../../../src/actions/types.js";
import { fail } from "../../../src/actions/builtin/fail.js";
import { sleep } from "../../../src/actions/builtin/sleep.js";
import { noop } from "../../../src/actions/builtin/noop.js";
import { log } from "../../../src/actions/builtin/log.js";

function ctx(attempt = 1, signal = new AbortController().signal): StepContext {
  return {
    identity: {
      repository: "acme/ops", requestPath: "r.yaml", workflow: "w", requester: { login: "alice", type: "User" },
      approvers: [], runId: "run-1", stepId: "s", attempt, idempotencyKey: "run-1/s",
    },
    signal,
    log: { info() {}, warn() {}, error() {} },
    token: async () => { throw new Error("no key"); },
    secret: async () => { throw new Error("no secrets"); },
    markSecret() {},
    services: {},
  };
}

describe("action registry", () => {
  it("refuses two actions with one name", () => {
    expect(() => new ActionRegistry([noop, noop])).toThrow(/registered twice/);
  });
  it("lists the built-in actions", () => {
    expect(defaultRegistry().names()).toEqual(expect.arrayContaining(["fail", "log", "noop", "sleep"]));
  });
});

describe("trivial actions", () => {
  it("fail fails the first N attempts with its class, then succeeds", async () => {
    await expect(fail.run({ times: 2, code: "connection" }, ctx(1))).rejects.toMatchObject({ code: "connection" });
    await expect(fail.run({ times: 2, code: "connection" }, ctx(2))).rejects.toBeInstanceOf(ActionError);
    await expect(fail.run({ times: 2 }, ctx(3))).resolves.toEqual({ attempt: 3 });
  });

  it("sleep stops when its signal aborts", async () => {
    const ac = new AbortController();
    const started = Date.now();
    const p = sleep.run({ duration: "10s" }, ctx(1, ac.signal));
    setTimeout(() => ac.abort(new Error("step timeout")), 20);
    await expect(p).rejects.toMatchObject({ code: "timeout" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("sleep bounds", () => {
  it("refuses a sleep longer than an hour instead of firing at once or holding a worker", async () => {
    // 30d is past Node's 2^31-1 ms timer limit: without the bound it would resolve immediately.
    await expect(sleep.run({ duration: "30d" }, ctx())).rejects.toMatchObject({ code: "invalid-input", message: expect.stringMatching(/use the wait action/) });
    await expect(sleep.run({ duration: "1h1ms" }, ctx())).rejects.toMatchObject({ code: "invalid-input" });
  });

  it("noop and log do what they say", async () => {
    expect(await noop.run({}, ctx())).toEqual({});
    const lines: string[] = [];
    const c = { ...ctx(), log: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error() {} } };
    expect(await log.run({ message: "hi", level: "warn" }, c)).toEqual({ message: "hi" });
    expect(lines).toEqual(["warn hi"]);
  });
});

describe("error classification", () => {
  it.each([
    [new ActionError("http-5xx", "bad gateway"), "http-5xx"],
    [Object.assign(new Error("refused"), { code: "ECONNREFUSED" }), "connection"],
    [Object.assign(new Error("admin shutdown"), { code: "57P01" }), "connection"],
    [new DOMException("aborted", "AbortError"), "timeout"],
    [new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) }), "connection"],
    [new Error("boom"), "error"],
  ])("%s → %s", (err, cls) => expect(classifyError(err)).toBe(cls));
});
