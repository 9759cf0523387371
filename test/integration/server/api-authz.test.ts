/**
 * The HTTP API authorizes the caller, not just the token: a GitHub Actions token of
 * repository X reads runs of X only, the configured operators read all, and a callback
 * is accepted only from the workflow run its step dispatched. Refusals are 403, audited.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubWorkflowDispatch, WORKFLOW_DISPATCH_RECORDER } from "../../../src/actions/builtin/github-workflow-dispatch.js";
import { startServer, type ServerHandle } from "../../../src/server/app-server.js";
import { parseServerConfig, ServerConfigError } from "../../../src/server-config/index.js";
import { GITHUB_ACTIONS_ISSUER } from "../../../src/server-config/types.js";
import { listAuditEvents, verifyAuditChain } from "../../../src/store/audit.js";
import { recordWorkflowDispatch } from "../../../src/store/dispatches.js";
import { createRun } from "../../../src/store/runs.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { startFakeGitHub, type StartedFakeGitHub } from "../../support/github/index.js";
import { startOidcIssuer, type LocalOidcIssuer } from "../../support/oidc-issuer.js";
import { testContext } from "../actions/context-helper.js";

let server: ServerHandle;
let sso: LocalOidcIssuer;
let gha: LocalOidcIssuer;
let github: StartedFakeGitHub;
let opsRun: string;
let otherRun: string;

const wf: WorkflowSpec = { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "authz-probe", steps: [{ id: "deploy", uses: "noop" }, { id: "plain", uses: "noop" }] };
const newRun = async (repository: string) =>
  (
    await createRun(server.store, {
      repository, requester: { login: "alice", type: "User" }, approvers: [],
      workflow: wf, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: wf.name, reason: "authz" }, requestPath: "r.yaml",
    })
  ).runId;

beforeAll(async () => {
  sso = await startOidcIssuer();
  gha = await startOidcIssuer();
  github = await startFakeGitHub();
  github.actions.addWorkflow("acme/ops", "deploy.yml", "success");
  const dir = mkdtempSync(path.join(tmpdir(), "cl-authz-"));
  const config = path.join(dir, "server.yaml");
  writeFileSync(
    config,
    [
      `signing: { issuer: "http://clutch-luigi.test" }`,
      `oidc:`,
      `  issuers:`,
      `    - { issuer: "${sso.url}", audience: clutch-luigi, jwksUrl: "${sso.jwksUrl}" }`,
      `    - { issuer: "${GITHUB_ACTIONS_ISSUER}", audience: clutch-luigi, jwksUrl: "${gha.jwksUrl}", repositories: [acme/ops, acme/other] }`,
      `api:`,
      `  operators:`,
      `    - { issuer: "${sso.url}", subject: oncall-bot }`,
      ``,
    ].join("\n"),
  );
  server = await startServer({ env: { CLUTCH_LUIGI_DATA_DIR: dir, CLUTCH_LUIGI_CONFIG: config, PORT: "0", HOST: "127.0.0.1", CLUTCH_LUIGI_WORKERS: "0" }, log: () => undefined });
  opsRun = await newRun("acme/ops");
  otherRun = await newRun("acme/other");
});
afterAll(async () => {
  await server?.close();
  await sso?.close();
  await gha?.close();
  await github?.close();
});

const actionsToken = (repository: string, runId = "1") => gha.mint({ issuer: GITHUB_ACTIONS_ISSUER, claims: { repository, workflow: "deploy", run_id: runId } });
const getRunAs = async (token: string, runId: string) => fetch(`${server.url}/api/runs/${runId}`, { headers: { authorization: `Bearer ${token}` } });
const forbidden = async () => (await listAuditEvents(server.store.db, {})).filter((e) => e.kind.startsWith("api.forbidden"));

describe("GET /api/runs/:id authorizes the caller", () => {
  it("a token from repository X reads runs of X and is refused 403, audited, for another repository's run", async () => {
    const own = await getRunAs(await actionsToken("acme/ops"), opsRun);
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ runId: opsRun });

    const before = (await forbidden()).length;
    const foreign = await getRunAs(await actionsToken("acme/ops"), otherRun);
    expect(foreign.status).toBe(403);
    const rows = await forbidden();
    expect(rows.length).toBe(before + 1);
    expect(rows.at(-1)?.data).toMatchObject({ reason: "foreign-run", path: `/api/runs/${otherRun}`, caller: "acme/ops:deploy" });
    expect((await verifyAuditChain(server.store.db)).ok).toBe(true);
  });

  it("an unknown run looks the same as a forbidden one to a non-operator", async () => {
    const token = await actionsToken("acme/ops");
    const unknown = await getRunAs(token, "00000000-0000-4000-8000-000000000000");
    const foreign = await getRunAs(token, otherRun);
    expect(unknown.status).toBe(403);
    expect(await unknown.json()).toEqual(await foreign.json());
  });

  it("a trusted token that is no operator and has no repository reads nothing", async () => {
    expect((await getRunAs(await sso.mint({ subject: "someone" }), opsRun)).status).toBe(403);
  });

  it("a configured operator reads every run, and learns 404 for one that does not exist", async () => {
    const token = await sso.mint({ subject: "oncall-bot" });
    expect((await getRunAs(token, opsRun)).status).toBe(200);
    expect((await getRunAs(token, otherRun)).status).toBe(200);
    expect((await getRunAs(token, "00000000-0000-4000-8000-000000000000")).status).toBe(404);
  });
});

describe("POST /api/callbacks/github-actions is bound to the dispatch", () => {
  const callback = async (token: string, body: Record<string, unknown>) =>
    fetch(`${server.url}/api/callbacks/github-actions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ status: "success", ...body }),
    });

  it("the dispatch step records the workflow run it started; only that run's token may call back", async () => {
    const octokit = new Octokit({ baseUrl: github.url, auth: "ghs_test", log: { debug() {}, info() {}, warn() {}, error() {} } });
    const recorder = (d: Parameters<typeof recordWorkflowDispatch>[1]) => recordWorkflowDispatch(server.store, d);
    const { ctx } = await testContext({ services: { github: octokit, [WORKFLOW_DISPATCH_RECORDER]: recorder }, identity: { runId: opsRun, stepId: "deploy" } });
    const out = await githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", callbackInputs: true, wait: false }, ctx);
    const dispatched = String(out.runId);

    await server.flushRefusals();
    const before = (await forbidden()).length;
    // Same repository, valid token, but another workflow run of it: refused.
    const other = await callback(await actionsToken("acme/ops", String(out.runId + 1)), { runId: opsRun, stepId: "deploy" });
    expect(other.status).toBe(403);
    // The right token but a body claiming another workflow run: refused.
    expect((await callback(await actionsToken("acme/ops", dispatched), { runId: opsRun, stepId: "deploy", workflowRunId: out.runId + 1 })).status).toBe(403);
    // The workflow run id of the dispatch from another allowed repository: refused.
    expect((await callback(await actionsToken("acme/other", dispatched), { runId: opsRun, stepId: "deploy" })).status).toBe(403);
    // A step that dispatched nothing, and a step that does not exist: refused alike.
    expect((await callback(await actionsToken("acme/ops", dispatched), { runId: opsRun, stepId: "plain" })).status).toBe(403);
    expect((await callback(await actionsToken("acme/ops", dispatched), { runId: opsRun, stepId: "nope" })).status).toBe(403);
    // One row at once, the repeats of the window in one aggregate row: every refusal and its reason is in the chain.
    await server.flushRefusals();
    const rows = (await forbidden()).slice(before);
    expect(rows.map((r) => r.kind)).toEqual(["api.forbidden", "api.forbidden.aggregate"]);
    expect(rows[0]?.data).toMatchObject({ reason: "wrong-workflow-run", caller: "acme/ops:deploy" });
    expect(rows[1]?.data).toMatchObject({ count: 4, reasons: { "wrong-workflow-run": 1, "wrong-repository": 1, "not-dispatched": 1, "unknown-step": 1 } });

    const ok = await callback(await actionsToken("acme/ops", dispatched), { runId: opsRun, stepId: "deploy", workflowRunId: out.runId, outputs: { version: "1" } });
    expect(ok.status).toBe(202);
    const received = (await listAuditEvents(server.store.db, { runId: opsRun })).filter((e) => e.kind === "callback.received");
    expect(received).toHaveLength(1);
    expect(received[0]?.data).toMatchObject({ status: "success", outputs: ["version"], workflowRunId: out.runId });
    expect((await verifyAuditChain(server.store.db)).ok).toBe(true);
  });

  it("a retried dispatch rebinds the step to its new workflow run", async () => {
    await recordWorkflowDispatch(server.store, { runId: otherRun, stepId: "deploy", repository: "acme/other", workflowRunId: 9001 });
    await recordWorkflowDispatch(server.store, { runId: otherRun, stepId: "deploy", repository: "acme/other", workflowRunId: 9002 });
    expect((await callback(await actionsToken("acme/other", "9001"), { runId: otherRun, stepId: "deploy" })).status).toBe(403);
    expect((await callback(await actionsToken("acme/other", "9002"), { runId: otherRun, stepId: "deploy" })).status).toBe(202);
  });
});

describe("api.operators in the server configuration", () => {
  it("accepts rules naming a subject, login or repository, and refuses one that names only an issuer", () => {
    const ok = parseServerConfig(`api:\n  operators:\n    - { subject: a }\n    - { login: b, issuer: "https://sso.example.com" }\n    - { repository: acme/platform }\n`, "s.yaml", {});
    expect(ok.api.operators).toHaveLength(3);
    expect(parseServerConfig("{}", "s.yaml", {}).api.operators).toEqual([]);
    expect(() => parseServerConfig(`api:\n  operators:\n    - { issuer: "https://sso.example.com" }\n`, "s.yaml", {})).toThrow(ServerConfigError);
    expect(() => parseServerConfig(`api:\n  operators:\n    - { subject: a, role: admin }\n`, "s.yaml", {})).toThrow(ServerConfigError);
  });
});
