/**
 * The adapter's bounds and failure modes, against the fake over real HTTP:
 * pagination and GitHub's caps, CODEOWNERS location order and size, large
 * and broken files, unknown teams, vanished commits, a push mid-evaluation,
 * and GitHub failing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import type { GitHubClient } from "../../../src/github/client.js";
import { evaluatePullRequest } from "../../../src/github/evaluate.js";
import { DEFAULT_LIMITS, gatherPullRequest } from "../../../src/github/facts.js";
import { createCheckRun as publishCheckRun } from "../../../src/github/publish.js";
import { renderPlanCheck } from "../../../src/github/render.js";
import { fixture, REPO, startWorld, type World } from "./world.js";

let w: World;
const registry = defaultRegistry();
const alice = { login: "alice", type: "User" as const };
const request = () => fixture("requests/restart-checkout.yaml");

beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => w.close());
afterEach(() => {
  const violations = w.fake.violations.splice(0);
  w.fake.calls.length = 0;
  w.fake.faults.length = 0;
  expect(violations).toEqual([]);
});

const refOf = (p: { owner: string; repo: string; number: number }) => ({ owner: p.owner, repo: p.repo, pullNumber: p.number });
const manyFiles = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`docs/page-${String(i).padStart(4, "0")}.md`, `page ${i}\n`]));

describe("pagination and caps", () => {
  it("reads every file of a PR across pages", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { ...manyFiles(230), "requests/r.yaml": request() } });
    const g = await gatherPullRequest(w.octokit, refOf(p));
    expect(g.facts.files).toHaveLength(231);
    expect(g.problems).toEqual([]);
    expect(w.fake.calls.filter((c) => c.operationId === "pulls/list-files").map((c) => c.query.page)).toEqual(["1", "2", "3"]);
  });

  it("blocks a PR with more files than GitHub lists", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { ...manyFiles(120), "requests/r.yaml": request() } });
    // The cap is GitHub's 3000 in production; a lower one keeps the test small.
    const g = await gatherPullRequest(w.octokit, refOf(p), { ...DEFAULT_LIMITS, maxFiles: 100 });
    expect(g.facts.files).toHaveLength(100);
    expect(g.problems).toEqual([expect.objectContaining({ code: "too-many-files", message: expect.stringContaining("changes 121 files; GitHub lists at most 100") })]);
    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.approved).toBe(false);
  });

  it("blocks a PR with more commits than can be listed", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/r.yaml": request() } });
    for (let i = 0; i < 3; i++) w.pulls.push(p, { [`notes/${i}.md`]: `${i}\n` });
    const g = await gatherPullRequest(w.octokit, refOf(p), { ...DEFAULT_LIMITS, maxCommits: 2 });
    expect(g.problems.map((x) => x.code)).toEqual(["too-many-commits"]);
  });
});

describe("CODEOWNERS", () => {
  it("follows GitHub's location order: .github/, then the root, then docs/", async () => {
    w.git.createRepo("acme/lab");
    w.git.commit("acme/lab", { branch: "main", files: { "CODEOWNERS": "* @acme/sre\n", "docs/CODEOWNERS": "* @acme/dba\n", "workflows/restart-service.yaml": fixture("ops-repo/workflows/restart-service.yaml") } });
    const p = w.pulls.open("acme/lab", { author: alice, files: { "requests/r.yaml": request() } });
    const g = await gatherPullRequest(w.octokit, refOf(p));
    expect(g.facts.codeownersPath).toBe("CODEOWNERS");
    expect(g.facts.codeowners).toBe("* @acme/sre\n");
    expect(Object.keys(g.facts.teams)).toEqual(["acme/security", "acme/sre"]);
    // No repository policy file: only the org's defaults apply.
    expect(g.facts.config).toBeUndefined();
    expect(g.facts.orgConfig).toMatchObject({ minApprovals: 1 });
  });

  it("reads a CODEOWNERS over 1 MB as a blob, and refuses one of 3 MB", async () => {
    w.git.createRepo("acme/big");
    const line = "/docs/ @acme/sre\n";
    const big = line.repeat(Math.ceil((1.5 * 1024 * 1024) / line.length));
    w.git.commit("acme/big", { branch: "main", files: { ".github/CODEOWNERS": big } });
    const p = w.pulls.open("acme/big", { author: alice, files: { "docs/a.md": "a\n" } });
    const g = await gatherPullRequest(w.octokit, refOf(p));
    expect(g.facts.codeowners).toBe(big);
    expect(w.fake.calls.some((c) => c.operationId === "git/get-blob")).toBe(true);

    w.git.commit("acme/big", { branch: "main", files: { ".github/CODEOWNERS": line.repeat(Math.ceil((3 * 1024 * 1024) / line.length)) } });
    const g2 = await gatherPullRequest(w.octokit, refOf(p));
    expect(g2.facts.codeowners).toBeNull();
    expect(g2.problems.map((x) => x.code)).toEqual(["codeowners-too-large"]);
    expect(evaluatePullRequest(g2, registry).verdict.approved).toBe(false);
  });

  it("leaves a team GitHub does not know out of the teams, so nobody approves for it", async () => {
    w.git.createRepo("acme/ghost");
    w.git.commit("acme/ghost", { branch: "main", files: { ".github/CODEOWNERS": "* @acme/nonexistent\n" } });
    const p = w.pulls.open("acme/ghost", { author: alice, files: { "docs/a.md": "a\n" } });
    w.pulls.setPermission("acme/ghost", "sam", "write");
    w.pulls.review(p, "sam", "APPROVED");
    const e = evaluatePullRequest(await gatherPullRequest(w.octokit, refOf(p)), registry);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.warnings).toContain("team @acme/nonexistent has no known members (not in facts.teams), so nobody can approve for it");
  });
});

describe("files that cannot be used", () => {
  it("blocks on a policy file that is not valid YAML, pointing at the line", async () => {
    w.git.createRepo("acme/broken");
    w.git.commit("acme/broken", { branch: "main", files: { ".github/clutch-luigi.yml": "minApprovals: 1\nminApprovals: 2\n" } });
    const p = w.pulls.open("acme/broken", { author: alice, files: { "docs/a.md": "a\n" } });
    const g = await gatherPullRequest(w.octokit, refOf(p));
    expect(g.problems).toEqual([{ code: "config-unreadable", message: ".github/clutch-luigi.yml:2:1: duplicate key: each key may appear once in a mapping" }]);
    expect(evaluatePullRequest(g, registry).verdict.blocking.map((b) => b.code)).toEqual(["config-unreadable"]);
  });

  it("refuses a request over 1 MiB without reading it", async () => {
    const huge = request() + `# ${"x".repeat(1024 * 1024)}\n`;
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/huge.yaml": huge } });
    const g = await gatherPullRequest(w.octokit, refOf(p));
    expect(g.request).toEqual({ path: "requests/huge.yaml", text: null, workflow: null });
    expect(g.problems).toEqual([expect.objectContaining({ code: "request-unreadable", file: "requests/huge.yaml", message: expect.stringContaining("the limit is 1048576 bytes") })]);
    expect(w.fake.calls.some((c) => c.operationId === "git/get-blob")).toBe(false);
    const e = evaluatePullRequest(g, registry);
    const plan = renderPlanCheck(e);
    expect(plan.conclusion).toBe("failure");
    expect(plan.output.annotations?.[0]).toMatchObject({ path: "requests/huge.yaml", start_line: 1 });
  });
});

describe("history and races", () => {
  it("counts an approval of a commit GitHub no longer has as stale", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/r.yaml": request() } });
    w.pulls.review(p, "sam", "APPROVED", "f".repeat(40));
    const g = await gatherPullRequest(w.octokit, refOf(p));
    expect(g.facts.reviewedChanges).toEqual([]);
    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.approvedBy).toEqual([]);
    expect(e.verdict.ignoredApprovals).toEqual([expect.objectContaining({ login: "sam", reason: expect.stringContaining("approved fffffff, not the head") })]);
  });

  it("reports a push that lands while the facts are read", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/r.yaml": request() } });
    w.pulls.review(p, "sam", "APPROVED");
    let pushed = false;
    // The client interface lets a test step in between two calls.
    const racing: GitHubClient = {
      async request(route, params) {
        if (!pushed && route.startsWith("GET /repos/{owner}/{repo}/collaborators/")) {
          pushed = true;
          w.pulls.push(p, { "requests/r.yaml": request().replace("checkout", "search") });
        }
        return w.octokit.request(route, params);
      },
    };
    const g = await gatherPullRequest(racing, refOf(p));
    expect(pushed).toBe(true);
    expect(g.problems.map((x) => x.code)).toEqual(["head-moved"]);
    expect(evaluatePullRequest(g, registry).verdict.approved).toBe(false);
  });

  it("throws when GitHub fails, rather than deciding on partial facts", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/r.yaml": request() } });
    w.fake.fail("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", 502);
    await expect(gatherPullRequest(w.octokit, refOf(p))).rejects.toMatchObject({ status: 502 });
  });
});

describe("publishing check runs", () => {
  it("sends 120 problems, capped to 50 and a count of the rest, in two calls, all of which GitHub keeps", async () => {
    const params = Array.from({ length: 120 }, (_, i) => `  p${i}: ${i}`).join("\n");
    const text = `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: restart-service\nreason: "OPS-9 many"\nparams:\n  service: checkout\n${params}\n`;
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/many.yaml": text } });
    const e = evaluatePullRequest(await gatherPullRequest(w.octokit, refOf(p)), registry);
    w.fake.calls.length = 0;
    const id = await publishCheckRun(w.octokit, { owner: "acme", repo: "ops" }, renderPlanCheck(e, { detailsUrl: `https://github.com/acme/ops/pull/${p.number}` }));
    expect(w.fake.calls.map((c) => `${c.method} ${c.status}`)).toEqual(["POST 201", "PATCH 200"]);
    const run = w.checks.runs.find((r) => r.id === id)!;
    expect(run).toMatchObject({ name: "clutch-luigi/plan", headSha: p.headSha, conclusion: "failure" });
    expect(run.annotations).toHaveLength(51);
    expect(run.annotations.map((a) => a.message)).toContain("… and 70 more problems in this file");
    expect(run.annotations.map((a) => a.start_line)).toEqual(e.request!.problems.map((x) => x.line));
  });
});
