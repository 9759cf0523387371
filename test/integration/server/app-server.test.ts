/**
 * `npm start`'s server over real HTTP on the embedded database: health, metrics,
 * JWKS, and the OIDC-protected run API — including that a refused token lands in the
 * audit trail.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRemoteJWKSet, jwtVerify } from "jose";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type ServerHandle } from "../../../src/server/app-server.js";
import { createStepRuntime } from "../../../src/runtime/step-runtime.js";
import { createRun } from "../../../src/store/runs.js";
import { listAuditEvents, verifyAuditChain } from "../../../src/store/audit.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { startOidcIssuer, type LocalOidcIssuer } from "../../support/oidc-issuer.js";

let server: ServerHandle;
let issuer: LocalOidcIssuer;
let dataDir: string;

beforeAll(async () => {
  issuer = await startOidcIssuer();
  dataDir = mkdtempSync(path.join(tmpdir(), "cl-server-"));
  const config = path.join(dataDir, "server.yaml");
  writeFileSync(
    config,
    `signing: { issuer: "http://clutch-luigi.test" }\noidc:\n  issuers:\n    - { issuer: "${issuer.url}", audience: clutch-luigi, jwksUrl: "${issuer.jwksUrl}" }\napi:\n  operators:\n    - { subject: agent-7 }\n`,
  );
  server = await startServer({
    env: { CLUTCH_LUIGI_DATA_DIR: dataDir, CLUTCH_LUIGI_CONFIG: config, PORT: "0", HOST: "127.0.0.1", CLUTCH_LUIGI_WORKERS: "0" },
    log: () => undefined,
  });
});

afterAll(async () => {
  await server?.close();
  await issuer?.close();
});

describe("the server npm start runs", () => {
  it("answers /healthz when the database does", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("publishes its step-token keys, and a token it signs verifies against them", async () => {
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys.every((k) => typeof k.kid === "string" && !("d" in k))).toBe(true);
    // The same key material the server loaded from the data folder signs step tokens.
    const runtime = await createStepRuntime({ env: { CLUTCH_LUIGI_DATA_DIR: dataDir, CLUTCH_LUIGI_CONFIG: path.join(dataDir, "server.yaml") } });
    const token = await runtime.signer.signStepToken(
      {
        repository: "acme/ops", requestPath: "requests/x.yaml", workflow: "w", requester: { login: "alice", type: "User" },
        approvers: [{ login: "bob", reviewId: 80 }], runId: "r", stepId: "s", attempt: 1, idempotencyKey: "r:s",
      },
      "billing-api",
    );
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)), {
      issuer: "http://clutch-luigi.test",
      audience: "billing-api",
    });
    expect(payload.sub).toBe("alice");
  });

  it("serves run status to a trusted OIDC caller, and audits a refused one", async () => {
    const wf: WorkflowSpec = { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "api-probe", steps: [{ id: "one", uses: "noop" }] };
    const { runId } = await createRun(server.store, {
      repository: "acme/ops", requester: { login: "alice", type: "User" }, approvers: [],
      workflow: wf, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: wf.name, reason: "api probe" }, requestPath: "r.yaml",
    });
    const good = await issuer.mint({ audience: "clutch-luigi", subject: "agent-7" });
    const ok = await fetch(`${server.url}/api/runs/${runId}`, { headers: { authorization: `Bearer ${good}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ runId, workflow: "api-probe", steps: [{ stepId: "one" }] });

    const notFound = await fetch(`${server.url}/api/runs/not-a-run`, { headers: { authorization: `Bearer ${good}` } });
    expect(notFound.status).toBe(404);

    const wrongAudience = await issuer.mint({ audience: "someone-else", subject: "mallory" });
    const refused = await fetch(`${server.url}/api/runs/${runId}`, { headers: { authorization: `Bearer ${wrongAudience}` } });
    expect(refused.status).toBe(401);
    const rejected = (await listAuditEvents(server.store.db, {})).filter((e) => e.kind === "auth.rejected");
    expect(rejected.at(-1)?.data).toMatchObject({ reason: "audience", claimedSubject: "mallory" });
    expect(JSON.stringify(rejected)).not.toContain(wrongAudience);
    expect((await verifyAuditChain(server.store.db)).ok).toBe(true);
  });

  it("exposes Prometheus metrics that a Prometheus text parser reads", async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    expect(families.get("clutch_luigi_runs")?.type).toBe("GAUGE");
    expect(families.get("clutch_luigi_runs")?.metrics.some((m) => m.labels?.state === "running" && Number(m.value) >= 1)).toBe(true);
    const head = Number(families.get("clutch_luigi_audit_head_seq")?.metrics[0]?.value);
    expect(head).toBe((await verifyAuditChain(server.store.db)).headSeq);
    // Families with no sample yet (no webhook in this test) are declared but not parsed.
    expect(text).toMatch(/^# TYPE clutch_luigi_webhooks_total counter$/m);
    expect(text).toMatch(/^# TYPE clutch_luigi_step_duration_seconds histogram$/m);
    expect(families.get("clutch_luigi_queue_oldest_ready_seconds")?.type).toBe("GAUGE");
    expect(families.get("process_resident_memory_bytes")?.type).toBe("GAUGE");
  });

  it("answers unknown paths with 404 JSON", async () => {
    const res = await fetch(`${server.url}/nope`);
    expect(res.status).toBe(404);
  });
});
