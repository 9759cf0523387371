import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../../src/actions/index.js";
import { evaluatePullRequest } from "../../../../src/github/evaluate.js";
import { approversOf, controlPlaneChanges, runIdempotencyKey } from "../../../../src/github/handlers/merge-handler.js";
import { runRefusedCheck } from "../../../../src/github/handlers/run-check.js";
import { MAX_TITLE } from "../../../../src/github/render.js";
import { gathered, read } from "../gathered.js";

const registry = defaultRegistry();
const MERGE = "f".repeat(40);

describe("runIdempotencyKey", () => {
  it("names the repository, the PR and the merge commit", () => {
    expect(runIdempotencyKey({ owner: "acme", repo: "ops", pullNumber: 7, mergeCommitSha: MERGE })).toBe(`acme/ops#7@${MERGE}`);
  });
});

describe("approversOf", () => {
  it("gives each counted approver the review that approved", () => {
    const g = gathered("requests/2026/restart.yaml", read("requests/restart-checkout.yaml"), { approvers: ["sam"] });
    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.approvedBy).toEqual(["sam"]);
    expect(approversOf(e.verdict, g)).toEqual([{ login: "sam", reviewId: 80 }]);
  });

  it("prefers an approval on the evaluated head over a later one elsewhere", () => {
    const g = gathered("requests/2026/restart.yaml", read("requests/restart-checkout.yaml"), { approvers: ["sam"] });
    g.facts.reviews.push({ id: 99, user: { login: "sam", type: "User" }, state: "APPROVED", commitId: "0".repeat(40), submittedAt: "2026-11-28T11:00:00Z" });
    const e = evaluatePullRequest(g, registry);
    expect(approversOf({ ...e.verdict, approvedBy: ["sam"] }, g)).toEqual([{ login: "sam", reviewId: 80 }]);
  });
});

describe("the clutch-luigi/run check", () => {
  it("fails with the reasons when the merge starts nothing, with user text made inert and the title bounded", () => {
    const c = runRefusedCheck(MERGE, ["x".repeat(400), "requests/<b>.yaml is bad & wrong"]);
    expect(c).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(c.output.title.length).toBeLessThanOrEqual(MAX_TITLE);
    expect(c.output.summary).toContain("requests/&lt;b&gt;.yaml is bad &amp; wrong");
    expect(c.output.summary).not.toContain("<b>");
  });
});

describe("controlPlaneChanges", () => {
  it("names workflow, .github and CODEOWNERS changes, including renames out of them", () => {
    expect(
      controlPlaneChanges([
        { path: "requests/2026/a.yaml", status: "added", sha: "1" },
        { path: "workflows/restart-service.yaml", status: "modified", sha: "2" },
        { path: ".github/clutch-luigi.yml", status: "modified", sha: "3" },
        { path: "CODEOWNERS", status: "added", sha: "4" },
        { path: "attic/old.yaml", status: "renamed", previousPath: "workflows/old.yaml", sha: "5" },
        { path: "docs/readme.md", status: "modified", sha: "6" },
        { path: "requests/workflows/x.yaml", status: "added", sha: "7" },
      ]),
    ).toEqual(["workflows/restart-service.yaml", ".github/clutch-luigi.yml", "CODEOWNERS", "attic/old.yaml"]);
  });
});
