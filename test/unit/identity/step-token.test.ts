import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { generateSigningJwk, parseKeyRing } from "../../../src/identity/keys.js";
import { MAX_STEP_TOKEN_TTL_SECONDS, StepTokenSigner } from "../../../src/identity/step-token.js";
import { testIdentity } from "../../integration/actions/context-helper.js";

async function signer(options: { ttlSeconds?: number; now?: () => number } = {}, keys?: unknown[]) {
  const ring = await parseKeyRing(JSON.stringify({ keys: keys ?? [await generateSigningJwk("ES256")] }), "t");
  return new StepTokenSigner(ring, { issuer: "https://luigi.example", ...options });
}

describe("step tokens", () => {
  it("carry who asked, who approved, and where the call sits, verifiable against the JWKS", async () => {
    const s = await signer();
    const token = await s.signStepToken(testIdentity({ breakGlass: true }), "billing-api");
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(s.jwks()), { issuer: "https://luigi.example", audience: "billing-api" });
    expect(protectedHeader.alg).toBe("ES256");
    expect(protectedHeader.kid).toBe(s.jwks().keys[0]!.kid);
    expect(payload).toMatchObject({
      iss: "https://luigi.example",
      aud: "billing-api",
      sub: "alice",
      repository: "acme/ops",
      pull_request: 42,
      commit: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
      request_path: "requests/2026/ops-1234.yaml",
      workflow: "rotate-db-credentials",
      requester: { login: "alice", type: "User" },
      approvers: [{ login: "bob", review_id: 80 }, { login: "carol", review_id: 81 }],
      break_glass: true,
      run_id: "run-1",
      step_id: "step-1",
      attempt: 1,
      idempotency_key: "run-1:step-1",
    });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("expire at most five minutes after issue, even when asked for longer", async () => {
    const s = await signer({ ttlSeconds: 3600 });
    const token = await s.signStepToken(testIdentity(), "x");
    const { payload } = await jwtVerify(token, createLocalJWKSet(s.jwks()));
    expect(payload.exp! - payload.iat!).toBe(MAX_STEP_TOKEN_TTL_SECONDS);
    const short = await signer({ ttlSeconds: 60 });
    const p2 = (await jwtVerify(await short.signStepToken(testIdentity(), "x"), createLocalJWKSet(short.jwks()))).payload;
    expect(p2.exp! - p2.iat!).toBe(60);
  });

  it("are refused by a verifier once expired", async () => {
    let now = Date.now();
    const s = await signer({ now: () => now });
    const token = await s.signStepToken(testIdentity(), "x");
    now += 301_000;
    await expect(jwtVerify(token, createLocalJWKSet(s.jwks()), { currentDate: new Date(now) })).rejects.toMatchObject({ code: "ERR_JWT_EXPIRED" });
  });

  it("get a fresh jti per call", async () => {
    const s = await signer();
    const a = await s.signStepToken(testIdentity(), "x");
    const b = await s.signStepToken(testIdentity(), "x");
    const jwks = createLocalJWKSet(s.jwks());
    expect((await jwtVerify(a, jwks)).payload.jti).not.toBe((await jwtVerify(b, jwks)).payload.jti);
  });

  it("need an audience", async () => {
    const s = await signer();
    await expect(s.signStepToken(testIdentity(), "  ")).rejects.toThrow(/needs an audience/);
  });

  it("after a rotation are signed by the new key while the old key still verifies earlier tokens", async () => {
    const oldKey = await generateSigningJwk("ES256");
    const before = await signer({}, [oldKey]);
    const oldToken = await before.signStepToken(testIdentity(), "x");
    const newKey = await generateSigningJwk("EdDSA");
    const after = await signer({}, [newKey, oldKey]);
    const newToken = await after.signStepToken(testIdentity(), "x");
    expect(decodeProtectedHeader(newToken)).toMatchObject({ kid: newKey.kid, alg: "EdDSA" });
    const jwks = createLocalJWKSet(after.jwks());
    await expect(jwtVerify(oldToken, jwks)).resolves.toBeTruthy();
    await expect(jwtVerify(newToken, jwks)).resolves.toBeTruthy();
  });
});

describe("createSigner", () => {
  it("builds a signer from server configuration, with the configured issuer and algorithm", async () => {
    const { createSigner } = await import("../../../src/identity/signer.js");
    const { parseServerConfig } = await import("../../../src/server-config/load.js");
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dataDir = await mkdtemp(join(tmpdir(), "cl-signer-"));
    const config = parseServerConfig(`dataDir: ${dataDir}\nsigning: { issuer: "https://luigi.example", algorithm: EdDSA }\n`, "c.yaml", {});
    const s = await createSigner(config, {});
    const token = await s.signStepToken(testIdentity(), "svc");
    expect(decodeProtectedHeader(token).alg).toBe("EdDSA");
    const { payload } = await jwtVerify(token, createLocalJWKSet(s.jwks()), { issuer: "https://luigi.example", audience: "svc" });
    expect(payload.sub).toBe("alice");
    expect((await createSigner(config, {})).jwks()).toEqual(s.jwks());
  });
});
