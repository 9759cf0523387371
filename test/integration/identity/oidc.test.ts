/**
 * The inbound OIDC verifier against a real local issuer serving its JWKS over HTTP.
 * Each refusal case is its own test and must be reported to the audit hook.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GITHUB_ACTIONS_ISSUER, type OidcIssuerConfig } from "../../../src/server-config/types.js";
import { OidcRejection, OidcVerifier, type OidcRejectEvent } from "../../../src/identity/oidc.js";
import { startOidcIssuer, type LocalOidcIssuer } from "../../support/oidc-issuer.js";

let issuer: LocalOidcIssuer;
let gha: LocalOidcIssuer;

beforeAll(async () => {
  issuer = await startOidcIssuer();
  gha = await startOidcIssuer();
});
afterAll(async () => {
  await issuer.close();
  await gha.close();
});

function verifier(extra: Partial<OidcIssuerConfig> = {}) {
  const audited: OidcRejectEvent[] = [];
  const rejected: OidcRejectEvent[] = [];
  const v = new OidcVerifier(
    [
      { issuer: issuer.url, audience: "clutch-luigi", jwksUrl: issuer.jwksUrl, claims: { login: "preferred_username" }, ...extra },
      // GitHub's issuer URL, with its JWKS served by the local stand-in.
      { issuer: GITHUB_ACTIONS_ISSUER, audience: "https://luigi.example", jwksUrl: gha.jwksUrl, repositories: ["acme/ops"], workflows: ["deploy"] },
    ],
    { onReject: (e) => rejected.push(e), audit: async (e) => void audited.push(e) },
  );
  return { v, audited, rejected };
}

async function rejection(v: OidcVerifier, token: string | undefined): Promise<OidcRejection> {
  const e = await v.verify(token, { remoteAddress: "127.0.0.1", path: "/api/runs/r1" }).catch((err: unknown) => err);
  expect(e).toBeInstanceOf(OidcRejection);
  return e as OidcRejection;
}

describe("OidcVerifier", () => {
  it("accepts a valid token and maps its claims to an identity", async () => {
    const { v, audited } = verifier();
    const caller = await v.verify(await issuer.mint({ subject: "user-7", claims: { preferred_username: "dana" } }));
    expect(caller).toMatchObject({ issuer: issuer.url, subject: "user-7", login: "dana" });
    expect(audited).toEqual([]);
  });

  it("rejects a wrong issuer", async () => {
    const { v, audited } = verifier();
    const e = await rejection(v, await issuer.mint({ issuer: "https://evil.example" }));
    expect(e.reason).toBe("unknown-issuer");
    expect(audited[0]).toMatchObject({ type: "oidc.rejected", reason: "unknown-issuer", issuer: "https://evil.example", path: "/api/runs/r1", remoteAddress: "127.0.0.1" });
  });

  it("rejects a wrong audience", async () => {
    const { v, audited } = verifier();
    expect((await rejection(v, await issuer.mint({ audience: "some-other-app" }))).reason).toBe("audience");
    expect(audited.map((a) => a.reason)).toEqual(["audience"]);
  });

  it("rejects an expired token", async () => {
    const { v, audited } = verifier();
    expect((await rejection(v, await issuer.mint({ expiresIn: -120 }))).reason).toBe("expired");
    expect(audited.map((a) => a.reason)).toEqual(["expired"]);
  });

  it("rejects a bad signature (right kid, another key)", async () => {
    const { v, audited } = verifier();
    expect((await rejection(v, await issuer.mint({ foreignKey: true }))).reason).toBe("signature");
    expect(audited.map((a) => a.reason)).toEqual(["signature"]);
  });

  it("rejects alg: none before any key lookup", async () => {
    const { v, audited } = verifier();
    const fetchesBefore = issuer.jwksFetches();
    const now = Math.floor(Date.now() / 1000);
    const token = issuer.mintUnsigned({ iss: issuer.url, aud: "clutch-luigi", sub: "x", iat: now, exp: now + 60 });
    expect((await rejection(v, token)).reason).toBe("algorithm");
    expect(issuer.jwksFetches()).toBe(fetchesBefore);
    expect(audited.map((a) => a.reason)).toEqual(["algorithm"]);
  });

  it("rejects an unknown kid", async () => {
    const { v, audited } = verifier();
    expect((await rejection(v, await issuer.mint({ kid: "rotated-away" }))).reason).toBe("unknown-kid");
    expect(audited.map((a) => a.reason)).toEqual(["unknown-kid"]);
  });

  it("rejects an algorithm the issuer is not configured for", async () => {
    const { v, audited } = verifier({ algorithms: ["ES256"] });
    expect((await rejection(v, await issuer.mint())).reason).toBe("algorithm");
    expect(audited.map((a) => a.reason)).toEqual(["algorithm"]);
  });

  it("rejects HS256 signed with the issuer's public key (algorithm confusion)", async () => {
    const { v, audited } = verifier();
    expect((await rejection(v, await issuer.mint({ hmacWithPublicKey: true }))).reason).toBe("algorithm");
    expect(audited.map((a) => a.reason)).toEqual(["algorithm"]);
  });

  it("rejects a missing or malformed token", async () => {
    const { v, audited } = verifier();
    expect((await rejection(v, undefined)).reason).toBe("missing-token");
    expect((await rejection(v, "not.a.jwt")).reason).toBe("malformed");
    expect(audited.map((a) => a.reason)).toEqual(["missing-token", "malformed"]);
  });

  it("rejects a token that is not valid yet", async () => {
    const { v } = verifier();
    const future = Math.floor(Date.now() / 1000) + 600;
    expect((await rejection(v, await issuer.mint({ notBefore: future, expiresIn: 900 }))).reason).toBe("not-yet-valid");
  });

  it("rejects (never accepts) when the issuer's JWKS cannot be fetched", async () => {
    const v = new OidcVerifier([{ issuer: issuer.url, audience: "clutch-luigi", jwksUrl: "http://127.0.0.1:1/jwks" }]);
    expect((await rejection(v, await issuer.mint())).reason).toBe("jwks-unavailable");
  });

  it("bounds what a caller-chosen claim puts into the audit event", async () => {
    const { v, audited } = verifier();
    const huge = `https://evil.example/${"x".repeat(5000)}`;
    await rejection(v, await issuer.mint({ issuer: huge, subject: "s".repeat(5000) }));
    expect(audited[0]?.reason).toBe("unknown-issuer");
    expect(audited[0]!.message.length).toBeLessThan(300);
    expect(audited[0]!.issuer!.length).toBeLessThanOrEqual(200);
    expect(audited[0]!.subject!.length).toBeLessThanOrEqual(200);
  });

  it("never puts the token into the audit event", async () => {
    const { v, audited, rejected } = verifier();
    const token = await issuer.mint({ expiresIn: -120 });
    await rejection(v, token);
    expect(JSON.stringify(audited)).not.toContain(token.split(".")[2]);
    expect(rejected).toEqual(audited);
  });

  describe("issuer key rotation", () => {
    it("accepts tokens from every key the issuer publishes, the newest signing", async () => {
      const rotating = await startOidcIssuer();
      try {
        const oldKid = rotating.kid;
        const newKid = await rotating.rotate();
        expect(rotating.kids()).toEqual([newKid, oldKid]);
        const v = new OidcVerifier([{ issuer: rotating.url, audience: "clutch-luigi", jwksUrl: rotating.jwksUrl }]);
        const fresh = await rotating.mint({ subject: "new" });
        const older = await rotating.mint({ subject: "old", signWith: oldKid });
        expect(JSON.parse(Buffer.from(fresh.split(".")[0]!, "base64url").toString()).kid).toBe(newKid);
        expect((await v.verify(fresh)).subject).toBe("new");
        expect((await v.verify(older)).subject).toBe("old");
      } finally {
        await rotating.close();
      }
    });

    it("picks up a key added after its last JWKS fetch once the 30 s refetch cooldown has passed", async () => {
      const rotating = await startOidcIssuer();
      const audited: OidcRejectEvent[] = [];
      const v = new OidcVerifier([{ issuer: rotating.url, audience: "clutch-luigi", jwksUrl: rotating.jwksUrl }], { audit: (e) => void audited.push(e) });
      vi.useFakeTimers({ toFake: ["Date"] });
      try {
        await v.verify(await rotating.mint());
        const fetched = rotating.jwksFetches();
        await rotating.rotate();
        // Within the cooldown a kid the cached JWKS lacks is refused, without hammering the issuer.
        expect((await rejection(v, await rotating.mint())).reason).toBe("unknown-kid");
        expect(rotating.jwksFetches()).toBe(fetched);
        expect(audited.map((a) => a.reason)).toEqual(["unknown-kid"]);
        vi.setSystemTime(Date.now() + 31_000);
        expect((await v.verify(await rotating.mint({ subject: "after-rotation" }))).subject).toBe("after-rotation");
        expect(rotating.jwksFetches()).toBe(fetched + 1);
      } finally {
        vi.useRealTimers();
        await rotating.close();
      }
    });
  });

  describe("GitHub Actions tokens", () => {
    const claims = (over: Record<string, unknown> = {}) => ({ repository: "acme/ops", workflow: "deploy", actor: "octocat", ...over });

    it("are accepted from the allowed repository and workflow", async () => {
      const { v } = verifier();
      const caller = await v.verify(await gha.mint({ issuer: GITHUB_ACTIONS_ISSUER, audience: "https://luigi.example", claims: claims() }));
      expect(caller).toMatchObject({ issuer: GITHUB_ACTIONS_ISSUER, repository: "acme/ops", workflow: "deploy", login: "octocat" });
    });

    it("are rejected from another repository", async () => {
      const { v, audited } = verifier();
      const token = await gha.mint({ issuer: GITHUB_ACTIONS_ISSUER, audience: "https://luigi.example", claims: claims({ repository: "mallory/ops" }) });
      expect((await rejection(v, token)).reason).toBe("claims");
      expect(audited[0]?.message).toMatch(/mallory\/ops/);
    });

    it("are rejected from another workflow of the right repository", async () => {
      const { v } = verifier();
      const token = await gha.mint({ issuer: GITHUB_ACTIONS_ISSUER, audience: "https://luigi.example", claims: claims({ workflow: "pwn" }) });
      expect((await rejection(v, token)).reason).toBe("claims");
    });

    it("are rejected when signed by a key GitHub's JWKS does not hold", async () => {
      const { v } = verifier();
      // Minted by the other local issuer: right iss claim, wrong key set.
      const token = await issuer.mint({ issuer: GITHUB_ACTIONS_ISSUER, audience: "https://luigi.example", claims: claims() });
      expect((await rejection(v, token)).reason).toBe("signature");
    });
  });
});
