/**
 * End to end over real HTTP: signed webhook deliveries into the server
 * `npm start` runs, check runs out to the GitHub fake, runs and audit rows in
 * the embedded database.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { listAuditEvents, verifyAuditChain } from "../../src/store/audit.js";
import { rowsOf } from "../../src/store/db.js";
import { deliveryState } from "../../src/store/deliveries.js";
import type { FakeCheckRun, FakePull } from "../support/github/pull-request-world.js";
import { fixture, REPO } from "../integration/github/world.js";
import { INSTALLATION_TOKEN, startApp, WEBHOOK_SECRET, type E2eApp } from "./app.js";
import { delivery, payloadFor, post, sign } from "./webhook-client.js";

let app: E2eApp;
const alice = { login: "alice", type: "User" as const };
const REQUEST_PATH = "requests/2026/restart-checkout.yaml";

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => app?.close());
afterEach(() => {
  expect(app.world.fake.violations.splice(0)).toEqual([]);
});

const checksOn = (sha: string, name?: string): FakeCheckRun[] => app.world.checks.runs.filter((r) => r.headSha === sha && (!name || r.name === name));
const lastCheck = (sha: string, name: string): FakeCheckRun | undefined => checksOn(sha, name).at(-1);

/** What handling a pull request delivery calls first: a delivery that was not handled made none of these. */
const HANDLING = new Set(["pulls/get", "pulls/list-files", "checks/create"]);

async function auditRows(kind: string) {
  return (await listAuditEvents(app.server.store.db)).filter((r) => r.kind === kind);
}

async function runRows(): Promise<{ id: string; idempotency_key: string; identity: Record<string, unknown> }[]> {
  return rowsOf(await app.server.store.db.raw("select id, idempotency_key, identity from runs order by created_at"));
}

async function send(event: "pull_request" | "pull_request_review", action: string, p: FakePull, extra: Parameters<typeof payloadFor>[3] = {}) {
  const d = delivery(event, payloadFor(event, action, p, extra));
  const res = await app.deliver(d);
  expect(res.status).toBe(200);
  return d;
}

/** Merges the PR into main as GitHub would: a new commit on main with the PR's files. */
function merge(p: FakePull, files: Record<string, string>): string {
  const sha = app.world.git.commit(REPO, { branch: "main", files, author: "web-flow", message: `Merge pull request #${p.number}` });
  app.world.pulls.markMerged(p, sha);
  return sha;
}

