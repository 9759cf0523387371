/**
 * The merge path against hostile and unlucky merge events, end to end over
 * signed webhooks: a run starts only for a merge the API confirms, at the
 * merge commit the API names, reachable from the default branch, under the
 * same workflow, policy and CODEOWNERS blobs the reviewers approved under, and
 * at most once per request however many merge events arrive.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { executeShow, parseShow } from "../../src/cli/commands/audit/show.js";
import type { RunDocument } from "../../src/audit/story.js";
import { listAuditEvents, verifyAuditChain } from "../../src/store/audit.js";
import { rowsOf } from "../../src/store/db.js";
import { deliveryState } from "../../src/store/deliveries.js";
import type { FakeCheckRun, FakePull } from "../support/github/pull-request-world.js";
import { blobSha } from "../support/github/pull-request-world.js";
import { fixture, REPO } from "../integration/github/world.js";
import { testIO } from "../integration/audit/support.js";
import { startApp, type E2eApp } from "./app.js";
import { delivery, payloadFor } from "./webhook-client.js";

let app: E2eApp;
const alice = { login: "alice", type: "User" as const };
const REQUEST = fixture("requests/restart-checkout.yaml");

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => app?.close());
afterEach(() => {
  expect(app.world.fake.violations.splice(0)).toEqual([]);
});

const checksOn = (sha: string, name?: string): FakeCheckRun[] => app.world.checks.runs.filter((r) => r.headSha === sha && (!name || r.name === name));
const runChecksOf = (p: FakePull): FakeCheckRun[] => app.world.checks.runs.filter((r) => r.name === "clutch-luigi/run" && (r.headSha === p.merged?.sha || r.output.summary?.includes(`#${p.number}`)));
const auditRows = async (kind: string) => (await listAuditEvents(app.server.store.db, { limit: 100_000 })).filter((r) => r.kind === kind);
const runsOf = async (p: FakePull): Promise<{ id: string; request_key: string | null; idempotency_key: string }[]> =>
  rowsOf(await app.server.store.db.raw("select id, request_key, idempotency_key from runs where identity->>'pullRequest' = ? order by created_at", [String(p.number)]));

async function send(event: "pull_request" | "pull_request_review", action: string, p: FakePull, extra: Parameters<typeof payloadFor>[3] = {}): Promise<number> {
  return (await app.deliver(delivery(event, payloadFor(event, action, p, extra)))).status;
}

/** A request PR, opened and approved by sam with both events delivered. */
async function approvedPull(file: string): Promise<FakePull> {
  const p = app.world.pulls.open(REPO, { author: alice, files: { [file]: REQUEST } });
  expect(await send("pull_request", "opened", p)).toBe(200);
  app.world.pulls.review(p, "sam", "APPROVED");
  expect(await send("pull_request_review", "submitted", p, { sender: "sam" })).toBe(200);
  expect(app.world.checks.runs.filter((r) => r.headSha === p.headSha && r.name === "clutch-luigi/policy").at(-1)).toMatchObject({ conclusion: "success" });
  return p;
}

/** GitHub merges the PR: a commit on main with the PR's files (and `extra`), and the API says merged. */
function mergeOnMain(p: FakePull, files: Record<string, string>): string {
  const sha = app.world.git.commit(REPO, { branch: "main", files, author: "web-flow", message: `Merge pull request #${p.number}` });
  app.world.pulls.markMerged(p, sha);
  return sha;
}

