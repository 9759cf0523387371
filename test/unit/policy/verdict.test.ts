import { describe, expect, it } from "vitest";
import { evaluatePolicy, parseBreakGlassReason, type PolicyFacts, type Review, type Verdict } from "../../../src/policy/index.js";

const HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const OLD = "1111111111111111111111111111111111111111";

let nextId = 100;
function review(login: string, state: Review["state"], at: string, commitId = HEAD, type = "User"): Review {
  return { id: nextId++, user: { login, type }, state, commitId, submittedAt: at };
}

/** A PR adding one production request, owned by @acme/dba. */
function base(): PolicyFacts {
  return {
    repository: "acme/ops",
    author: { login: "alice", type: "User" },
    headSha: HEAD,
    files: [{ path: "requests/prod/rotate.yaml", status: "added", sha: "blob-v2" }],
    reviews: [],
    teams: { "acme/dba": ["bob", "carol"], "acme/platform": ["pat"], "acme/security": ["sec"] },
    codeowners: "* @acme/platform\nrequests/prod/ @acme/dba\n",
    codeownersPath: ".github/CODEOWNERS",
    config: {},
    workflows: { "rotate-db-credentials": { approval: { minApprovals: 1, from: ["@acme/dba"] } } },
    requests: [{ path: "requests/prod/rotate.yaml", workflow: "rotate-db-credentials" }],
    labels: [],
    now: "2026-11-25T12:00:00Z",
  };
}

function evaluate(change: (f: PolicyFacts) => void): Verdict {
  const f = base();
  change(f);
  return evaluatePolicy(f);
}

const codes = (v: Verdict): string[] => v.blocking.map((b) => b.code);