describe("a request pull request, from opening to merge", () => {
  const text = fixture("requests/restart-checkout.yaml");
  let p: FakePull;
  let mergeSha: string;

  it("opened: plan succeeds, policy asks for approval, and the verdict is audited", async () => {
    p = app.world.pulls.open(REPO, { author: alice, files: { [REQUEST_PATH]: text } });
    await send("pull_request", "opened", p);
    expect(lastCheck(p.headSha, "clutch-luigi/plan")).toMatchObject({ status: "completed", conclusion: "success" });
    expect(lastCheck(p.headSha, "clutch-luigi/policy")).toMatchObject({ status: "completed", conclusion: "action_required" });
    // Probot authenticated as the installation: every API call but the token exchange carried the token.
    expect(app.tokenRequests.length).toBeGreaterThan(0);
    expect(app.tokenRequests.every((t) => t.authorization?.startsWith("bearer ") || t.authorization?.startsWith("Bearer "))).toBe(true);
    const apiCalls = app.world.fake.calls.filter((c) => c.operationId !== "apps/create-installation-access-token");
    expect(apiCalls.every((c) => c.authorization === `token ${INSTALLATION_TOKEN}`)).toBe(true);
    const [row] = await auditRows("request.evaluated");
    expect(row).toMatchObject({
      actor: "alice",
      data: { repository: REPO, pullRequest: p.number, headSha: p.headSha, approved: false, approvedBy: [], request: { path: REQUEST_PATH, workflow: "restart-service", valid: true } },
    });
  });

  it("review submitted: the policy check turns green with the approver named", async () => {
    app.world.pulls.review(p, "sam", "APPROVED");
    await send("pull_request_review", "submitted", p, { sender: "sam" });
    expect(lastCheck(p.headSha, "clutch-luigi/policy")).toMatchObject({ conclusion: "success" });
    const rows = await auditRows("request.evaluated");
    expect(rows.at(-1)).toMatchObject({ actor: "sam", data: { approved: true, approvedBy: ["sam"], headSha: p.headSha } });
  });

  it("merged: one run on the merge commit, with the approvals as its identity", async () => {
    mergeSha = merge(p, { [REQUEST_PATH]: text });
    const d = await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" });
    const runs = await runRows();
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.idempotency_key).toBe(`${REPO}#${p.number}@${mergeSha}`);
    const samReview = p.reviews.find((r) => r.user.login === "sam")!;
    expect(run.identity).toMatchObject({
      repository: REPO,
      pullRequest: p.number,
      commit: mergeSha,
      requester: { login: "alice", type: "User" },
      approvers: [{ login: "sam", reviewId: samReview.id }],
      breakGlass: false,
    });
    const check = checksOn(mergeSha, "clutch-luigi/run");
    expect(check).toHaveLength(1);
    expect(check[0]).toMatchObject({ status: "in_progress", conclusion: null });
    expect(check[0]!.output.title).toBe("Running: 0 of 3 steps done");
    expect(check[0]!.output.summary).toContain(`Run \`${run.id}\``);
    const created = await auditRows("run.created");
    expect(created.map((r) => r.run_id)).toEqual([run.id]);

    // The same delivery again (a replay): acknowledged, nothing handled. The run's steps
    // go on calling GitHub meanwhile; handling a merge would start by reading the pull
    // request (as the next delivery does) and would count as an attempt.
    const calls = app.world.fake.calls.length;
    const before = await deliveryState(app.server.store.db, d.id);
    expect((await app.deliver(d)).status).toBe(200);
    expect(app.world.fake.calls.slice(calls).filter((c) => HANDLING.has(c.operationId)).map((c) => c.operationId)).toEqual([]);
    expect(await deliveryState(app.server.store.db, d.id)).toEqual(before);
    // A new delivery with the same content is handled (it reads the pull request), but the run already exists.
    const handled = app.world.fake.calls.length;
    await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" });
    expect(app.world.fake.calls.slice(handled).map((c) => c.operationId)).toContain("pulls/get");
    expect(await runRows()).toHaveLength(1);
    expect(checksOn(mergeSha, "clutch-luigi/run")).toHaveLength(1);
    expect(await auditRows("run.created")).toHaveLength(1);
    expect((await verifyAuditChain(app.server.store.db)).ok).toBe(true);
  });
});

describe("delivery failures", () => {
  it("a delivery whose processing GitHub refused is answered 200 at once, retried, and handled in full once", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { "requests/2026/redelivered.yaml": fixture("requests/restart-checkout.yaml") } });
    app.world.fake.fail("POST /repos/{owner}/{repo}/check-runs", 422);
    const d = delivery("pull_request", payloadFor("pull_request", "opened", p));
    const evaluated = (await auditRows("request.evaluated")).length;
    expect((await app.deliver(d)).status).toBe(200);
    expect(checksOn(p.headSha).map((c) => c.name).sort()).toEqual(["clutch-luigi/plan", "clutch-luigi/policy"]);
    expect(await auditRows("request.evaluated")).toHaveLength(evaluated + 1);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done", attempts: 2 });
    // GitHub's "Redeliver" sends the same delivery id: once handled, it is not handled again.
    expect((await app.deliver(d)).status).toBe(200);
    expect(checksOn(p.headSha)).toHaveLength(2);
    expect(await auditRows("request.evaluated")).toHaveLength(evaluated + 1);
  });
});

