/**
 * Rejected tokens cannot flood the audit chain: a source's refusals are written once per
 * window plus one aggregate row with the count, every refusal still accounted for in
 * the chain; a source that keeps failing is answered 429 without verification.
 */
import { request } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type ServerHandle } from "../../../src/server/app-server.js";
import { listAuditEvents, verifyAuditChain } from "../../../src/store/audit.js";
import { openStore, storeOptionsFromEnv } from "../../../src/store/db.js";
import { startOidcIssuer, type LocalOidcIssuer } from "../../support/oidc-issuer.js";

let issuer: LocalOidcIssuer;
const servers: ServerHandle[] = [];

async function start(env: Record<string, string> = {}): Promise<ServerHandle> {
  return (await startWithEnv(env)).s;
}

async function startWithEnv(extra: Record<string, string> = {}): Promise<{ s: ServerHandle; env: Record<string, string> }> {
  const dir = mkdtempSync(path.join(tmpdir(), "cl-flood-"));
  const config = path.join(dir, "server.yaml");
  writeFileSync(config, `signing: { issuer: "http://clutch-luigi.test" }\noidc:\n  issuers:\n    - { issuer: "${issuer.url}", audience: clutch-luigi, jwksUrl: "${issuer.jwksUrl}" }\napi:\n  operators:\n    - { subject: ops }\n`);
  const env = { CLUTCH_LUIGI_DATA_DIR: dir, CLUTCH_LUIGI_CONFIG: config, PORT: "0", HOST: "0.0.0.0", CLUTCH_LUIGI_WORKERS: "0", ...extra };
  const s = await startServer({ env, log: () => undefined });
  servers.push(s);
  return { s, env };
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await issuer?.close();
});

const refusalRows = async (s: ServerHandle) => (await listAuditEvents(s.store.db, {})).filter((e) => e.kind.startsWith("auth.rejected"));
/** Refusals the rows account for: each plain row is one, an aggregate row says how many it stands for. */
const counted = (rows: { kind: string; data: Record<string, unknown> }[]) => rows.reduce((n, r) => n + (r.kind.endsWith(".aggregate") ? Number(r.data.count) : 1), 0);

describe("refused tokens and the audit chain", () => {
  it("100 garbage tokens leave a handful of rows that still count all 100, and the chain verifies", async () => {
    const s = await start();
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${s.url}/api/runs/r-${i}`, { headers: { authorization: `Bearer garbage-${i}.x.y` } });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    // The first refusals are verified (401); once the source is over its limit it gets 429 unverified.
    expect(statuses.slice(0, 20).every((x) => x === 401)).toBe(true);
    expect(statuses.slice(20).every((x) => x === 429)).toBe(true);

    await s.flushRefusals();
    const rows = await refusalRows(s);
    expect(rows.length).toBeLessThanOrEqual(3);
    expect(counted(rows)).toBe(100);
    expect(rows[0]?.data).toMatchObject({ reason: "malformed", remoteAddress: "127.0.0.1" });
    const aggregate = rows.find((r) => r.kind === "auth.rejected.aggregate");
    expect(aggregate?.data).toMatchObject({ count: 99, reasons: { malformed: 19, "rate-limited": 80 } });
    expect((await verifyAuditChain(s.store.db)).ok).toBe(true);
  }, 60_000);

  it("writes the aggregate row by itself when the window closes, and a new window starts with a full row", async () => {
    const s = await start({ CLUTCH_LUIGI_REFUSAL_WINDOW_MS: "300" });
    for (let i = 0; i < 5; i++) await (await fetch(`${s.url}/api/runs/x`, { headers: { authorization: "Bearer nope" } })).arrayBuffer();
    expect((await refusalRows(s)).map((r) => r.kind)).toEqual(["auth.rejected"]);
    await new Promise((r) => setTimeout(r, 600));
    expect((await refusalRows(s)).map((r) => [r.kind, r.data.count])).toEqual([["auth.rejected", undefined], ["auth.rejected.aggregate", 4]]);
    await (await fetch(`${s.url}/api/runs/x`, { headers: { authorization: "Bearer nope" } })).arrayBuffer();
    expect((await refusalRows(s)).map((r) => r.kind)).toEqual(["auth.rejected", "auth.rejected.aggregate", "auth.rejected"]);
    expect((await verifyAuditChain(s.store.db)).ok).toBe(true);
  }, 30_000);

  it("closing the server writes the open window's count into the chain", async () => {
    const { s, env } = await startWithEnv({ CLUTCH_LUIGI_REFUSAL_WINDOW_MS: "600000" });
    for (let i = 0; i < 3; i++) await (await fetch(`${s.url}/api/runs/x`, { headers: { authorization: "Bearer nope" } })).arrayBuffer();
    expect((await refusalRows(s)).map((r) => r.kind)).toEqual(["auth.rejected"]);
    servers.splice(servers.indexOf(s), 1);
    await s.close();
    const store = await openStore(storeOptionsFromEnv(env, process.cwd()));
    try {
      const rows = (await listAuditEvents(store.db, {})).filter((e) => e.kind.startsWith("auth.rejected"));
      expect(rows.map((r) => r.kind)).toEqual(["auth.rejected", "auth.rejected.aggregate"]);
      expect(counted(rows)).toBe(3);
      expect((await verifyAuditChain(store.db)).ok).toBe(true);
    } finally {
      await store.close();
    }
  }, 30_000);

  it("the limit is per source: a sprayer over it gets 429 even with a good token, another address is served", async () => {
    const s = await start({ CLUTCH_LUIGI_REFUSAL_LIMIT: "3" });
    for (let i = 0; i < 5; i++) await (await fetch(`${s.url}/api/runs/x`, { headers: { authorization: "Bearer nope" } })).arrayBuffer();
    const good = await issuer.mint({ audience: "clutch-luigi", subject: "ops" });
    const unknownRun = "/api/runs/00000000-0000-4000-8000-000000000000";
    expect(await statusFrom(s.url, unknownRun, good, "127.0.0.1")).toBe(429);
    // The operator's request from another address is verified and answered (404: no such run).
    expect(await statusFrom(s.url, unknownRun, good, "127.0.0.2")).toBe(404);
  }, 30_000);
});

function statusFrom(base: string, pathname: string, token: string, localAddress: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${pathname}`, { headers: { authorization: `Bearer ${token}` }, localAddress }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end();
  });
}