describe("reviews", () => {
  // Each row names the rule it checks (issue 3, "Reviews") and, where GitHub documents it, the page.
  const table: { name: string; source: string; change: (f: PolicyFacts) => void; approved: boolean; approvedBy?: string[]; blocking?: string[]; ignored?: RegExp }[] = [
    {
      name: "an approval by an owner at the head commit counts",
      source: "issue 3, Reviews: APPROVED counts at the PR head",
      change: (f) => f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z")),
      approved: true,
      approvedBy: ["bob"],
    },
    {
      name: "a user's latest review counts: approve then request changes blocks",
      source: "issue 3, Reviews: a user's latest review counts",
      change: (f) => f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"), review("bob", "CHANGES_REQUESTED", "2026-11-25T11:00:00Z")),
      approved: false,
      approvedBy: [],
      blocking: ["changes-requested"],
    },
    {
      name: "a user's latest review counts by submission time, not by list order",
      source: "issue 3, Reviews: latest by submission time",
      change: (f) => f.reviews.push(review("bob", "APPROVED", "2026-11-25T11:00:00Z"), review("bob", "CHANGES_REQUESTED", "2026-11-25T10:00:00Z")),
      approved: true,
      approvedBy: ["bob"],
    },
    {
      name: "equal submission times are ordered by review id",
      source: "issue 3, Reviews: ties by id",
      change: (f) => {
        const later = review("bob", "APPROVED", "2026-11-25T10:00:00Z");
        const earlier = { ...review("bob", "CHANGES_REQUESTED", "2026-11-25T10:00:00Z"), id: later.id - 50 };
        f.reviews.push(later, earlier);
      },
      approved: true,
    },
    {
      // GitHub Docs, "About pull request reviews": a comment review does not change approval state.
      name: "a COMMENTED review after an approval does not withdraw it",
      source: "GitHub Docs, About pull request reviews",
      change: (f) => f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"), review("bob", "COMMENTED", "2026-11-25T11:00:00Z")),
      approved: true,
    },
    {
      name: "COMMENTED never counts as an approval",
      source: "issue 3, Reviews: COMMENTED never counts",
      change: (f) => f.reviews.push(review("bob", "COMMENTED", "2026-11-25T10:00:00Z")),
      approved: false,
    },
    {
      name: "PENDING never counts",
      source: "issue 3, Reviews: PENDING never counts",
      change: (f) => f.reviews.push(review("bob", "PENDING", "2026-11-25T10:00:00Z")),
      approved: false,
    },
    {
      // GitHub Docs, "Dismissing a pull request review": a dismissed approval no longer counts.
      name: "a DISMISSED approval never counts",
      source: "issue 3, Reviews: DISMISSED never counts; GitHub Docs, Dismissing a pull request review",
      change: (f) => f.reviews.push(review("bob", "DISMISSED", "2026-11-25T10:00:00Z")),
      approved: false,
    },
    {
      name: "a dismissed change request no longer blocks",
      source: "issue 3, Reviews: CHANGES_REQUESTED blocks until dismissed",
      change: (f) => f.reviews.push(review("bob", "DISMISSED", "2026-11-25T10:00:00Z"), review("carol", "APPROVED", "2026-11-25T11:00:00Z")),
      approved: true,
      approvedBy: ["carol"],
    },
    {
      name: "changes requested by someone eligible block until they approve",
      source: "issue 3, Reviews: CHANGES_REQUESTED blocks until they approve",
      change: (f) =>
        f.reviews.push(
          review("bob", "CHANGES_REQUESTED", "2026-11-25T09:00:00Z"),
          review("carol", "APPROVED", "2026-11-25T10:00:00Z"),
          review("bob", "APPROVED", "2026-11-25T11:00:00Z"),
        ),
      approved: true,
      approvedBy: ["carol", "bob"],
    },
    {
      name: "changes requested on an older commit still block",
      source: "issue 3, Reviews: CHANGES_REQUESTED blocks until approve or dismissed",
      change: (f) => f.reviews.push(review("dave", "CHANGES_REQUESTED", "2026-11-25T09:00:00Z", OLD), review("carol", "APPROVED", "2026-11-25T10:00:00Z")),
      approved: false,
      blocking: ["changes-requested"],
    },
    {
      name: "the PR author never approves their own request",
      source: "issue 3, Reviews: the author never approves",
      change: (f) => {
        f.author = { login: "bob", type: "User" };
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
      },
      approved: false,
      ignored: /author/,
    },
    {
      // GitHub Docs, About code owners: a team member's own PR counts as implicitly approved by the team.
      // Deliberate difference: here the author's team must still approve through another member.
      name: "an author in the owning team gives no implicit approval",
      source: "GitHub Docs, About code owners (deliberate difference); issue 3",
      change: (f) => {
        f.author = { login: "bob", type: "User" };
      },
      approved: false,
    },
    {
      name: "author comparison ignores login case (GitHub logins are case-insensitive)",
      source: "issue 3, Reviews: the author never approves",
      change: (f) => {
        f.author = { login: "Bob", type: "User" };
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
      },
      approved: false,
      ignored: /author/,
    },
    {
      // GitHub Docs, "About protected branches": required reviews count only from users with write access.
      name: "an approval from a user with read access does not count",
      source: "GitHub Docs, About protected branches",
      change: (f) => {
        f.permissions = { bob: "read", carol: "write" };
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
      },
      approved: false,
      ignored: /bob has read access/,
    },
    {
      name: "with permissions given, a reviewer missing from them does not count",
      source: "docs/policy.md, permissions (fail closed)",
      change: (f) => {
        f.permissions = { carol: "write" };
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
      },
      approved: false,
      ignored: /access to the repository is unknown/,
    },
    {
      name: "write, maintain and admin access count (logins compared case-insensitively)",
      source: "GitHub Docs, About protected branches",
      change: (f) => {
        f.permissions = { BOB: "maintain" };
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
      },
      approved: true,
    },
    {
      name: "a change request from someone without write access does not block",
      source: "issue 3, Reviews: only from anyone eligible to approve",
      change: (f) => {
        f.permissions = { bob: "write", mallory: "read" };
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"), review("mallory", "CHANGES_REQUESTED", "2026-11-25T11:00:00Z"));
      },
      approved: true,
    },
    {
      name: "a reviewer who pushed commits to the PR cannot approve it",
      source: "docs/policy.md, committers",
      change: (f) => {
        f.committers = ["Bob"];
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
      },
      approved: false,
      ignored: /bob committed to this pull request/,
    },
    {
      name: "bot accounts never approve",
      source: "issue 3, Reviews: bot accounts never approve",
      change: (f) => {
        f.teams["acme/dba"]!.push("dba-bot[bot]");
        f.reviews.push(review("dba-bot[bot]", "APPROVED", "2026-11-25T10:00:00Z", HEAD, "Bot"));
      },
      approved: false,
      ignored: /bots/,
    },
    {
      name: "a bot's change request does not block: bots are never eligible to approve",
      source: "issue 3, Reviews: CHANGES_REQUESTED blocks only from anyone eligible to approve; bots never approve",
      change: (f) => {
        f.teams["acme/dba"]!.push("scanner[bot]");
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"), review("scanner[bot]", "CHANGES_REQUESTED", "2026-11-25T11:00:00Z", HEAD, "Bot"));
      },
      approved: true,
      approvedBy: ["bob"],
    },
    {
      name: "a change request stands through a later COMMENTED review by the same user",
      source: "issue 3, Reviews: COMMENTED never counts; GitHub Docs, About pull request reviews",
      change: (f) =>
        f.reviews.push(
          review("carol", "CHANGES_REQUESTED", "2026-11-25T09:00:00Z"),
          review("bob", "APPROVED", "2026-11-25T10:00:00Z"),
          review("carol", "COMMENTED", "2026-11-25T11:00:00Z"),
        ),
      approved: false,
      blocking: ["changes-requested"],
    },
    {
      name: "a PENDING review after a change request does not lift it",
      source: "issue 3, Reviews: PENDING never counts",
      change: (f) =>
        f.reviews.push(
          review("carol", "CHANGES_REQUESTED", "2026-11-25T09:00:00Z"),
          review("bob", "APPROVED", "2026-11-25T10:00:00Z"),
          review("carol", "PENDING", "2026-11-25T11:00:00Z"),
        ),
      approved: false,
      blocking: ["changes-requested"],
    },
    {
      name: "configured machine users never approve",
      source: "issue 3, Reviews: AI agents act as bot or machine users",
      change: (f) => {
        f.config = { machineUsers: ["agent-smith"] };
        f.teams["acme/dba"]!.push("agent-smith");
        f.reviews.push(review("agent-smith", "APPROVED", "2026-11-25T10:00:00Z"));
      },
      approved: false,
      ignored: /bots and machine users/,
    },
  ];
  for (const row of table) {
    it(`${row.name} [${row.source}]`, () => {
      const v = evaluate(row.change);
      expect(v.approved, v.explanation).toBe(row.approved);
      if (row.approvedBy) expect(v.approvedBy).toEqual(row.approvedBy);
      if (row.blocking) expect(codes(v)).toEqual(row.blocking);
      if (row.ignored) expect(v.ignoredApprovals.map((i) => i.reason).join(" ")).toMatch(row.ignored);
    });
  }
});