describe("refusals", () => {
  it("a merge without approval starts nothing: the run check fails and run.refused is audited", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { "requests/2026/restart-search.yaml": fixture("requests/restart-checkout.yaml").replace("checkout }", "search }") } });
    const mergeSha = merge(p, { "requests/2026/restart-search.yaml": fixture("requests/restart-checkout.yaml").replace("checkout }", "search }") });
    const before = (await runRows()).length;
    await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "alice" });
    expect(await runRows()).toHaveLength(before);
    expect(checksOn(mergeSha, "clutch-luigi/run")).toEqual([expect.objectContaining({ status: "completed", conclusion: "failure" })]);
    expect(lastCheck(mergeSha, "clutch-luigi/run")!.output.summary).toMatch(/not approved at the merged state/);
    const refused = (await auditRows("run.refused")).at(-1);
    expect(refused).toMatchObject({ actor: "alice", data: { pullRequest: p.number, commit: mergeSha, requestPath: "requests/2026/restart-search.yaml" } });
  });

  it("a merge whose request at the merge commit is not the approved file is refused", async () => {
    const text = fixture("requests/restart-checkout.yaml");
    const p = app.world.pulls.open(REPO, { author: alice, files: { "requests/2026/restart-again.yaml": text } });
    app.world.pulls.review(p, "sam", "APPROVED");
    const mergeSha = merge(p, { "requests/2026/restart-again.yaml": text.replace("checkout }", "search }") });
    const before = (await runRows()).length;
    await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" });
    expect(await runRows()).toHaveLength(before);
    expect(lastCheck(mergeSha, "clutch-luigi/run")).toMatchObject({ conclusion: "failure" });
    expect(lastCheck(mergeSha, "clutch-luigi/run")!.output.summary).toMatch(/is not the file that was approved/);
  });

  it("a request merged together with a change to its workflow never runs, even with every owner's approval", async () => {
    const text = fixture("requests/restart-checkout.yaml");
    const workflow = fixture("ops-repo/workflows/restart-service.yaml").replace("uses: noop", "uses: log\n    with: { message: changed }");
    const files = { "requests/2026/with-workflow.yaml": text, "workflows/restart-service.yaml": workflow };
    const p = app.world.pulls.open(REPO, { author: alice, files });
    app.world.pulls.review(p, "sam", "APPROVED");
    app.world.pulls.review(p, "paula", "APPROVED");
    const mergeSha = merge(p, files);
    const before = (await runRows()).length;
    await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "paula" });
    expect(await runRows()).toHaveLength(before);
    // The policy blocks it, and the merge handler refuses it on its own account: once merged,
    // the PR's workflow is the base branch's, so the run would be judged by rules its PR wrote.
    expect(lastCheck(p.headSha, "clutch-luigi/policy")!.output.title).toMatch(/control-plane-with-requests/);
    expect(lastCheck(mergeSha, "clutch-luigi/run")).toMatchObject({ conclusion: "failure" });
    expect(lastCheck(mergeSha, "clutch-luigi/run")!.output.summary).toMatch(/also changes the control plane \(workflows\/restart-service\.yaml\)/);
  });

  it("a forged signature is refused and changes nothing", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { "requests/2026/forged.yaml": fixture("requests/restart-checkout.yaml") } });
    const mergeSha = merge(p, { "requests/2026/forged.yaml": fixture("requests/restart-checkout.yaml") });
    const d = delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha }));
    // The earlier merge's run is still going; its steps' calls and audit rows are its own.
    const running = new Set((await runRows()).map((r) => r.id));
    const notRunning = async () => (await listAuditEvents(app.server.store.db)).filter((r) => !r.run_id || !running.has(r.run_id)).length;
    const audit = await notRunning();
    const calls = app.world.fake.calls.length;
    const deliveries = rowsOf(await app.server.store.db.raw("select id from webhook_deliveries"));
    for (const signature of [sign("not-the-secret", d.body), "sha256=" + "0".repeat(64), ""]) {
      const res = await post(app.webhookUrl, WEBHOOK_SECRET, d, signature);
      expect([400, 401]).toContain(res.status);
    }
    expect(app.world.fake.calls.slice(calls).filter((c) => HANDLING.has(c.operationId)).map((c) => c.operationId)).toEqual([]);
    expect(await runRows()).toHaveLength(running.size);
    expect(await notRunning()).toBe(audit);
    expect(rowsOf(await app.server.store.db.raw("select id from webhook_deliveries"))).toEqual(deliveries);
    expect(checksOn(mergeSha)).toEqual([]);
  });
});
