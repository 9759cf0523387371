/**
 * gatherPullRequest → evaluatePullRequest → check runs, against the GitHub
 * fake over real HTTP with a real Octokit. Every request and response is
 * checked against GitHub's OpenAPI description (violations must stay empty).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { evaluatePullRequest, type Evaluation } from "../../../src/github/evaluate.js";
import { DEFAULT_LIMITS, gatherPullRequest } from "../../../src/github/facts.js";
import { renderPlanCheck, renderPolicyCheck } from "../../../src/github/render.js";
import { blobSha, type FakePull } from "../../support/github/pull-request-world.js";
import { fixture, REPO, startWorld, type World } from "./world.js";

let w: World;
const registry = defaultRegistry();
const alice = { login: "alice", type: "User" as const };

beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => w.close());
afterEach(() => {
  const violations = w.fake.violations.splice(0);
  w.fake.calls.length = 0;
  expect(violations).toEqual([]);
});

async function evaluate(p: FakePull): Promise<Evaluation> {
  const g = await gatherPullRequest(w.octokit, { owner: p.owner, repo: p.repo, pullNumber: p.number });
  return evaluatePullRequest(g, registry);
}

describe("an approved request", () => {
  it("gathers base-branch authority and PR-head request, and shows success on both checks", async () => {
    const text = fixture("requests/restart-checkout.yaml");
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/2026/restart-checkout.yaml": text }, body: "Restart please" });
    w.pulls.review(p, "sam", "APPROVED");
    const g = await gatherPullRequest(w.octokit, { owner: "acme", repo: "ops", pullNumber: p.number });

    expect(g.problems).toEqual([]);
    expect(g.headSha).toBe(p.headSha);
    expect(g.baseSha).toBe(w.git.repo("acme", "ops")!.branches.get("main"));
    expect(g.facts.files).toEqual([{ path: "requests/2026/restart-checkout.yaml", status: "added", sha: blobSha(Buffer.from(text)) }]);
    expect(g.facts.codeowners).toBe(fixture("ops-repo/.github/CODEOWNERS"));
    expect(g.facts.codeownersPath).toBe(".github/CODEOWNERS");
    expect(g.facts.orgConfig).toEqual({ minApprovals: 1, machineUsers: ["ops-agent"], vetoTeams: ["@acme/security"] });
    expect(g.facts.config).toMatchObject({ staleApprovals: "content", breakGlass: { label: "break-glass" } });
    // CODEOWNERS names platform, sre, dba; the org config names security (veto).
    expect(g.facts.teams).toEqual({
      "acme/dba": ["bob", "carol", "dan"],
      "acme/platform": ["paula"],
      "acme/security": ["sec"],
      "acme/sre": ["sam", "sara"],
    });
    expect(g.facts.requests).toEqual([{ path: "requests/2026/restart-checkout.yaml", workflow: "restart-service" }]);
    expect(g.facts.workflows).toEqual({ "restart-service": {} });
    expect(g.facts.permissions).toEqual({ sam: "write" });
    expect(g.facts.reviews).toEqual([expect.objectContaining({ user: { login: "sam", type: "User" }, state: "APPROVED", commitId: p.headSha })]);
    expect(g.facts.committers).toEqual([]);
    expect(g.workflowNames).toEqual(["restart-service", "rotate-db-credentials"]);
    expect(g.workflowFiles.map((f) => f.path)).toEqual(["workflows/restart-service.yaml"]);
    // The cost of one evaluation, call by call. Independent reads go out together (at most a
    // handful at once, far below GitHub's limit of 100 concurrent requests), so the order of
    // arrival is not fixed: compared as a multiset.
    expect(w.fake.calls.map((c) => c.operationId).sort()).toEqual([
      "pulls/get",
      "git/get-ref",
      "pulls/list-files",
      "pulls/list-reviews",
      "pulls/list-commits",
      "repos/get-content", // .github/CODEOWNERS
      "repos/get-content", // .github/clutch-luigi.yml
      "repos/get-content", // acme/.github's defaults
      "repos/get-content", // the request, at the head
      "repos/get-content", // workflows/ listing
      "repos/get-content", // workflows/restart-service.yaml
      "teams/list-members-in-org",
      "teams/list-members-in-org",
      "teams/list-members-in-org",
      "teams/list-members-in-org",
      "repos/get-collaborator-permission-level",
      "issues/list-events", // was the base changed after a review?
      "repos/compare-commits-with-basehead", // the head's change, kept for when the head is an approved older commit
      "git/get-tree", // the merge base's tree
      "git/get-tree", // the head's tree
      "pulls/get",
    ].sort());
    expect(w.fake.calls.filter((c) => c.template.includes("/contents/")).every((c) => c.params.repo === ".github" || c.query.ref === (c.params.path === "requests/2026/restart-checkout.yaml" ? p.headSha : g.baseSha))).toBe(true);

    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.approved).toBe(true);
    expect(e.verdict.approvedBy).toEqual(["sam"]);
    expect(e.request?.problems).toEqual([]);
    expect(e.request?.plan?.steps.map((s) => s.id)).toEqual(["announce", "restart", "done"]);
    expect(e.request?.plan?.steps[0]!.with).toEqual({ message: "restarting checkout" });

    // Round trip through the check-runs API, schema-checked by the fake.
    for (const payload of [renderPlanCheck(e), renderPolicyCheck(e)]) {
      await w.octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "ops", ...payload });
    }
    const runs = w.checks.runs.filter((r) => r.headSha === p.headSha);
    expect(runs.map((r) => [r.name, r.conclusion])).toEqual([
      ["clutch-luigi/plan", "success"],
      ["clutch-luigi/policy", "success"],
    ]);
    expect(runs[0]!.output.text).toContain("restart-service");
    expect(runs[0]!.output.summary).toContain("```mermaid");
  });
});

describe("missing CODEOWNERS approval", () => {
  it("names the owning CODEOWNERS line and the workflow's approvers until they approve", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/databases/rotate-orders.yaml": fixture("requests/rotate-orders.yaml") } });
    w.pulls.review(p, "sam", "APPROVED");
    let e = await evaluate(p);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.blocking).toEqual([]);
    expect(e.verdict.missing).toEqual([
      { rule: "codeowners:6", anyOf: ["@acme/dba"], count: 1, line: 6, paths: ["requests/databases/rotate-orders.yaml"] },
      { rule: "workflow:rotate-db-credentials", anyOf: ["@acme/dba"], count: 2, paths: ["requests/databases/rotate-orders.yaml"] },
    ]);
    const policy = renderPolicyCheck(e);
    expect(policy.conclusion).toBe("action_required");
    expect(policy.output.summary).toContain(".github/CODEOWNERS line 6 (`/requests/databases/ @acme/dba`)");
    // The plan itself is fine: approvals are the policy check's business.
    expect(renderPlanCheck(e).conclusion).toBe("success");

    w.pulls.review(p, "bob", "APPROVED");
    e = await evaluate(p);
    expect(e.verdict.missing).toEqual([expect.objectContaining({ rule: "workflow:rotate-db-credentials", count: 1 })]);
    w.pulls.review(p, "carol", "APPROVED");
    e = await evaluate(p);
    expect(e.verdict.approved).toBe(true);
    expect(renderPolicyCheck(e).conclusion).toBe("success");
  });

  it("does not count a reviewer with read access, nor one who pushed to the PR", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/restart.yaml": fixture("requests/restart-checkout.yaml") } });
    w.pulls.push(p, { "requests/restart.yaml": fixture("requests/restart-checkout.yaml").replace("checkout pods", "checkout pods (edited)") }, { login: "sara", type: "User" });
    w.pulls.review(p, "sara", "APPROVED");
    w.pulls.review(p, "rita", "APPROVED");
    const e = await evaluate(p);
    expect(e.verdict.approved).toBe(false);
    const ignored = Object.fromEntries(e.verdict.ignoredApprovals.map((i) => [i.login, i.reason]));
    expect(ignored.sara).toMatch(/committed to this pull request/);
    expect(ignored.rita).toMatch(/read access/);
  });
});

describe("change requests", () => {
  it("a member of the org's veto team blocks whatever else approves, until the review is dismissed", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/restart.yaml": fixture("requests/restart-checkout.yaml") } });
    w.pulls.review(p, "sam", "APPROVED");
    const veto = w.pulls.review(p, "sec", "CHANGES_REQUESTED");
    let e = await evaluate(p);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["veto"]);
    expect(e.verdict.blocking[0]!.message).toContain("sec (veto team) requested changes");
    veto.state = "DISMISSED";
    e = await evaluate(p);
    expect(e.verdict.approved).toBe(true);
  });
});

describe("authority from the base branch", () => {
  it("treats a workflow that exists only in the PR as unknown", async () => {
    const p = w.pulls.open(REPO, {
      author: alice,
      files: {
        "workflows/drop-everything.yaml": fixture("pr-workflow-drop-everything.yaml"),
        "requests/drop.yaml": fixture("requests/uses-new-workflow.yaml"),
      },
    });
    w.pulls.review(p, "paula", "APPROVED");
    w.pulls.review(p, "sam", "APPROVED");
    const e = await evaluate(p);
    expect(e.request?.plan).toBeUndefined();
    expect(e.request?.problems).toEqual([
      { file: "requests/drop.yaml", line: 3, col: 11, message: expect.stringMatching(/^unknown workflow "drop-everything" \(known: restart-service, rotate-db-credentials\)/) },
    ]);
    const codes = e.verdict.blocking.map((b) => b.code);
    expect(codes).toEqual(expect.arrayContaining(["request-invalid", "unknown-workflow", "control-plane-with-requests"]));
    const plan = renderPlanCheck(e);
    expect(plan.conclusion).toBe("failure");
    expect(plan.output.annotations).toEqual([expect.objectContaining({ path: "requests/drop.yaml", start_line: 3, annotation_level: "failure" })]);
    await w.octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "ops", ...plan });
    expect(renderPolicyCheck(e).conclusion).toBe("failure");
  });

  it("ignores CODEOWNERS and policy edits made in the PR itself", async () => {
    const p = w.pulls.open(REPO, {
      author: alice,
      files: {
        ".github/CODEOWNERS": "* @alice\n",
        ".github/clutch-luigi.yml": "minApprovals: 0\n",
        "requests/restart.yaml": fixture("requests/restart-checkout.yaml"),
      },
    });
    const g = await gatherPullRequest(w.octokit, { owner: "acme", repo: "ops", pullNumber: p.number });
    expect(g.facts.codeowners).toBe(fixture("ops-repo/.github/CODEOWNERS"));
    expect(g.facts.config).not.toHaveProperty("minApprovals");
    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.missing.map((m) => m.rule)).toContain("codeowners:2");
  });

  it("reads the base branch as it is now, not where the PR branched off", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/drop.yaml": fixture("requests/uses-new-workflow.yaml") } });
    expect((await evaluate(p)).request?.plan).toBeUndefined();
    // The platform team merges the workflow into main afterwards.
    const repo = w.git.repo("acme", "ops")!;
    const before = repo.branches.get("main")!;
    w.git.commit(REPO, { branch: "main", files: { "workflows/drop-everything.yaml": fixture("pr-workflow-drop-everything.yaml") } });
    try {
      const e = await evaluate(p);
      expect(e.request?.problems).toEqual([]);
      expect(e.request?.plan?.workflow).toBe("drop-everything");
      expect(e.baseSha).toBe(repo.branches.get("main"));
    } finally {
      repo.branches.set("main", before);
    }
  });
});

describe("stale approvals (staleApprovals: content)", () => {
  it("drops an approval when a later push changed the request", async () => {
    const text = fixture("requests/restart-checkout.yaml");
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/restart.yaml": text } });
    const approvedAt = p.headSha;
    w.pulls.review(p, "sam", "APPROVED");
    w.pulls.push(p, { "requests/restart.yaml": text.replace("service: checkout", "service: search") });
    const g = await gatherPullRequest(w.octokit, { owner: "acme", repo: "ops", pullNumber: p.number });
    // The reviewed change is the commit's diff against its merge base with main, read from the two trees.
    expect(g.facts.reviewedChanges).toEqual([{ commit: approvedAt, base: "main", paths: { "requests/restart.yaml": [null, blobSha(Buffer.from(text))] } }]);
    expect(g.facts.change).toEqual({ base: "main", paths: { "requests/restart.yaml": [null, blobSha(Buffer.from(text.replace("service: checkout", "service: search")))] } });
    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.ignoredApprovals).toEqual([expect.objectContaining({ login: "sam", reason: expect.stringContaining("requests/restart.yaml's change differs") })]);
    expect(e.request?.plan?.params).toEqual({ service: "search" });
  });

  it("keeps an approval when later pushes left every file as it was", async () => {
    const text = fixture("requests/restart-checkout.yaml");
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/restart.yaml": text } });
    w.pulls.review(p, "sam", "APPROVED");
    // An edit and its revert: two new commits, the same content.
    w.pulls.push(p, { "requests/restart.yaml": text.replace("checkout", "search") });
    w.pulls.push(p, { "requests/restart.yaml": text });
    const e = await evaluate(p);
    expect(e.verdict.approved).toBe(true);
    expect(e.verdict.explanation).toMatch(/Counted: sam approved [0-9a-f]{7}, not the head [0-9a-f]{7}; the change is identical, path by path/);
  });
});

describe("what an approval covers (staleApprovals: content)", () => {
  const ref = (p: FakePull) => ({ owner: "acme", repo: "ops", pullNumber: p.number });

  it("reads a retarget from the issue events, without the branch before, and drops a head approval given under it", async () => {
    const main = w.git.repo("acme", "ops")!.branches.get("main")!;
    w.git.commit(REPO, { branch: "hotfix", parent: main, files: { "docs/hotfix.md": "x\n" } });
    const p = w.pulls.open(REPO, { author: alice, baseRef: "hotfix", files: { "workflows/restart-service.yaml": fixture("ops-repo/workflows/restart-service.yaml").replace("announcing it", "saying so") } });
    w.pulls.review(p, "paula", "APPROVED");
    w.pulls.retarget(p, "main");
    const g = await gatherPullRequest(w.octokit, ref(p));
    expect(g.facts.baseChanges).toEqual([{ at: p.events[0]!.createdAt }]);
    // Only the head is approved: its own change is read (once per head, for when it is an older commit), no other.
    expect(g.facts.reviewedChanges).toEqual([]);
    expect(w.fake.calls.filter((c) => c.operationId === "repos/compare-commits-with-basehead")).toHaveLength(1);
    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.ignoredApprovals[0]!.reason).toMatch(/before the base branch was changed, and the base branch was changed at .* from which branch is not known/);
  });

  it("reads the change of the head and of each approved older commit against the base, sharing trees", async () => {
    const text = fixture("requests/restart-checkout.yaml");
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/a.yaml": text } });
    const first = p.headSha;
    w.pulls.review(p, "sam", "APPROVED");
    w.pulls.push(p, {});
    w.pulls.review(p, "sara", "APPROVED");
    const second = p.headSha;
    w.pulls.push(p, {});
    w.fake.calls.length = 0;
    const g = await gatherPullRequest(w.octokit, ref(p));
    const pair = { "requests/a.yaml": [null, blobSha(Buffer.from(text))] };
    expect(g.facts.change).toEqual({ base: "main", paths: pair });
    expect(g.facts.reviewedChanges).toEqual([
      { commit: first, base: "main", paths: pair },
      { commit: second, base: "main", paths: pair },
    ]);
    // One compare per commit; the shared merge base's tree is read once.
    const ops = w.fake.calls.map((c) => c.operationId);
    expect(ops.filter((o) => o === "repos/compare-commits-with-basehead")).toHaveLength(3);
    expect(ops.filter((o) => o === "git/get-tree")).toHaveLength(4);
    expect(evaluatePullRequest(g, registry).verdict.approvedBy).toEqual(["sam", "sara"]);
  });

  it("a force-push of main that moves the merge base back makes an older approval stale", async () => {
    const repo = w.git.repo("acme", "ops")!;
    const before = repo.branches.get("main")!;
    // main gains a file; the PR branches off after it; the reviewer sees only the PR's own edit.
    w.git.commit(REPO, { branch: "main", files: { "workflows/extra.yaml": "unreviewed\n" } });
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/c.yaml": fixture("requests/restart-checkout.yaml") } });
    w.pulls.review(p, "sam", "APPROVED");
    w.pulls.push(p, {});
    try {
      // Rewinding main puts workflows/extra.yaml into the PR's diff, and into the reviewed commit's diff as computed now.
      w.pulls.forcePush(REPO, "main", before, { login: "paula", type: "User" });
      const g = await gatherPullRequest(w.octokit, ref(p));
      expect(g.facts.change?.paths).toHaveProperty(["workflows/extra.yaml"]);
      expect(g.facts.baseChanges).toEqual([{ at: p.events[0]!.createdAt, kind: "force-push" }]);
      const e = evaluatePullRequest(g, registry);
      expect(e.verdict.approvedBy).toEqual([]);
      expect(e.verdict.ignoredApprovals[0]!.reason).toMatch(/the base branch was force-pushed at .*, after this review, so the merge base the reviewer saw is not known/);
    } finally {
      repo.branches.set("main", before);
    }
  });

  it("a PR with more events than can be read blocks (too-many-events)", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/b.yaml": fixture("requests/restart-checkout.yaml") } });
    for (let i = 0; i < 100; i++) w.pulls.retarget(p, "main");
    const g = await gatherPullRequest(w.octokit, ref(p), { ...DEFAULT_LIMITS, maxReviews: 100 });
    expect(g.problems).toContainEqual(expect.objectContaining({ code: "too-many-events" }));
  });
});

describe("control plane", () => {
  it("a PR that only changes workflows/ runs nothing and needs the platform team", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "workflows/restart-service.yaml": fixture("ops-repo/workflows/restart-service.yaml").replace("announcing it", "telling everyone") } });
    w.pulls.review(p, "sam", "APPROVED");
    let e = await evaluate(p);
    expect(e.request).toBeNull();
    expect(renderPlanCheck(e).conclusion).toBe("neutral");
    expect(e.verdict.missing).toEqual([expect.objectContaining({ rule: "codeowners:3", anyOf: ["@acme/platform"], paths: ["workflows/restart-service.yaml"] })]);
    w.pulls.review(p, "paula", "APPROVED");
    e = await evaluate(p);
    expect(e.verdict.approved).toBe(true);
  });

  it("a PR that changes workflows/ and adds a request is blocked", async () => {
    const p = w.pulls.open(REPO, {
      author: alice,
      files: { "workflows/restart-service.yaml": fixture("ops-repo/workflows/restart-service.yaml") + "# touched\n", "requests/restart.yaml": fixture("requests/restart-checkout.yaml") },
    });
    w.pulls.review(p, "paula", "APPROVED");
    w.pulls.review(p, "sam", "APPROVED");
    const e = await evaluate(p);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["control-plane-with-requests"]);
    expect(renderPolicyCheck(e).conclusion).toBe("failure");
  });
});

describe("who asks", () => {
  it("blocks a request opened by a bot", async () => {
    const p = w.pulls.open(REPO, { author: { login: "renovate[bot]", type: "Bot" }, files: { "requests/restart.yaml": fixture("requests/restart-checkout.yaml") } });
    w.pulls.review(p, "sam", "APPROVED");
    const e = await evaluate(p);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["bot-requester"]);
    expect(renderPolicyCheck(e).output.summary).toContain("renovate[bot] is a bot or machine user");
  });

  it("blocks a machine user named only in the organisation's defaults", async () => {
    const p = w.pulls.open(REPO, { author: { login: "ops-agent", type: "User" }, files: { "requests/restart.yaml": fixture("requests/restart-checkout.yaml") } });
    w.pulls.review(p, "sam", "APPROVED");
    const e = await evaluate(p);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["bot-requester"]);
  });
});

describe("break-glass", () => {
  it("without a reason the label blocks", async () => {
    const p = w.pulls.open(REPO, { author: alice, labels: ["break-glass"], body: "urgent", files: { "requests/restart.yaml": fixture("requests/restart-checkout.yaml") } });
    w.pulls.review(p, "sam", "APPROVED");
    const e = await evaluate(p);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["break-glass-reason"]);
    const check = renderPolicyCheck(e);
    expect(check.conclusion).toBe("failure");
    expect(check.output.summary).toContain("**BREAK-GLASS**");
    expect(check.output.summary).toContain("**none given**");
  });

  it("with a reason it lowers the workflow's approvals and is marked loudly", async () => {
    const p = w.pulls.open(REPO, {
      author: alice,
      labels: ["Break-Glass"],
      body: "Orders DB credentials leaked.\n\nBreak-glass: credentials leaked in INC-42\n",
      files: { "requests/databases/rotate-orders.yaml": fixture("requests/rotate-orders.yaml") },
    });
    w.pulls.review(p, "bob", "APPROVED");
    const e = await evaluate(p);
    expect(e.verdict.approved).toBe(true);
    expect(e.verdict.breakGlass).toEqual({ active: true, label: "break-glass", reason: "credentials leaked in INC-42" });
    const check = renderPolicyCheck(e);
    expect(check.conclusion).toBe("success");
    expect(check.output.title).toMatch(/^BREAK-GLASS: Approved by bob/);
    expect(check.output.summary).toContain("Reason: credentials leaked in INC-42");
    await w.octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "ops", ...check });
  });
});

describe("request files", () => {
  it("refuses an edit of an existing request in place", async () => {
    w.git.commit(REPO, { branch: "main", files: { "requests/2025/old.yaml": fixture("requests/restart-checkout.yaml") } });
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/2025/old.yaml": fixture("requests/restart-checkout.yaml").replace("checkout", "search") } });
    w.pulls.review(p, "sam", "APPROVED");
    const e = await evaluate(p);
    expect(e.request).toBeNull();
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["request-edited"]);
    const plan = renderPlanCheck(e);
    expect(plan.conclusion).toBe("failure");
    expect(plan.output.annotations).toEqual([expect.objectContaining({ path: "requests/2025/old.yaml", start_line: 1 })]);
    await w.octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "ops", ...plan });
  });

  it("refuses moving a request, and the move needs the owners of both paths", async () => {
    const text = fixture("requests/rotate-orders.yaml");
    w.git.commit(REPO, { branch: "main", files: { "requests/databases/2025-rotate.yaml": text } });
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/databases/2025-rotate.yaml": null, "requests/archive/2025-rotate.yaml": text } });
    w.pulls.review(p, "sam", "APPROVED");
    const g = await gatherPullRequest(w.octokit, { owner: "acme", repo: "ops", pullNumber: p.number });
    expect(g.facts.files).toEqual([{ path: "requests/archive/2025-rotate.yaml", status: "renamed", previousPath: "requests/databases/2025-rotate.yaml", sha: blobSha(Buffer.from(text)) }]);
    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["request-edited"]);
    // The old path is the DBAs'; SRE's approval alone does not cover it.
    expect(e.verdict.missing).toEqual([expect.objectContaining({ rule: "codeowners:6", anyOf: ["@acme/dba"], paths: ["requests/databases/2025-rotate.yaml"] })]);
  });

  it("refuses two requests in one PR", async () => {
    const p = w.pulls.open(REPO, {
      author: alice,
      files: { "requests/a.yaml": fixture("requests/restart-checkout.yaml"), "requests/b.yaml": fixture("requests/restart-checkout.yaml") },
    });
    const e = await evaluate(p);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["multiple-requests", "multiple-requests"]);
    expect(e.fileProblems.map((f) => f.file)).toEqual(["requests/a.yaml", "requests/b.yaml"]);
  });

  it("shows every problem of an invalid request at its line, and blocks the policy", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/bad.yaml": fixture("requests/bad-params.yaml") } });
    w.pulls.review(p, "sam", "APPROVED");
    const e = await evaluate(p);
    expect(e.request?.problems).toEqual([{ file: "requests/bad.yaml", line: 6, col: 12, message: 'params.service must be one of: "checkout", "search"' }]);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["request-invalid"]);
    expect(e.verdict.summary).toMatch(/^Not approved: blocked \(request-invalid\)$/);
    const plan = renderPlanCheck(e);
    expect(plan.output.summary).toContain("requests/bad.yaml:6:12: params.service must be one of");
    expect(plan.output.annotations).toEqual([
      expect.objectContaining({ path: "requests/bad.yaml", start_line: 6, end_line: 6, start_column: 12, end_column: 12, annotation_level: "failure" }),
    ]);
  });
});

describe("base branch other than the default", () => {
  it("blocks a request aimed at a branch whose CODEOWNERS anyone could have pushed", async () => {
    const main = w.git.repo("acme", "ops")!.branches.get("main")!;
    const evil = w.git.commit(REPO, { parent: main, files: { ".github/CODEOWNERS": "* @alice\n" } });
    w.git.repo("acme", "ops")!.branches.set("evil", evil);
    const p = w.pulls.open(REPO, { author: alice, baseRef: "evil", files: { "requests/r.yaml": fixture("requests/restart-checkout.yaml") } });
    w.pulls.review(p, "sam", "APPROVED");
    const e = await evaluate(p);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["request-off-default-branch"]);
    expect(e.request?.plan).toBeUndefined();
    expect(e.request?.problems).toEqual([{ file: "requests/r.yaml", line: 1, col: 1, message: expect.stringContaining("targets branch evil; requests are approved and run only against the default branch (main)") }]);
    expect(renderPlanCheck(e).conclusion).toBe("failure");
  });
});
