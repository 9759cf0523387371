/**
 * The catalog's maintenance-mode against a real HTTP service standing in for the
 * feature-flag service: the flag is switched on with the step's signed identity,
 * stays on while the change is in force, and is switched off by the rollback when
 * the expiry fires.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import { catalogWorkflow, runThroughExpiry } from "./time-bound-run.js";

interface Call {
  method: string;
  path: string;
  body: unknown;
  token: string | undefined;
}

let store: Store;
let server: Server;
let base = "";
const calls: Call[] = [];
const flags = new Map<string, boolean>();

beforeAll(async () => {
  store = await openStore({ dataDir: ":memory:", encryptionKey: Buffer.alloc(32, 9).toString("base64") });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : null;
      calls.push({ method: req.method!, path: req.url!, body, token: req.headers.authorization?.replace(/^Bearer /, "") });
      const m = /^\/v1\/flags\/([a-z-]+)$/.exec(req.url ?? "");
      if (req.method === "PUT" && m) flags.set(m[1]!, (body as { enabled: boolean }).enabled);
      res.writeHead(m ? 200 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: Boolean(m) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store?.close();
});

describe("maintenance-mode (workflows/maintenance-mode.yaml) through http.request", () => {
  it("switches the flag on, keeps it on while in force, and off when the expiry fires", async () => {
    const config = `connections:\n  http:\n    flags: { baseUrl: "${base}/", audience: flags }\n`;
    let during: boolean | undefined;
    const run = await runThroughExpiry(store, config, await catalogWorkflow("maintenance-mode", ["duration"]), { service: "checkout", duration: "1500ms" }, async () => {
      during = flags.get("checkout-maintenance");
    });
    expect(during).toBe(true);
    expect(run.state).toBe("rolled_back");
    expect(run.error).toMatch(/^expired at /);
    expect(flags.get("checkout-maintenance")).toBe(false);
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ["PUT", "/v1/flags/checkout-maintenance", { enabled: true, reason: "INC-912" }],
      ["PUT", "/v1/flags/checkout-maintenance", { enabled: false }],
    ]);
    // Both calls carry the step's signed identity, for the flags service's own audit.
    for (const c of calls) expect(decodeJwt(c.token!)).toMatchObject({ aud: "flags", requester: { login: "dana" } });
    const kinds = rowsOf<{ kind: string }>(await store.db.raw("select kind from audit_events where run_id = ? order by seq", [run.runId])).map((r) => r.kind);
    expect(kinds).toContain("run.expired");
  });
});