describe("stale approvals", () => {
  // The whole rule is table-tested in stale-approvals.test.ts; these pin how the verdict reports it.
  const olderApproval = (f: PolicyFacts): void => {
    f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z", OLD));
  };
  const sameChange = (f: PolicyFacts, reviewed: Record<string, [string | null, string | null]> = { "requests/prod/rotate.yaml": [null, "blob-v2"] }): void => {
    f.change = { base: "main", paths: { "requests/prod/rotate.yaml": [null, "blob-v2"] } };
    f.reviewedChanges = [{ commit: OLD, base: "main", paths: reviewed }];
  };
  it("default (content): an approval of the identical change is counted, and the explanation says why", () => {
    const v = evaluate((f) => {
      olderApproval(f);
      sameChange(f);
    });
    expect(v.approved, v.explanation).toBe(true);
    expect(v.explanation).toMatch(/Counted: bob approved 1111111, not the head 6dcb09b; the change is identical, path by path\./);
  });
  it("default (content): a different change is not counted, and the explanation names the path", () => {
    const v = evaluate((f) => {
      olderApproval(f);
      sameChange(f, { "requests/prod/rotate.yaml": [null, "blob-v1"] });
    });
    expect(v.approved).toBe(false);
    expect(v.explanation).toContain("Not counted: bob's approval: approved 1111111, not the head 6dcb09b, and the change differs from the one approved (against main): requests/prod/rotate.yaml's change differs");
  });
  it("dismiss: only approvals of the head commit count", () => {
    const v = evaluate((f) => {
      olderApproval(f);
      f.config = { staleApprovals: "dismiss" };
      sameChange(f);
    });
    expect(v.approved).toBe(false);
    expect(v.ignoredApprovals[0]!.reason).toMatch(/staleApprovals: dismiss/);
  });
  it("keep: approvals count whatever was pushed later", () => {
    const v = evaluate((f) => {
      olderApproval(f);
      f.config = { staleApprovals: "keep" };
    });
    expect(v.approved).toBe(true);
  });
});

