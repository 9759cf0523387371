/**
 * http.request refuses a path that could address another endpoint — dot segments, plain
 * or encoded, encoded slashes, backslashes, `;` matrix parameters, double encoding —
 * before sending anything: a local server proves it received no request.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { httpRequest, UnsafePathError } from "../../../src/actions/builtin/http-request.js";
import { failure, testContext } from "./context-helper.js";

let server: Server;
let base = "";
const received: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    received.push(req.url ?? "");
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => void (received.length = 0));

const ctx = async () => (await testContext({ config: `connections:\n  http:\n    api: { baseUrl: "${base}/v1/", audience: api }\n` })).ctx;

/** [case, substituted path value, reason in the message] */
const HOSTILE: [string, string, RegExp][] = [
  ["a .. segment", "/users/../admin", /a "\.\." segment/],
  ["a . segment", "/users/./admin", /a "\." segment/],
  ["%2e%2e", "/users/%2e%2e/admin", /a "\.\." segment/],
  ["%2E%2e in mixed case", "/users/%2E%2e/admin", /a "\.\." segment/],
  ["half-encoded .%2e", "/users/.%2E/admin", /a "\.\." segment/],
  ["an encoded slash %2f", "/users/a%2fb", /an encoded slash or backslash/],
  ["an encoded slash %2F upper case", "/users/..%2Fadmin", /an encoded slash or backslash/],
  ["an encoded backslash %5c", "/users/..%5cadmin", /an encoded slash or backslash/],
  ["a backslash", "/users/..\\admin", /a backslash/],
  ["a ; matrix parameter", "/users/me;role=admin", /matrix parameter/],
  ["an encoded ; (%3b)", "/users/me%3brole=admin", /matrix parameter/],
  ["double encoding %252e", "/users/%252e%252e/admin", /double percent-encoding/],
  ["malformed encoding", "/users/%zz", /malformed percent-encoding/],
];

describe("http.request path normalization", () => {
  for (const [name, path, reason] of HOSTILE) {
    it(`refuses ${name} in a service path, sending nothing`, async () => {
      const err = await failure(httpRequest.run({ service: "api", path }, await ctx()));
      expect(err).toBeInstanceOf(UnsafePathError);
      expect(err.code).toBe("unsafe-path");
      expect(err.message).toMatch(reason);
      expect(received).toEqual([]);
    });
    it(`refuses ${name} in a URL's path, sending nothing`, async () => {
      const err = await failure(httpRequest.run({ url: `${base}/v1${path}` }, await ctx()));
      expect(err).toBeInstanceOf(UnsafePathError);
      expect(err.message).toMatch(reason);
      expect(received).toEqual([]);
    });
  }

  it("sends ordinary paths, encoded spaces and a query holding .. and ; untouched", async () => {
    const c = await ctx();
    expect((await httpRequest.run({ service: "api", path: "/users/a%20b/x..y?next=../a;b" }, c)).status).toBe(200);
    expect((await httpRequest.run({ url: `${base}/v1/users/alice.smith` }, c)).status).toBe(200);
    expect(received).toEqual(["/v1/users/a%20b/x..y?next=../a;b", "/v1/users/alice.smith"]);
  });
});