describe("the merge is read from the API, not the payload", () => {
  it("a signed merged:true for a PR that is still open starts nothing, posts no check, and is audited as merge.ignored", async () => {
    const p = await approvedPull("requests/2026/forged-open.yaml");
    const fakeSha = "d".repeat(40);
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: fakeSha, sender: "mallory" })).toBe(200);
    expect(await runsOf(p)).toEqual([]);
    expect(checksOn(fakeSha)).toEqual([]);
    expect(app.world.checks.runs.filter((r) => r.name === "clutch-luigi/run" && r.headSha === p.headSha)).toEqual([]);
    expect((await auditRows("merge.ignored")).at(-1)).toMatchObject({
      actor: "mallory",
      data: { repository: REPO, pullRequest: p.number, claimedMergeCommit: fakeSha, reason: expect.stringMatching(/not merged/) },
    });
    expect(await auditRows("run.refused")).toEqual([]);
  });

  it("the run is on the API's merge commit even when the payload names another, and later merge events with other SHAs start no second run and no second check", async () => {
    const p = await approvedPull("requests/2026/once.yaml");
    const real = mergeOnMain(p, { "requests/2026/once.yaml": REQUEST });
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: "a".repeat(40), sender: "sam" })).toBe(200);
    const runs = await runsOf(p);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ request_key: `${REPO}#${p.number}:requests/2026/once.yaml`, idempotency_key: `${REPO}#${p.number}@${real}` });
    expect(checksOn(real, "clutch-luigi/run")).toHaveLength(1);
    expect(checksOn("a".repeat(40))).toEqual([]);
    const calls = app.world.fake.calls.filter((c) => c.template === "/repos/{owner}/{repo}/check-runs" && c.method === "POST").length;
    // A forged second merge naming another commit, a replay naming the real one, and one naming none.
    for (const sha of ["b".repeat(40), real, undefined]) {
      expect(await send("pull_request", "closed", p, { merged: true, ...(sha ? { mergeCommitSha: sha } : {}), sender: "sam" })).toBe(200);
    }
    expect(await runsOf(p)).toHaveLength(1);
    expect(checksOn(real, "clutch-luigi/run")).toHaveLength(1);
    expect(app.world.fake.calls.filter((c) => c.template === "/repos/{owner}/{repo}/check-runs" && c.method === "POST").length).toBe(calls);
    expect((await auditRows("run.created")).filter((r) => r.data.pullRequest === p.number)).toHaveLength(1);
    expect((await verifyAuditChain(app.server.store.db)).ok).toBe(true);
  });

  it("a merge commit not reachable from the default branch head is refused", async () => {
    const p = await approvedPull("requests/2026/unreachable.yaml");
    const side = app.world.git.commit(REPO, { parent: p.headSha, files: {}, author: "web-flow", message: "merged elsewhere" });
    app.world.pulls.markMerged(p, side);
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: side, sender: "sam" })).toBe(200);
    expect(await runsOf(p)).toEqual([]);
    expect(checksOn(side, "clutch-luigi/run").at(-1)).toMatchObject({ conclusion: "failure" });
    expect(checksOn(side, "clutch-luigi/run").at(-1)!.output.summary).toMatch(new RegExp(`merge commit ${side} is not reachable from the head of the default branch main \\(${p.mergeBase}: ahead\\)`));
    expect((await auditRows("run.refused")).at(-1)).toMatchObject({ data: { pullRequest: p.number, commit: side } });
    // The same merge event again: the same refusal, so no second row and no duplicate failed check.
    const rows = (await auditRows("run.refused")).length;
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: side, sender: "sam" })).toBe(200);
    expect(checksOn(side, "clutch-luigi/run")).toHaveLength(1);
    expect(await auditRows("run.refused")).toHaveLength(rows);
  });

  it("a merged PR without a request, into another branch, starts nothing and gets no run check", async () => {
    app.world.git.commit(REPO, { branch: "release", parent: app.world.git.repo("acme", "ops")!.branches.get("main")!, files: {}, message: "release branch" });
    const p = app.world.pulls.open(REPO, { author: alice, baseRef: "release", files: { "docs/notes.md": "notes\n" } });
    const sha = app.world.git.commit(REPO, { branch: "release", files: { "docs/notes.md": "notes\n" }, author: "web-flow" });
    app.world.pulls.markMerged(p, sha);
    const refused = (await auditRows("run.refused")).length;
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: sha, sender: "sam" })).toBe(200);
    expect(checksOn(sha, "clutch-luigi/run")).toEqual([]);
    expect(await auditRows("run.refused")).toHaveLength(refused);
    expect(await runsOf(p)).toEqual([]);
  });

  it("a GitHub failure while checking the merge is no refusal: the attempt fails, and the queue's retry starts the run", async () => {
    const p = await approvedPull("requests/2026/transient.yaml");
    const sha = mergeOnMain(p, { "requests/2026/transient.yaml": REQUEST });
    const d = delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: sha, sender: "sam" }));
    app.world.fake.fail("GET /repos/{owner}/{repo}/compare/{basehead}", 403);
    const refused = (await auditRows("run.refused")).length;
    expect((await app.deliver(d)).status).toBe(200);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done", attempts: 2 });
    // The failed attempt refused nothing: one run, one run check, no run.refused.
    expect(await auditRows("run.refused")).toHaveLength(refused);
    expect(await runsOf(p)).toHaveLength(1);
    expect(checksOn(sha, "clutch-luigi/run")).toEqual([expect.objectContaining({ status: "in_progress" })]);
  });
});