describe("CODEOWNERS as the authorization", () => {
  // GitHub Docs, About code owners, "CODEOWNERS and branch protection": any one listed owner approves.
  const apps = (codeowners: string, approver: string, teams: Record<string, string[]> = {}) =>
    evaluate((f) => {
      f.codeowners = codeowners;
      f.files = [{ path: "apps/main.go", status: "modified", sha: "s" }];
      f.requests = [];
      f.teams = { ...f.teams, ...teams };
      f.reviews.push(review(approver, "APPROVED", "2026-11-25T10:00:00Z"));
    });
  it("GitHub Docs: /apps/ @doctocat needs @doctocat", () => {
    expect(apps("/apps/ @doctocat\n", "doctocat").approved).toBe(true);
    const v = apps("/apps/ @doctocat\n", "octocat");
    expect(v.approved).toBe(false);
    expect(v.missing).toEqual([{ rule: "codeowners:1", anyOf: ["@doctocat"], count: 1, line: 1, paths: ["apps/main.go"] }]);
  });
  it("GitHub Docs: /apps/ @doctocat @octocat accepts either", () => {
    expect(apps("/apps/ @doctocat @octocat\n", "octocat").approved).toBe(true);
    expect(apps("/apps/ @doctocat @octocat\n", "doctocat").approved).toBe(true);
  });
  it("GitHub Docs: /apps/ @example-org/content-team accepts a team member", () => {
    const teams = { "example-org/content-team": ["writer"] };
    expect(apps("/apps/ @example-org/content-team\n", "writer", teams).approved).toBe(true);
    expect(apps("/apps/ @example-org/content-team\n", "outsider", teams).approved).toBe(false);
  });
  it("every owned file needs its own owners; one approval covers only what its giver owns", () => {
    const v = evaluate((f) => {
      f.files.push({ path: "requests/staging/x.yaml", status: "added", sha: "s" });
      f.requests!.push({ path: "requests/staging/x.yaml", workflow: "rotate-db-credentials" });
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.approved).toBe(false);
    expect(v.missing).toEqual([{ rule: "codeowners:1", anyOf: ["@acme/platform"], count: 1, line: 1, paths: ["requests/staging/x.yaml"] }]);
    expect(v.explanation).toContain('.github/CODEOWNERS line 1 (`* @acme/platform`) owns requests/staging/x.yaml');
  });
  it("the explanation names the CODEOWNERS line behind each requirement, met or not", () => {
    const v = evaluate((f) => {
      f.codeowners = "# owners\n* @acme/platform\n/requests/prod/ @acme/dba\n/workflows/ @acme/platform\n";
      f.files.push({ path: "docs/readme.md", status: "modified", sha: "s" });
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.missing.filter((m) => m.rule.startsWith("codeowners:"))).toEqual([
      { rule: "codeowners:2", anyOf: ["@acme/platform"], count: 1, line: 2, paths: ["docs/readme.md"] },
    ]);
    const lines = v.explanation.split("\n");
    expect(lines).toContain("✗ .github/CODEOWNERS line 2 (`* @acme/platform`) owns docs/readme.md: needs 1 approval from @acme/platform; none yet, so 1 more approval needed.");
    expect(lines).toContain("✓ .github/CODEOWNERS line 3 (`/requests/prod/ @acme/dba`) owns requests/prod/rotate.yaml: 1 approval from @acme/dba; approved by bob.");
  });
  it("a rename needs the owners of the old path as well", () => {
    const v = evaluate((f) => {
      f.codeowners = "/requests/prod/ @acme/dba\n/requests/archive/ @acme/platform\n";
      f.files = [{ path: "requests/archive/rotate.yaml", previousPath: "requests/prod/rotate.yaml", status: "renamed", sha: "s" }];
      f.requests = [];
      f.reviews.push(review("pat", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.missing.map((m) => m.rule)).toEqual(["codeowners:1"]);
  });
  it("an unowned path needs only the default approvals", () => {
    const v = evaluate((f) => {
      f.codeowners = "/requests/prod/ @acme/dba\n/requests/prod/sandbox/\n";
      f.files = [{ path: "requests/prod/sandbox/a.yaml", status: "added", sha: "s" }];
      f.requests = [];
      f.reviews.push(review("zed", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.approved, v.explanation).toBe(true);
    expect(v.requirements.map((r) => r.rule)).toEqual(["minApprovals"]);
    // GitHub Docs, About code owners: "/apps/github" with its owners left empty. The explanation says why no owner applies.
    expect(v.explanation).toContain(
      "Note: .github/CODEOWNERS line 2 (`/requests/prod/sandbox/`) lists no owners, so requests/prod/sandbox/a.yaml has no code owner and only the other rules apply.",
    );
  });
  it("an invalid CODEOWNERS line blocks instead of being silently skipped", () => {
    const v = evaluate((f) => {
      f.codeowners = "* @acme/platform\nrequests/prod/ @acme/dba not-an-owner\n";
      f.reviews.push(review("pat", "APPROVED", "2026-11-25T10:00:00Z"), review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(codes(v)).toEqual(["codeowners-invalid"]);
    expect(v.blocking[0]!.message).toMatch(/line 2: invalid owner "not-an-owner"/);
  });
  it("a CODEOWNERS with thousands of bad lines blocks with the first ten and a count, not a megabyte of text", () => {
    const v = evaluate((f) => {
      f.codeowners = Array.from({ length: 5_000 }, (_, i) => `/d${i}/ owner${i}`).join("\n");
    });
    expect(codes(v)).toEqual(["codeowners-invalid"]);
    const msg = v.blocking[0]!.message;
    expect(msg).toMatch(/^\.github\/CODEOWNERS has 5000 errors, so ownership cannot be trusted: line 1: invalid owner "owner0"/);
    expect(msg).toMatch(/line 10: invalid owner "owner9".*; and 4990 more$/);
    expect(msg).not.toMatch(/line 11:/);
  });
  it("an e-mail owner approves through the verified e-mail map", () => {
    const v = evaluate((f) => {
      f.codeowners = "requests/ ops@acme.test\n";
      f.emails = { "ops@acme.test": "olga" };
      f.workflows = { "rotate-db-credentials": {} };
      f.reviews.push(review("olga", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.approved, v.explanation).toBe(true);
  });
});

describe("workflow and repository rules", () => {
  it("the workflow's approval asks for minApprovals from its teams", () => {
    const v = evaluate((f) => {
      f.workflows = { "rotate-db-credentials": { approval: { minApprovals: 2, from: ["@acme/dba"] } } };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.missing).toEqual([{ rule: "workflow:rotate-db-credentials", anyOf: ["@acme/dba"], count: 1, paths: ["requests/prod/rotate.yaml"] }]);
    expect(v.explanation).toMatch(/workflow "rotate-db-credentials" governs requests\/prod\/rotate.yaml: needs 2 approvals from @acme\/dba; only bob, so 1 more approval needed/);
  });
  it("a request naming a workflow missing from the base branch blocks", () => {
    const v = evaluate((f) => {
      f.requests = [{ path: "requests/prod/rotate.yaml", workflow: "drop-database" }];
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(codes(v)).toEqual(["unknown-workflow"]);
  });
  for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    it(`a request naming "${name}" is an unknown workflow, not one of Object's properties`, () => {
      const v = evaluate((f) => {
        f.requests = [{ path: "requests/prod/rotate.yaml", workflow: name }];
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
      });
      expect(codes(v)).toEqual(["unknown-workflow"]);
    });
  }
  it("the repository default minApprovals counts any eligible reviewer", () => {
    const v = evaluate((f) => {
      f.config = { minApprovals: 2 };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.missing).toEqual([{ rule: "minApprovals", anyOf: [], count: 1 }]);
  });
  it("a per-workflow override in the policy replaces the workflow's own rule", () => {
    const v = evaluate((f) => {
      f.config = { workflows: { "rotate-db-credentials": { minApprovals: 1, from: ["@acme/security"] } } };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.missing.map((m) => [m.rule, m.anyOf])).toEqual([["workflow:rotate-db-credentials", ["@acme/security"]]]);
  });
  it("a per-path override adds approvals for matching paths only", () => {
    const rule = { paths: [{ pattern: "/requests/prod/", minApprovals: 2 }] };
    const prod = evaluate((f) => {
      f.config = rule;
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(prod.missing).toEqual([{ rule: "path:/requests/prod/", anyOf: [], count: 1, paths: ["requests/prod/rotate.yaml"] }]);
    const staging = evaluate((f) => {
      f.config = rule;
      f.codeowners = "* @acme/dba\n";
      f.files = [{ path: "requests/staging/r.yaml", status: "added", sha: "s" }];
      f.requests = [{ path: "requests/staging/r.yaml", workflow: "rotate-db-credentials" }];
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(staging.approved, staging.explanation).toBe(true);
  });
  it("a veto team's change request blocks even when every rule is met", () => {
    const v = evaluate((f) => {
      f.config = { vetoTeams: ["@acme/security"] };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"), review("sec", "CHANGES_REQUESTED", "2026-11-25T10:30:00Z"));
    });
    expect(codes(v)).toEqual(["veto"]);
  });
  it("a veto lifts when the vetoing member approves, or when their review is dismissed", () => {
    const withVeto = (last: Review["state"]) =>
      evaluate((f) => {
        f.config = { vetoTeams: ["@acme/security"] };
        f.reviews.push(
          review("bob", "APPROVED", "2026-11-25T10:00:00Z"),
          review("sec", "CHANGES_REQUESTED", "2026-11-25T10:30:00Z"),
          review("sec", last, "2026-11-25T11:00:00Z"),
        );
      });
    expect(codes(withVeto("COMMENTED"))).toEqual(["veto"]);
    expect(withVeto("APPROVED").approved).toBe(true);
    expect(withVeto("DISMISSED").approved).toBe(true);
  });
  it("a veto blocks even from a member who could not approve anything (read access, no owned path)", () => {
    const v = evaluate((f) => {
      f.config = { vetoTeams: ["@acme/security"] };
      f.permissions = { bob: "write", sec: "read" };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"), review("sec", "CHANGES_REQUESTED", "2026-11-25T10:30:00Z"));
    });
    expect(codes(v)).toEqual(["veto"]);
    expect(v.explanation).toMatch(/sec \(veto team\) requested changes/);
  });
  it("bots may not request unless the policy says so", () => {
    const asBot = (config: unknown) =>
      evaluate((f) => {
        f.author = { login: "renovate[bot]", type: "Bot" };
        f.config = config;
        f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
      });
    expect(codes(asBot({}))).toEqual(["bot-requester"]);
    expect(asBot({ botsMayRequest: true }).approved).toBe(true);
    expect(asBot({ botsMayRequest: ["renovate[bot]"] }).approved).toBe(true);
    expect(codes(asBot({ botsMayRequest: ["other[bot]"] }))).toEqual(["bot-requester"]);
  });
  it("an AI agent with a User account is a bot once listed as a machine user", () => {
    const v = evaluate((f) => {
      f.author = { login: "ops-agent", type: "User" };
      f.config = { machineUsers: ["ops-agent"] };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(codes(v)).toEqual(["bot-requester"]);
  });
});

describe("control plane", () => {
  const workflowChange = (f: PolicyFacts): void => {
    f.files = [{ path: "workflows/rotate-db-credentials.yaml", status: "modified", sha: "s" }];
    f.requests = [];
  };
  it("changes to workflows/ need the control-plane owners", () => {
    const v = evaluate((f) => {
      workflowChange(f);
      f.codeowners = null;
      f.config = { controlPlane: { owners: ["@acme/platform"] } };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.missing.map((m) => m.rule)).toEqual(["controlPlane"]);
    const ok = evaluate((f) => {
      workflowChange(f);
      f.codeowners = null;
      f.config = { controlPlane: { owners: ["@acme/platform"] } };
      f.reviews.push(review("pat", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(ok.approved, ok.explanation).toBe(true);
  });
  it("a control-plane change nobody owns blocks rather than needing just anyone", () => {
    const v = evaluate((f) => {
      workflowChange(f);
      f.codeowners = "/requests/ @acme/dba\n";
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(codes(v)).toEqual(["control-plane-unowned"]);
  });
  it("CODEOWNERS at any of GitHub's locations is control plane, even where none exists yet", () => {
    const v = evaluate((f) => {
      f.codeowners = "/requests/ @acme/dba\n";
      f.codeownersPath = ".github/CODEOWNERS";
      f.files = [{ path: "CODEOWNERS", status: "added", sha: "s" }];
      f.requests = [];
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(codes(v)).toEqual(["control-plane-unowned"]);
  });
  it("a PR may not change a workflow and add a request in one go", () => {
    const v = evaluate((f) => {
      f.files.push({ path: ".github/clutch-luigi.yml", status: "modified", sha: "s" });
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"), review("pat", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(codes(v)).toEqual(["control-plane-with-requests"]);
  });
});

describe("freeze and break-glass", () => {
  const yearEnd = { freeze: [{ name: "year-end", from: "2026-12-20", to: "2027-01-03", timeZone: "Europe/Berlin" }] };
  const approvedBy = (f: PolicyFacts, ...who: string[]): void => {
    for (const w of who) f.reviews.push(review(w, "APPROVED", "2026-11-25T10:00:00Z"));
  };
  it("a request during a freeze window is blocked, approvals notwithstanding", () => {
    const v = evaluate((f) => {
      f.config = yearEnd;
      f.now = "2026-12-24T09:00:00Z";
      approvedBy(f, "bob");
    });
    expect(codes(v)).toEqual(["freeze"]);
    expect(v.summary).toBe("Not approved: blocked (freeze)");
    expect(v.freezes).toEqual(['"year-end" (2026-12-20 – 2027-01-03 Europe/Berlin)']);
  });
  it("outside the window the same PR passes", () => {
    const v = evaluate((f) => {
      f.config = yearEnd;
      f.now = "2027-01-04T09:00:00Z";
      approvedBy(f, "bob");
    });
    expect(v.approved).toBe(true);
  });
  it("break-glass with a reason lets a request through a freeze and is marked", () => {
    const v = evaluate((f) => {
      f.config = yearEnd;
      f.now = "2026-12-24T09:00:00Z";
      f.labels = ["Break-Glass"];
      f.body = "Rotating after a leak.\n\nBreak-glass: credentials leaked in INC-42\n";
      approvedBy(f, "bob");
    });
    expect(v.approved, v.explanation).toBe(true);
    expect(v.breakGlass).toEqual({ active: true, label: "break-glass", reason: "credentials leaked in INC-42" });
    expect(v.explanation).toMatch(/BREAK-GLASS.*follow-up review/);
    expect(v.summary).toBe("Approved by bob [BREAK-GLASS]");
  });
  const reasons: { body: string | undefined; reason: string | null }[] = [
    { body: "Break-glass: credentials leaked in INC-42 \t", reason: "credentials leaked in INC-42" },
    { body: "Summary\r\n\r\nbreak glass reason:   primary is down\r\n", reason: "primary is down" },
    { body: "  BREAK-GLASS:\nBreak-glass: the second line gives it", reason: "the second line gives it" },
    { body: "Break-glass:   ", reason: null },
    { body: "I would like break-glass: now", reason: null },
    { body: undefined, reason: null },
  ];
  for (const row of reasons) {
    it(`break-glass reason from the description: ${JSON.stringify(row.body)} → ${JSON.stringify(row.reason)}`, () => {
      expect(parseBreakGlassReason(row.body)).toBe(row.reason);
    });
  }
  it("a description with a huge run of spaces is read in one pass (the body is the requester's input)", () => {
    const body = "Break-glass: outage" + " ".repeat(60_000) + "at the edge";
    expect(parseBreakGlassReason(body)).toBe("outage" + " ".repeat(60_000) + "at the edge");
  });
  it("break-glass without a written reason blocks", () => {
    const v = evaluate((f) => {
      f.labels = ["break-glass"];
      approvedBy(f, "bob");
    });
    expect(codes(v)).toEqual(["break-glass-reason"]);
    expect(v.breakGlass.active).toBe(false);
  });
  it("break-glass lowers approval counts only as configured, never CODEOWNERS", () => {
    const facts = (config: unknown) =>
      evaluate((f) => {
        f.config = config;
        f.workflows = { "rotate-db-credentials": { approval: { minApprovals: 3, from: ["@acme/dba"] } } };
        f.labels = ["break-glass"];
        f.body = "break-glass: outage";
        approvedBy(f, "bob");
      });
    expect(facts({}).missing.map((m) => [m.rule, m.count])).toEqual([["workflow:rotate-db-credentials", 2]]);
    expect(facts({ breakGlass: { minApprovals: 1 } }).approved).toBe(true);
    const withoutOwner = evaluate((f) => {
      f.config = { breakGlass: { minApprovals: 1 } };
      f.labels = ["break-glass"];
      f.body = "break-glass: outage";
      approvedBy(f, "pat");
    });
    expect(withoutOwner.missing.map((m) => m.rule)).toContain("codeowners:2");
  });
  it("allowDuringFreeze: false keeps the freeze even with break-glass, which is still marked", () => {
    const v = evaluate((f) => {
      f.config = { ...yearEnd, breakGlass: { allowDuringFreeze: false } };
      f.now = "2026-12-24T09:00:00Z";
      f.labels = ["break-glass"];
      f.body = "Break-glass: outage";
      approvedBy(f, "bob");
    });
    expect(codes(v)).toEqual(["freeze"]);
    expect(v.breakGlass).toEqual({ active: true, label: "break-glass", reason: "outage" });
    expect(v.summary).toBe("Not approved: blocked (freeze) [BREAK-GLASS]");
  });
  it("requireReason: false opens break-glass on the label alone, and the verdict says no reason was given", () => {
    const v = evaluate((f) => {
      f.config = { ...yearEnd, breakGlass: { label: "sev1", requireReason: false } };
      f.now = "2026-12-24T09:00:00Z";
      f.labels = ["SEV1"];
      approvedBy(f, "bob");
    });
    expect(v.approved, v.explanation).toBe(true);
    expect(v.breakGlass).toEqual({ active: true, label: "sev1", reason: null });
    expect(v.explanation).toContain('BREAK-GLASS: the "sev1" label is set (reason: none given). This is recorded; a follow-up review is required.');
  });
  it("breakGlass: false ignores the label", () => {
    const v = evaluate((f) => {
      f.config = { ...yearEnd, breakGlass: false };
      f.now = "2026-12-24T09:00:00Z";
      f.labels = ["break-glass"];
      f.body = "break-glass: outage";
      approvedBy(f, "bob");
    });
    expect(codes(v)).toEqual(["freeze"]);
    expect(v.breakGlass.active).toBe(false);
  });
  it("a freeze scoped to other workflows does not apply", () => {
    const v = evaluate((f) => {
      f.config = { freeze: [{ ...yearEnd.freeze[0], workflows: ["deploy"] }] };
      f.now = "2026-12-24T09:00:00Z";
      approvedBy(f, "bob");
    });
    expect(v.approved).toBe(true);
  });
});

describe("organisation defaults", () => {
  it("orgConfig is merged under the repository's config", () => {
    const v = evaluate((f) => {
      f.orgConfig = { minApprovals: 2, staleApprovals: "dismiss" };
      f.config = { minApprovals: 1 };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z", OLD));
    });
    // The repository's minApprovals wins; the org's staleApprovals still applies.
    expect(v.requirements.find((r) => r.rule === "minApprovals")!.required).toBe(1);
    expect(v.ignoredApprovals[0]!.reason).toMatch(/staleApprovals: dismiss/);
  });
  it("without write-access facts the verdict says the check was skipped", () => {
    const v = evaluate((f) => f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z")));
    expect(v.warnings).toContain("reviewers' repository permissions were not provided, so write access was not checked");
  });
});

describe("bad input blocks with a clear message", () => {
  it("an invalid config blocks instead of falling back to defaults", () => {
    const v = evaluate((f) => {
      f.config = { minApprovals: 0, staleApprovals: "sometimes", typo: true };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(v.approved).toBe(false);
    expect(codes(v)).toEqual(["config-invalid"]);
    expect(v.blocking[0]!.message).toMatch(/unknown setting "typo"/);
    expect(v.blocking[0]!.message).toMatch(/minApprovals: must be >= 1/);
    expect(v.blocking[0]!.message).toMatch(/staleApprovals: must be one of "keep", "dismiss", "content"/);
  });
  it("a malformed facts snapshot blocks", () => {
    const v = evaluatePolicy({ repository: "acme/ops", headSha: HEAD } as unknown as PolicyFacts);
    expect(codes(v)).toEqual(["facts-invalid"]);
    expect(v.blocking[0]!.message).toMatch(/must have required property 'author'/);
  });
  it("an impossible review time is refused rather than ordered arbitrarily", () => {
    const v = evaluate((f) => f.reviews.push(review("bob", "APPROVED", "2026-02-30T10:00:00Z")));
    expect(codes(v)).toEqual(["facts-invalid"]);
    expect(v.blocking[0]!.message).toMatch(/reviews\.0\.submittedAt: "2026-02-30T10:00:00Z": day 30 does not exist in 2026-02/);
  });
  it("an impossible 'now' is refused rather than replaced by the clock", () => {
    const v = evaluate((f) => {
      f.now = "2026-12-24T24:30:00Z";
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(codes(v)).toEqual(["facts-invalid"]);
    expect(v.blocking[0]!.message).toMatch(/now: "2026-12-24T24:30:00Z": time 24:30:00 does not exist/);
  });
  it("invalid organisation defaults block too: the org file cannot be skipped to reach a permissive default", () => {
    const v = evaluate((f) => {
      f.orgConfig = { minApprovals: "two" };
      f.config = { staleApprovals: "keep" };
      f.reviews.push(review("bob", "APPROVED", "2026-11-25T10:00:00Z"));
    });
    expect(codes(v)).toEqual(["config-invalid"]);
    expect(v.blocking[0]!.message).toMatch(/^the organisation's default \.github\/clutch-luigi\.yml is invalid.*minApprovals: must be integer/);
  });
  it("even null facts give a verdict, not a crash", () => {
    const v = evaluatePolicy(null as unknown as PolicyFacts);
    expect(v.approved).toBe(false);
  });
});
