/**
 * http.request against a local service that verifies the step token with jose
 * against the app's JWKS, fetched over HTTP from the app's own JWKS handler.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { httpRequest, MAX_RESPONSE_BYTES } from "../../../src/actions/builtin/http-request.js";
import { jwksHandler } from "../../../src/api/jwks.js";
import { compileSchema } from "../../../src/formats/schema-check.js";
import { startJwtVerifyingServer, type JwtVerifyingServer } from "../../support/jwt-verifier.js";
import { failure, HOSTILE_VALUES, testContext, testSigner } from "./context-helper.js";

const ISSUER = "http://127.0.0.1/clutch-luigi";
const signer = await testSigner(ISSUER);
let app: Server;
let service: JwtVerifyingServer;
let otherAudience: JwtVerifyingServer;
let config = "";

beforeAll(async () => {
  const jwks = jwksHandler(signer);
  app = createServer((req, res) => jwks(req, res));
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  const jwksUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/.well-known/jwks.json`;
  service = await startJwtVerifyingServer({ jwksUrl, issuer: ISSUER, audience: "billing-api" });
  otherAudience = await startJwtVerifyingServer({ jwksUrl, issuer: ISSUER, audience: "other", header: "x-identity" });
  config = `
connections:
  http:
    billing: { baseUrl: "${service.url}/api/v1/", audience: billing-api }
    other: { baseUrl: "${otherAudience.url}", audience: other, tokenHeader: x-identity }
`;
});
afterAll(async () => {
  await service.close();
  await otherAudience.close();
  app.closeAllConnections();
  await new Promise((r) => app.close(r));
});
beforeEach(() => {
  service.requests.length = 0;
  service.respond((r) => (r.claims ? { status: 200, body: { ok: true, sub: r.claims.sub } } : { status: 401, body: { error: r.tokenError } }));
});

const ctx = async () => (await testContext({ config, signer, identity: { stepId: "notify-billing", attempt: 2 } })).ctx;

describe("http.request", () => {
  it("sends a JSON body with the identity token the service verifies, and maps outputs", async () => {
    service.respond((r) => ({ status: 201, body: { invoice: { id: "inv_9", lines: [{ amount: 12 }] }, claimsSeen: r.claims?.approvers } }));
    const out = await httpRequest.run(
      { service: "billing", path: "/invoices", method: "POST", body: { customer: "acme", qty: 3 }, outputs: { invoiceId: "/invoice/id", amount: "/invoice/lines/0/amount" } },
      await ctx(),
    );
    expect(out).toEqual({ status: 201, invoiceId: "inv_9", amount: 12 });
    const req = service.requests[0]!;
    expect(req.tokenError).toBeUndefined();
    expect(req.url).toBe("/api/v1/invoices");
    expect(JSON.parse(req.body)).toEqual({ customer: "acme", qty: 3 });
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["idempotency-key"]).toBe("run-1:step-1");
    expect(req.claims).toMatchObject({
      iss: ISSUER, aud: "billing-api", sub: "alice", repository: "acme/ops", run_id: "run-1", step_id: "notify-billing", attempt: 2,
      approvers: [{ login: "bob", review_id: 80 }, { login: "carol", review_id: 81 }],
    });
    expect(req.claims!.exp! - req.claims!.iat!).toBeLessThanOrEqual(300);
  });

  it("uses an absolute URL with an explicit audience, and a custom token header", async () => {
    await httpRequest.run({ url: `${service.url}/hook`, audience: "billing-api" }, await ctx());
    expect(service.requests[0]?.claims?.aud).toBe("billing-api");
    await httpRequest.run({ service: "other", path: "/x" }, await ctx());
    expect(otherAudience.requests[0]?.claims?.aud).toBe("other");
    expect(otherAudience.requests[0]?.headers.authorization).toBeUndefined();
  });

  it("a token for another audience is refused by the service, and the action reports http-4xx", async () => {
    const err = await failure(httpRequest.run({ url: `${service.url}/hook`, audience: "someone-else" }, await ctx()));
    expect(err.code).toBe("http-4xx");
    expect(service.requests[0]?.tokenError).toMatch(/aud/);
  });

  it("sends a named secret as a header, and keeps it out of logs, errors and outputs", async () => {
    const apiKey = "sk-live-5ecret-Value-991";
    const t = await testContext({ config: `${config}secrets:\n  vendor-key: { env: VENDOR_KEY }\n`, env: { VENDOR_KEY: apiKey }, signer });
    service.respond((r) => ({ status: 200, body: { youSent: r.headers["x-api-key"] } }));
    const out = await httpRequest.run({ service: "billing", path: "/vendor", secretHeaders: { "x-api-key": "vendor-key" }, outputs: { echoed: "/youSent" } }, t.ctx);
    expect(service.requests[0]?.headers["x-api-key"]).toBe(apiKey);
    expect(service.requests[0]?.claims?.sub).toBe("alice"); // the identity token still rides along
    expect(out.echoed).toBe("[REDACTED]");
    service.respond((r) => ({ status: 403, body: { error: `key ${String(r.headers["x-api-key"])} is revoked` } }));
    const err = await failure(httpRequest.run({ service: "billing", path: "/vendor", secretHeaders: { "x-api-key": "vendor-key" } }, t.ctx));
    expect(err.code).toBe("http-4xx");
    expect(err.message).toContain("key [REDACTED] is revoked");
    expect(JSON.stringify(t.logs)).not.toContain(apiKey);
    const clash = await failure(httpRequest.run({ service: "billing", path: "/x", secretHeaders: { Authorization: "vendor-key" } }, t.ctx));
    expect(clash.code).toBe("invalid-input");
    expect((await failure(httpRequest.run({ service: "billing", path: "/x", secretHeaders: { "x-k": "no-such-secret" } }, t.ctx))).code).toBe("secret-unknown");
  });

  it("passes hostile values in query, body and headers as data", async () => {
    service.respond(() => ({ status: 200, body: {} }));
    const hostile = [...HOSTILE_VALUES, "nul\0byte"];
    await httpRequest.run(
      {
        service: "billing",
        path: "/search",
        method: "POST",
        query: Object.fromEntries(hostile.map((v, i) => [`q${i}`, v])),
        body: { values: hostile },
        headers: { "x-note": "; rm -rf / $(id) ' OR 1=1 --" },
      },
      await ctx(),
    );
    const req = service.requests[0]!;
    const url = new URL(req.url, "http://x");
    expect(url.pathname).toBe("/api/v1/search");
    hostile.forEach((v, i) => expect(url.searchParams.get(`q${i}`)).toBe(v));
    expect(JSON.parse(req.body)).toEqual({ values: hostile });
    expect(req.headers["x-note"]).toBe("; rm -rf / $(id) ' OR 1=1 --");
  });

  it("refuses header values that would split the request, and paths that leave the service", async () => {
    const c = await ctx();
    expect((await failure(httpRequest.run({ service: "billing", path: "/x", headers: { "x-a": "v\r\nx-injected: 1" } }, c))).code).toBe("invalid-input");
    expect((await failure(httpRequest.run({ service: "billing", path: "/../../admin" }, c))).message).toMatch(/refused: a "\.\." segment/);
    // Even when the walk would stay under the base URL, and when spelled %2e or with a backslash.
    for (const path of ["/users/../admin", "/users/%2E%2e/admin", "/users/..\\admin", "/users/./x"]) {
      expect((await failure(httpRequest.run({ service: "billing", path }, c))).code, path).toBe("unsafe-path");
    }
    expect((await failure(httpRequest.run({ url: `${service.url}/api/v1/users/../../admin`, audience: "billing-api" }, c))).code).toBe("unsafe-path");
    expect((await failure(httpRequest.run({ service: "billing", path: "/x", headers: { Authorization: "Bearer forged" } }, c))).code).toBe("invalid-input");
    expect((await failure(httpRequest.run({ service: "nope", path: "/x" }, c))).code).toBe("invalid-input");
    expect(service.requests).toHaveLength(0);
  });

  it("classifies failures for retry policies: 5xx, 429, 4xx, connection, timeout", async () => {
    const c = await ctx();
    for (const [status, code] of [[503, "http-5xx"], [500, "http-5xx"], [429, "http-429"], [404, "http-4xx"], [409, "http-4xx"]] as const) {
      service.respond(() => ({ status, body: { error: "nope" } }));
      expect((await failure(httpRequest.run({ service: "billing", path: "/x" }, c))).code, String(status)).toBe(code);
    }
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect((await failure(httpRequest.run({ url: `http://127.0.0.1:${port}/`, audience: "x" }, c))).code).toBe("connection");
  });

  it("honours the step's abort signal", async () => {
    service.respond(() => ({ status: 200, body: {}, delayMs: 5000 }));
    const t = await testContext({ config, signer });
    const started = Date.now();
    const pending = failure(httpRequest.run({ service: "billing", path: "/slow" }, t.ctx));
    setTimeout(() => t.abort.abort(new Error("step timeout")), 200);
    expect((await pending).code).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("treats statuses outside expectStatus as failures and a missing output as a bad response", async () => {
    service.respond(() => ({ status: 202, body: { a: 1 } }));
    const c = await ctx();
    expect((await failure(httpRequest.run({ service: "billing", path: "/x", expectStatus: [200] }, c))).code).toBe("unexpected-status");
    expect((await failure(httpRequest.run({ service: "billing", path: "/x", outputs: { b: "/b" } }, c))).code).toBe("bad-response");
  });

  it("does not follow redirects, so the identity token never travels to another host", async () => {
    const elsewhere = await startJwtVerifyingServer({ jwksUrl: "http://127.0.0.1:1/none", issuer: ISSUER, audience: "billing-api" });
    try {
      service.respond(() => ({ status: 302, headers: { location: `${elsewhere.url}/steal` } }));
      const err = await failure(httpRequest.run({ service: "billing", path: "/moved" }, await ctx()));
      expect(err.code).toBe("unexpected-status");
      expect(err.message).toMatch(/answered 302/);
      expect(elsewhere.requests).toHaveLength(0);
    } finally {
      await elsewhere.close();
    }
  });

  it("refuses a response body over 1 MiB instead of buffering it", async () => {
    service.respond(() => ({ status: 200, body: { blob: "x".repeat(MAX_RESPONSE_BYTES + 10) } }));
    const err = await failure(httpRequest.run({ service: "billing", path: "/huge" }, await ctx()));
    expect(err.code).toBe("bad-response");
    expect(err.message).toMatch(/larger than 1048576 bytes/);
  });

  it("has an input schema that catches mistakes", () => {
    const v = compileSchema(httpRequest.input);
    expect(v({ url: "https://x.example/a" })).toBe(true);
    expect(v({ service: "billing", path: "/a", outputs: { id: "/id" } })).toBe(true);
    expect(v({ service: "billing" })).toBe(false); // no path
    expect(v({ url: "https://x.example", service: "billing", path: "/a" })).toBe(false); // both
    expect(v({ url: "file:///etc/passwd" })).toBe(false);
    expect(v({ url: "https://x.example", method: "TRACE" })).toBe(false);
    expect(v({ url: "https://x.example", outputs: { status: "/s" } })).toBe(false);
    expect(v({ url: "https://x.example", outputs: { a: "no-slash" } })).toBe(false);
    expect(v({ url: "https://x.example", headers: { "x-a": "line\nbreak" } })).toBe(false);
  });
});