describe("the run uses the authority the reviewers approved", () => {
  it("a merge with no evaluation recorded before it is refused: what the approvals were given under is unknown", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { "requests/2026/unseen.yaml": REQUEST } });
    app.world.pulls.review(p, "sam", "APPROVED");
    const sha = mergeOnMain(p, { "requests/2026/unseen.yaml": REQUEST });
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: sha, sender: "sam" })).toBe(200);
    expect(await runsOf(p)).toEqual([]);
    expect(checksOn(sha, "clutch-luigi/run").at(-1)!.output.summary).toMatch(new RegExp(`no evaluation of the pull request head ${p.headSha} was recorded before the merge`));
  });

  it("a merge commit that also carries a control-plane file is refused, naming it", async () => {
    const p = await approvedPull("requests/2026/smuggled.yaml");
    const sha = mergeOnMain(p, { "requests/2026/smuggled.yaml": REQUEST, "workflows/extra.yaml": fixture("ops-repo/workflows/restart-service.yaml").replace("name: restart-service", "name: extra") });
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: sha, sender: "sam" })).toBe(200);
    expect(await runsOf(p)).toEqual([]);
    expect(checksOn(sha, "clutch-luigi/run").at(-1)!.output.summary).toMatch(/the merge commit itself changes the control plane \(workflows\/extra\.yaml\)/);
  });

  it("the policy file changed on main between approval and merge: refused, naming the file and both blobs", async () => {
    const p = await approvedPull("requests/2026/policy-moved.yaml");
    const before = app.world.git.resolve(app.world.git.repo("acme", "ops")!, "main")!.tree.get(".github/clutch-luigi.yml")!;
    const policy = `${fixture("ops-repo/.github/clutch-luigi.yml")}\n# tightened after the approval\n`;
    app.world.git.commit(REPO, { branch: "main", files: { ".github/clutch-luigi.yml": policy }, message: "policy change" });
    const sha = mergeOnMain(p, { "requests/2026/policy-moved.yaml": REQUEST });
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: sha, sender: "sam" })).toBe(200);
    expect(await runsOf(p)).toEqual([]);
    const summary = checksOn(sha, "clutch-luigi/run").at(-1)!.output.summary;
    expect(summary).toContain(`policy .github/clutch-luigi.yml changed between the approval and the merge: approved under blob ${before}`);
    expect(summary).toContain(`the merge commit has blob ${blobSha(Buffer.from(policy))}`);
  });

  it("the workflow changed on main between approval and merge: refused with a reason naming the workflow path and both blob SHAs", async () => {
    const p = await approvedPull("requests/2026/workflow-moved.yaml");
    const before = app.world.git.resolve(app.world.git.repo("acme", "ops")!, "main")!.tree.get("workflows/restart-service.yaml")!;
    const workflow = `${fixture("ops-repo/workflows/restart-service.yaml")}\n# edited after the approval\n`;
    app.world.git.commit(REPO, { branch: "main", files: { "workflows/restart-service.yaml": workflow }, message: "workflow change" });
    const sha = mergeOnMain(p, { "requests/2026/workflow-moved.yaml": REQUEST });
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: sha, sender: "sam" })).toBe(200);
    expect(await runsOf(p)).toEqual([]);
    const check = checksOn(sha, "clutch-luigi/run").at(-1)!;
    expect(check).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(check.output.summary).toContain(
      `workflow workflows/restart-service.yaml changed between the approval and the merge: approved under blob ${before}`,
    );
    expect(check.output.summary).toContain(`the merge commit has blob ${blobSha(Buffer.from(workflow))}`);
    const refused = (await auditRows("run.refused")).at(-1)!;
    expect(refused.data.reasons).toEqual(expect.arrayContaining([expect.stringContaining(before)]));
    // Approved again under the new workflow, the next request runs.
    const q = await approvedPull("requests/2026/after-workflow-change.yaml");
    const next = mergeOnMain(q, { "requests/2026/after-workflow-change.yaml": REQUEST });
    expect(await send("pull_request", "closed", q, { merged: true, mergeCommitSha: next, sender: "sam" })).toBe(200);
    expect(await runsOf(q)).toHaveLength(1);
  });
});

