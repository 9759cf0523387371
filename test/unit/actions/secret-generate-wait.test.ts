import { describe, expect, it } from "vitest";
import { randomString, secretGenerate } from "../../../src/actions/builtin/secret-generate.js";
import { MAX_WAIT_MS, wait, waitDelayMs } from "../../../src/actions/builtin/wait.js";
import { compileSchema } from "../../../src/formats/schema-check.js";
import { testContext } from "../../integration/actions/context-helper.js";

describe("secret.generate", () => {
  it("makes a secret of the asked length and alphabet, declared secret and registered for redaction", async () => {
    const { ctx, logs } = await testContext();
    const { value } = await secretGenerate.run({ length: 48, alphabet: "hex" }, ctx);
    expect(value).toMatch(/^[0-9a-f]{48}$/);
    expect(secretGenerate.secretOutputs).toEqual(["value"]);
    ctx.log.info(`password is ${value}`);
    expect(logs[0]?.message).toBe("password is [REDACTED]");
  });

  it("defaults to 32 alphanumerics and never repeats", async () => {
    const { ctx } = await testContext();
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add((await secretGenerate.run({}, ctx)).value);
    expect(seen.size).toBe(200);
    for (const v of seen) expect(v).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it("draws every character of the alphabet (no modulo bias cutting the range)", () => {
    const s = randomString(20_000, "abcdefghij");
    for (const c of "abcdefghij") expect(s.split(c).length - 1).toBeGreaterThan(1500);
  });

  it("refuses weak lengths in its schema", () => {
    const v = compileSchema(secretGenerate.input);
    expect(v({ length: 8 })).toBe(false);
    expect(v({ alphabet: "emoji" })).toBe(false);
    expect(v({ length: 64 })).toBe(true);
  });
});

describe("wait", () => {
  it("turns a duration or an instant into the engine's durable delay", () => {
    const now = Date.parse("2026-11-29T10:00:00Z");
    expect(waitDelayMs({ duration: "4h" }, now)).toBe(4 * 3_600_000);
    expect(waitDelayMs({ until: "2026-11-29T10:30:00Z" }, now)).toBe(1_800_000);
    expect(waitDelayMs({ until: "2026-11-28T00:00:00Z" }, now)).toBe(0);
    expect(wait.delayMs!({ duration: "90s" })).toBe(90_000);
  });

  it("refuses ambiguous or absurd waits", () => {
    expect(() => waitDelayMs({})).toThrow(/exactly one/);
    expect(() => waitDelayMs({ duration: "1h", until: "2026-11-29T10:30:00Z" })).toThrow(/exactly one/);
    expect(() => waitDelayMs({ duration: "400d" })).toThrow(/90-day/);
    expect(MAX_WAIT_MS).toBe(90 * 86_400_000);
    const v = compileSchema(wait.input);
    expect(v({ duration: "7d" })).toBe(true);
    expect(v({ duration: "7 days" })).toBe(false);
    expect(v({ until: "tomorrow" })).toBe(false);
    expect(v({})).toBe(false);
  });

  it("does nothing when run directly", async () => {
    const { ctx } = await testContext();
    expect(await wait.run({ duration: "1s" }, ctx)).toEqual({});
  });
});
