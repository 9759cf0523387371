import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { evaluatePullRequest } from "../../../src/github/evaluate.js";
import { authorityDrift } from "../../../src/github/handlers/merge-handler.js";
import { approvalEvidence, approvalVia } from "../../../src/github/run-evidence.js";
import type { AuthorityBlobs } from "../../../src/github/facts.js";
import { gathered, HEAD, read } from "./gathered.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const base: AuthorityBlobs = {
  baseSha: "0".repeat(40),
  workflow: [{ path: "workflows/restart-service.yaml", sha: A }],
  policy: { path: ".github/clutch-luigi.yml", sha: A },
  codeowners: { path: ".github/CODEOWNERS", sha: A },
};

describe("authorityDrift", () => {
  it("finds nothing when every authority blob is the one approved", () => {
    expect(authorityDrift(base, structuredClone(base))).toEqual([]);
  });

  it("names the workflow path and both blob SHAs when the workflow changed", () => {
    const drift = authorityDrift(base, { ...base, workflow: [{ path: "workflows/restart-service.yaml", sha: B }] });
    expect(drift).toEqual([`workflow workflows/restart-service.yaml changed between the approval and the merge: approved under blob ${A} (base ${base.baseSha}), the merge commit has blob ${B}`]);
  });

  it("reports a workflow file added or removed, and policy and CODEOWNERS changes, each on its own", () => {
    const drift = authorityDrift(base, {
      ...base,
      workflow: [...base.workflow, { path: "workflows/restart-service.yml", sha: B }],
      policy: null,
      codeowners: { path: "CODEOWNERS", sha: A },
    });
    expect(drift).toHaveLength(3);
    expect(drift[0]).toMatch(/^workflow workflows\/restart-service\.yml changed .*approved under blob none \(file absent\).*merge commit has blob b{40}$/);
    expect(drift[1]).toMatch(/^policy \.github\/clutch-luigi\.yml changed .*merge commit has blob none \(file absent\)$/);
    // Moving CODEOWNERS elsewhere is a change even with the same content.
    expect(drift[2]).toMatch(/^CODEOWNERS CODEOWNERS changed/);
  });
});

describe("approvalVia", () => {
  const teams = { "acme/SRE": ["Sam"], "acme/dba": ["bob"] };
  it("names the team whose membership made the approval count, case-insensitively", () => {
    expect(approvalVia(["@acme/dba", "@acme/sre"], "sam", teams)).toBe("@acme/sre");
  });
  it("names the user entry for a direct owner, and null for a rule anyone may satisfy", () => {
    expect(approvalVia(["@acme/dba", "@sam"], "SAM", teams)).toBe("@sam");
    expect(approvalVia([], "sam", teams)).toBeNull();
  });
  it("is null when no entry covers the login (an email owner, an unread team)", () => {
    expect(approvalVia(["ops@example.com", "@acme/unknown"], "sam", teams)).toBeNull();
  });
});

describe("approvalEvidence", () => {
  it("gives each approver the review, its commit and time, the user id, and the rules with the team that counted", () => {
    const g = gathered("requests/2026/restart.yaml", read("requests/restart-checkout.yaml"), { approvers: ["sam"] });
    const e = evaluatePullRequest(g, defaultRegistry());
    expect(approvalEvidence(e.verdict, g)).toEqual([
      { login: "sam", userId: 1000, reviewId: 80, commit: HEAD, submittedAt: "2026-11-28T10:00:00Z", rules: expect.arrayContaining([{ rule: "codeowners:5", via: "@acme/sre" }]) },
    ]);
  });
});