describe("evidence of a run started through the webhook path", () => {
  it("audit show --json holds every evidence field", async () => {
    const p = await approvedPull("requests/2026/evidenced.yaml");
    const sha = mergeOnMain(p, { "requests/2026/evidenced.yaml": REQUEST });
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: sha, sender: "sam" })).toBe(200);
    const [run] = await runsOf(p);
    const io = testIO();
    expect(await executeShow(app.server.store, parseShow([run!.id, "--json"]), io)).toBe(0);
    const doc = JSON.parse(io.out()) as RunDocument;
    const tree = app.world.git.resolve(app.world.git.repo("acme", "ops")!, sha)!.tree;
    const review = p.reviews.find((r) => r.user.login === "sam")!;
    const evaluated = (await auditRows("request.evaluated")).filter((r) => r.data.pullRequest === p.number && r.data.headSha === p.headSha);
    expect(doc.evidence).toEqual({
      repository: REPO,
      pullRequest: p.number,
      headSha: p.headSha,
      mergeCommit: sha,
      request: { path: "requests/2026/evidenced.yaml", blobSha: tree.get("requests/2026/evidenced.yaml"), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      authority: {
        // main did not move between the PR's opening and its approval.
        baseSha: p.mergeBase,
        workflow: [{ path: "workflows/restart-service.yaml", sha: tree.get("workflows/restart-service.yaml") }],
        policy: { path: ".github/clutch-luigi.yml", sha: tree.get(".github/clutch-luigi.yml") },
        codeowners: { path: ".github/CODEOWNERS", sha: tree.get(".github/CODEOWNERS") },
      },
      evaluationSeq: evaluated.filter((r) => r.actor === "sam").at(0)!.seq,
      approvals: [
        {
          login: "sam",
          userId: expect.any(Number),
          reviewId: review.id,
          commit: p.headSha,
          submittedAt: review.submittedAt,
          rules: expect.arrayContaining([{ rule: expect.stringMatching(/^codeowners:/), via: "@acme/sre" }]),
        },
      ],
    });
    expect(doc.created!.data).toMatchObject({ requestPath: "requests/2026/evidenced.yaml", commit: sha, pullRequest: p.number, evidence: doc.evidence });
    expect(doc.events[0]!.kind).toBe("run.created");
    expect(doc.outcome).toHaveProperty("state");
    expect(doc.git.map((g) => g.command)).toContain(`git show ${sha}:requests/2026/evidenced.yaml | git hash-object --stdin`);
    expect(doc.git.find((g) => g.command.endsWith("| git hash-object --stdin") && g.command.startsWith("git show"))!.expect).toBe(tree.get("requests/2026/evidenced.yaml"));
  });
});
