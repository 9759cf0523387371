/**
 * POST /api/runs/:id/cancel over real HTTP with real OIDC tokens: operators cancel (the
 * same cancel as the button and the CLI, audited with the caller), anyone else is
 * refused 403 and audited, whether the run exists or not.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type ServerHandle } from "../../../src/server/app-server.js";
import { GITHUB_ACTIONS_ISSUER } from "../../../src/server-config/types.js";
import { listAuditEvents, verifyAuditChain } from "../../../src/store/audit.js";
import { createRun, getRun } from "../../../src/store/runs.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { startOidcIssuer, type LocalOidcIssuer } from "../../support/oidc-issuer.js";

let server: ServerHandle;
let sso: LocalOidcIssuer;
let gha: LocalOidcIssuer;

// A durable wait that will not fire during the test: the run stays active until cancelled.
const wf: WorkflowSpec = { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "cancel-probe", steps: [{ id: "pause", uses: "wait", with: { duration: "1h" } }] };
const newRun = async () =>
  (
    await createRun(server.store, {
      repository: "acme/ops", requester: { login: "alice", type: "User" }, approvers: [],
      workflow: wf, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: wf.name, reason: "cancel" }, requestPath: "r.yaml",
    })
  ).runId;

beforeAll(async () => {
  sso = await startOidcIssuer();
  gha = await startOidcIssuer();
  const dir = mkdtempSync(path.join(tmpdir(), "cl-cancel-api-"));
  const config = path.join(dir, "server.yaml");
  writeFileSync(
    config,
    [
      `signing: { issuer: "http://clutch-luigi.test" }`,
      `oidc:`,
      `  issuers:`,
      `    - { issuer: "${sso.url}", audience: clutch-luigi, jwksUrl: "${sso.jwksUrl}" }`,
      `    - { issuer: "${GITHUB_ACTIONS_ISSUER}", audience: clutch-luigi, jwksUrl: "${gha.jwksUrl}", repositories: [acme/ops] }`,
      `api:`,
      `  operators:`,
      `    - { issuer: "${sso.url}", subject: oncall-bot }`,
      ``,
    ].join("\n"),
  );
  server = await startServer({ env: { CLUTCH_LUIGI_DATA_DIR: dir, CLUTCH_LUIGI_CONFIG: config, PORT: "0", HOST: "127.0.0.1", CLUTCH_LUIGI_WORKERS: "0" }, log: () => undefined });
});
afterAll(async () => {
  await server?.close();
  await sso?.close();
  await gha?.close();
});

const cancel = (token: string, runId: string, body?: unknown) =>
  fetch(`${server.url}/api/runs/${runId}/cancel`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
const rows = async (kind: string, runId?: string) => (await listAuditEvents(server.store.db, runId ? { runId } : {})).filter((e) => e.kind === kind);

describe("POST /api/runs/:id/cancel", () => {
  it("an operator cancels an active run; the audit row names the caller and the reason; a second cancel is 409", async () => {
    const runId = await newRun();
    const token = await sso.mint({ subject: "oncall-bot" });
    const res = await cancel(token, runId, { reason: "INC-9 wrong service" });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ runId, state: "cancelled" });
    expect((await getRun(server.store, runId))!.state).toBe("cancelled");
    expect(await rows("run.cancel_requested", runId)).toEqual([
      expect.objectContaining({ actor: "oncall-bot", data: { via: "api", issuer: sso.url, subject: "oncall-bot", reason: "INC-9 wrong service" } }),
    ]);
    const again = await cancel(token, runId);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ state: "cancelled" });
    expect(await rows("run.cancel_requested", runId)).toHaveLength(1);
  });

  it("anyone else is refused 403, audited, and the run goes on — even a token of the run's own repository", async () => {
    const runId = await newRun();
    await server.flushRefusals();
    const before = (await rows("api.forbidden")).length;
    const actions = await gha.mint({ issuer: GITHUB_ACTIONS_ISSUER, claims: { repository: "acme/ops", workflow: "deploy", run_id: "1" } });
    expect((await cancel(actions, runId)).status).toBe(403);
    // An unknown run looks the same to a non-operator.
    const unknown = await cancel(await sso.mint({ subject: "someone" }), "00000000-0000-4000-8000-000000000000");
    expect(unknown.status).toBe(403);
    await server.flushRefusals();
    const refused = (await listAuditEvents(server.store.db, {})).filter((e) => e.kind.startsWith("api.forbidden")).slice(before);
    expect(refused[0]).toMatchObject({ data: { reason: "not-operator", path: `/api/runs/${runId}/cancel`, caller: "acme/ops:deploy" } });
    expect((await getRun(server.store, runId))!.state).toBe("running");
    expect(await rows("run.cancel_requested", runId)).toEqual([]);
  });

  it("refuses bad input: no token 401, a malformed body 400, an unknown run 404 (operators), GET 405", async () => {
    const runId = await newRun();
    const token = await sso.mint({ subject: "oncall-bot" });
    expect((await fetch(`${server.url}/api/runs/${runId}/cancel`, { method: "POST" })).status).toBe(401);
    expect((await cancel(token, runId, "{not json")).status).toBe(400);
    expect((await cancel(token, runId, { reason: "a\u001b[2Jb" })).status).toBe(400);
    expect((await cancel(token, runId, { reason: 7 })).status).toBe(400);
    expect((await cancel(token, runId, { reason: "x".repeat(1_001) })).status).toBe(400);
    expect((await cancel(token, runId, { force: true })).status).toBe(400);
    expect((await cancel(token, runId, [1])).status).toBe(400);
    expect((await cancel(token, "00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await cancel(token, "not a run")).status).toBe(400);
    expect((await fetch(`${server.url}/api/runs/${runId}/cancel`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
    expect((await getRun(server.store, runId))!.state).toBe("running");
    expect((await verifyAuditChain(server.store.db)).ok).toBe(true);
  });
});
