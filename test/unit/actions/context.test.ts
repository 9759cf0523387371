import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { createStepContextFactory, markSecretOutputs, redactorOf } from "../../../src/actions/context.js";
import { SecretResolver } from "../../../src/actions/secrets.js";
import { parseServerConfig } from "../../../src/server-config/load.js";
import { testIdentity, testSigner } from "../../integration/actions/context-helper.js";
import type { StepLogEntry } from "../../../src/actions/context.js";

async function factory(env: Record<string, string>) {
  const config = parseServerConfig("secrets:\n  db: { env: DB_PW }\n", "c.yaml", env);
  const logs: StepLogEntry[] = [];
  const make = createStepContextFactory({ signer: await testSigner(), config, secrets: new SecretResolver(config.secrets, env), sink: (e) => logs.push(e) });
  return { make, logs, config };
}

describe("createStepContextFactory", () => {
  it("redacts a resolved secret in messages and fields", async () => {
    const { make, logs } = await factory({ DB_PW: "correct-horse-battery" });
    const ctx = make(testIdentity(), new AbortController().signal);
    const pw = await ctx.secret("db");
    ctx.log.info(`connecting with ${pw}`, { dsn: `postgres://u:${pw}@db/x`, nested: [{ pw }] });
    const line = JSON.stringify(logs);
    expect(line).not.toContain("correct-horse-battery");
    expect(logs[0]?.message).toBe("connecting with [REDACTED]");
    expect(logs[0]).toMatchObject({ runId: "run-1", stepId: "step-1", attempt: 1, level: "info" });
  });

  it("redacts values marked at run time and secret outputs, in later steps of the same run too", async () => {
    const { make, logs } = await factory({});
    const first = make(testIdentity({ stepId: "password" }), new AbortController().signal);
    markSecretOutputs(first, { secretOutputs: ["value"] }, { value: "generated-Pa55word", other: "visible" });
    first.markSecret("marked-by-hand-123");
    const second = make(testIdentity({ stepId: "alter-role" }), new AbortController().signal);
    second.log.warn("got generated-Pa55word and marked-by-hand-123 and visible");
    expect(logs[0]?.message).toBe("got [REDACTED] and [REDACTED] and visible");
    const otherRun = make(testIdentity({ runId: "run-2" }), new AbortController().signal);
    otherRun.log.info("generated-Pa55word");
    expect(logs[1]?.message).toBe("generated-Pa55word");
  });

  it("exposes the redactor so the engine can scrub errors and outputs", async () => {
    const { make } = await factory({ DB_PW: "p4ssw0rd-xyz" });
    const ctx = make(testIdentity(), new AbortController().signal);
    await ctx.secret("db");
    expect(redactorOf(ctx)?.redact("error: auth failed for p4ssw0rd-xyz")).toBe("error: auth failed for [REDACTED]");
  });

  it("signs step tokens for the context's identity and the asked audience", async () => {
    const { make } = await factory({});
    const ctx = make(testIdentity({ stepId: "notify", attempt: 3 }), new AbortController().signal);
    const claims = decodeJwt(await ctx.token("billing-api"));
    expect(claims).toMatchObject({ aud: "billing-api", sub: "alice", step_id: "notify", attempt: 3, run_id: "run-1" });
  });

  it("hands actions an identity they cannot edit, so a step token asserts what the engine recorded", async () => {
    const { make } = await factory({});
    const given = testIdentity();
    const ctx = make(given, new AbortController().signal);
    expect(() => {
      (ctx.identity.requester as { login: string }).login = "mallory";
    }).toThrow(TypeError);
    expect(() => (ctx.identity.approvers as unknown[]).push({ login: "mallory" })).toThrow(TypeError);
    given.approvers.push({ login: "late-edit" }); // the engine's own object stays its own
    const claims = decodeJwt(await ctx.token("svc"));
    expect(claims.sub).toBe("alice");
    expect(claims.approvers).toEqual([{ login: "bob", review_id: 80 }, { login: "carol", review_id: 81 }]);
  });

  it("carries the server configuration and extra services", async () => {
    const { make, config } = await factory({});
    const github = { request: async () => ({ status: 200, data: {} }) };
    const f = createStepContextFactory({ signer: await testSigner(), config, services: { github }, sink: () => undefined });
    const ctx = f(testIdentity(), new AbortController().signal);
    expect(ctx.services.config).toBe(config);
    expect(ctx.services.github).toBe(github);
    expect(make(testIdentity(), new AbortController().signal).services.github).toBeUndefined();
  });
});

describe("the engine's secretsSeen set", () => {
  it("receives every secret the context learns, and those the run learned before", async () => {
    const { make } = await factory({ DB_PW: "resolved-secret-1" });
    const seenA = new Set<string>();
    const a = make(testIdentity({ stepId: "a" }), new AbortController().signal, seenA);
    await a.secret("db");
    a.markSecret("marked-secret-2");
    expect([...seenA]).toEqual(["resolved-secret-1", "marked-secret-2"]);
    const seenB = new Set<string>();
    make(testIdentity({ stepId: "b" }), new AbortController().signal, seenB);
    expect(seenB).toEqual(new Set(["resolved-secret-1", "marked-secret-2"]));
  });
});
