/** The app's HTTP API over real HTTP on 127.0.0.1. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiHandler, type GitHubActionsCallback } from "../../../src/api/index.js";
import { GITHUB_ACTIONS_ISSUER } from "../../../src/server-config/types.js";
import { OidcVerifier, type OidcRejectEvent } from "../../../src/identity/oidc.js";
import { startOidcIssuer, type LocalOidcIssuer } from "../../support/oidc-issuer.js";
import { testIdentity, testSigner } from "../actions/context-helper.js";

let server: Server;
let base = "";
let sso: LocalOidcIssuer;
let gha: LocalOidcIssuer;
const audited: OidcRejectEvent[] = [];
const delivered: GitHubActionsCallback[] = [];
const signer = await testSigner("http://127.0.0.1/luigi");
const runs: Record<string, unknown> = { "run-1": { id: "run-1", state: "running", steps: [{ id: "alter-role", state: "succeeded" }] } };
const OPERATOR = "operator-1";

beforeAll(async () => {
  sso = await startOidcIssuer();
  gha = await startOidcIssuer();
  const verifier = new OidcVerifier(
    [
      { issuer: sso.url, audience: "clutch-luigi", jwksUrl: sso.jwksUrl },
      { issuer: GITHUB_ACTIONS_ISSUER, audience: "clutch-luigi", jwksUrl: gha.jwksUrl, repositories: ["acme/ops"] },
    ],
    { audit: (e) => void audited.push(e) },
  );
  const api = createApiHandler({
    signer,
    verifier,
    operators: [{ issuer: sso.url, subject: OPERATOR }],
    getRun: async (id) => (runs[id] ? { repository: "acme/ops", status: runs[id] } : undefined),
    findDispatch: async (runId, stepId) =>
      runId !== "run-1" ? { step: false } : stepId === "deploy" ? { step: true, dispatch: { repository: "acme/ops", workflowRunId: 77 } } : { step: true },
    deliverCallback: async (cb) => {
      delivered.push(cb);
    },
  });
  server = createServer((req, res) => {
    void api(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end("not ours");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await sso.close();
  await gha.close();
});

const ghaToken = (claims: Record<string, unknown> = {}) =>
  gha.mint({ issuer: GITHUB_ACTIONS_ISSUER, claims: { repository: "acme/ops", workflow: "rotate", run_id: "77", ...claims } });

describe("GET /.well-known/jwks.json", () => {
  it("serves public keys that verify the app's step tokens", async () => {
    const res = await fetch(`${base}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(doc.keys.every((k) => k.d === undefined)).toBe(true);
    const token = await signer.signStepToken(testIdentity(), "svc");
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`)), { audience: "svc" });
    expect(payload.sub).toBe("alice");
  });

  it("refuses other methods", async () => {
    expect((await fetch(`${base}/.well-known/jwks.json`, { method: "POST" })).status).toBe(405);
  });
});

describe("GET /api/runs/:id", () => {
  it("answers an operator with a valid token", async () => {
    const res = await fetch(`${base}/api/runs/run-1`, { headers: { authorization: `Bearer ${await sso.mint({ subject: OPERATOR })}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(runs["run-1"]);
  });

  it("answers an operator 404 for an unknown run and 400 for a malformed id", async () => {
    const auth = { authorization: `Bearer ${await sso.mint({ subject: OPERATOR })}` };
    expect((await fetch(`${base}/api/runs/run-404`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/api/runs/${encodeURIComponent("a b;c")}`, { headers: auth })).status).toBe(400);
  });

  // Every refusal the verifier knows, one test each: 401, the reason, and its own audit event.
  const now = (): number => Math.floor(Date.now() / 1000);
  const cases: [string, string, () => Promise<string | undefined> | string | undefined][] = [
    ["no token", "missing-token", () => undefined],
    ["wrong issuer", "unknown-issuer", () => sso.mint({ issuer: "https://evil.example" })],
    ["wrong audience", "audience", () => sso.mint({ audience: "other" })],
    ["expired", "expired", () => sso.mint({ expiresIn: -100 })],
    ["bad signature", "signature", () => sso.mint({ foreignKey: true })],
    ["alg: none", "algorithm", () => sso.mintUnsigned({ iss: sso.url, aud: "clutch-luigi", sub: "x", iat: now(), exp: now() + 60 })],
    ["HS256 keyed with the public key", "algorithm", () => sso.mint({ hmacWithPublicKey: true })],
    ["unknown kid", "unknown-kid", () => sso.mint({ kid: "nope" })],
    ["not valid yet", "not-yet-valid", () => sso.mint({ notBefore: now() + 600, expiresIn: 900 })],
    ["not a JWT", "malformed", () => "not.a.jwt"],
  ];
  for (const [name, reason, token] of cases) {
    it(`refuses ${name}: 401 with WWW-Authenticate, reason ${reason}, audited`, async () => {
      const t = await token();
      audited.length = 0;
      const res = await fetch(`${base}/api/runs/run-1`, { headers: t ? { authorization: `Bearer ${t}` } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
      expect(await res.json()).toEqual({ error: "invalid_token", reason });
      expect(audited.map((a) => a.reason)).toEqual([reason]);
      expect(audited[0]).toMatchObject({ type: "oidc.rejected", path: "/api/runs/run-1", remoteAddress: "127.0.0.1" });
      if (t) expect(JSON.stringify(audited)).not.toContain(t);
    });
  }
});

describe("POST /api/callbacks/github-actions", () => {
  const post = async (token: string | undefined, body: unknown, type = "application/json") =>
    fetch(`${base}/api/callbacks/github-actions`, {
      method: "POST",
      headers: { "content-type": type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("delivers a callback from the allowed repository with the caller's verified identity", async () => {
    const res = await post(await ghaToken(), { runId: "run-1", stepId: "deploy", workflowRunId: 77, status: "success", outputs: { version: "1.2.3" } });
    expect(res.status).toBe(202);
    expect(delivered.at(-1)).toMatchObject({ runId: "run-1", stepId: "deploy", workflowRunId: 77, status: "success", outputs: { version: "1.2.3" } });
    expect(delivered.at(-1)?.caller).toMatchObject({ issuer: GITHUB_ACTIONS_ISSUER, repository: "acme/ops", workflow: "rotate" });
  });

  it("refuses a GitHub token from another repository with 401", async () => {
    const before = delivered.length;
    expect((await post(await ghaToken({ repository: "mallory/x" }), { runId: "run-1", stepId: "s", status: "success" })).status).toBe(401);
    expect(delivered.length).toBe(before);
  });

  it("refuses a token from a non-GitHub issuer with 403", async () => {
    expect((await post(await sso.mint(), { runId: "run-1", stepId: "s", status: "success" })).status).toBe(403);
  });

  it("answers bad bodies with 4xx, not a crash", async () => {
    const token = await ghaToken();
    expect((await post(token, "{not json")).status).toBe(400);
    expect((await post(token, { runId: "run-1", stepId: "s", status: "maybe" })).status).toBe(400);
    expect((await post(token, { runId: "run-1", stepId: "s", status: "success", outputs: { x: 1 } })).status).toBe(400);
    expect((await post(token, { runId: "run-1" }, "text/plain")).status).toBe(415);
    expect((await post(token, { runId: "run-1", stepId: "s", status: "success", pad: "x".repeat(70_000) })).status).toBe(413);
    expect((await post(token, { runId: "run-9", stepId: "s", status: "success" })).status).toBe(403);
  });
});

describe("other paths", () => {
  it("are left to the host server", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("not ours");
  });
});
