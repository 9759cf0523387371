/**
 * `staleApprovals: content`: an approval covers the change it was given on —
 * for each path of the PR's diff against its base, the pair (base blob, head
 * blob), and the base branch — and carries over only to that same change.
 */
import { describe, expect, it } from "vitest";
import { assessReviews, checkFacts, evaluatePolicy, type ChangeSnapshot, type PolicyFacts } from "../../../src/policy/index.js";

const HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const C1 = "1111111111111111111111111111111111111111";
const RESTART = "workflows/restart-service.yaml";
const ROTATE = "workflows/rotate-db-credentials.yaml";
const GUARD = "workflows/guard.yaml";
const REVIEWED_AT = "2026-11-25T10:00:00Z";

/** paula approved C1, which changed restart-service.yaml R0 → R1 against main. */
function facts(over: Partial<PolicyFacts> = {}): PolicyFacts {
  return {
    repository: "acme/ops",
    author: { login: "alice", type: "User" },
    headSha: HEAD,
    files: [{ path: RESTART, status: "modified", sha: "R1" }],
    reviews: [{ id: 80, user: { login: "paula", type: "User" }, state: "APPROVED", commitId: C1, submittedAt: REVIEWED_AT }],
    teams: {},
    change: { base: "main", paths: { [RESTART]: ["R0", "R1"] } },
    reviewedChanges: [{ commit: C1, base: "main", paths: { [RESTART]: ["R0", "R1"] } }],
    baseChanges: [],
    ...over,
  };
}

const assess = (f: PolicyFacts) => assessReviews(f, { staleApprovals: "content", machineUsers: [] });
const headApproval = (): PolicyFacts["reviews"] => [{ id: 81, user: { login: "paula", type: "User" }, state: "APPROVED", commitId: HEAD, submittedAt: REVIEWED_AT }];
const change = (base: string, paths: ChangeSnapshot["paths"]): ChangeSnapshot => ({ base, paths });

interface Row {
  name: string;
  facts: PolicyFacts;
  kept: boolean;
  /** The carried-over note or the stale reason must match this. */
  says: RegExp;
}

const table: Row[] = [
  {
    name: "identical change after a rebase (main moved elsewhere): kept",
    // The head is a new commit on a newer main, but the diff is the same pair for the same path.
    facts: facts(),
    kept: true,
    says: /^approved 1111111, not the head 6dcb09b; the change is identical, path by path$/,
  },
  {
    name: "an empty push on top of the reviewed commit: kept",
    facts: facts({ headSha: "2222222222222222222222222222222222222222" }),
    kept: true,
    says: /not the head 2222222; the change is identical/,
  },
  {
    name: "first reproduction (merge main, revert everything): stale, naming each path",
    facts: facts({
      files: [
        { path: ROTATE, status: "modified", sha: "X0" },
        { path: GUARD, status: "removed", sha: null },
      ],
      change: change("main", { [ROTATE]: ["X1", "X0"], [GUARD]: ["G", null] }),
    }),
    kept: false,
    says: new RegExp(`the change differs from the one approved \\(against main\\): ${GUARD}'s change was not reviewed, ${RESTART} is no longer changed, ${ROTATE}'s change was not reviewed$`),
  },
  {
    name: "a rebase onto a base that changed the same file: the pair differs, stale",
    facts: facts({ files: [{ path: RESTART, status: "modified", sha: "R1b" }], change: change("main", { [RESTART]: ["R0b", "R1b"] }) }),
    kept: false,
    says: new RegExp(`${RESTART}'s change differs$`),
  },
  {
    name: "the same head blob but a different base blob is a different change: stale",
    facts: facts({ change: change("main", { [RESTART]: ["R0b", "R1"] }) }),
    kept: false,
    says: new RegExp(`${RESTART}'s change differs`),
  },
  {
    name: "retargeted after an approval on the head, branch before unknown: stale",
    facts: facts({ reviews: headApproval(), headSha: HEAD, baseChanges: [{ at: "2026-11-25T11:00:00Z" }] }),
    kept: false,
    says: /^approved 6dcb09b before the base branch was changed, and the base branch was changed at 2026-11-25T11:00:00Z, after this review, and from which branch is not known/,
  },
  {
    name: "retargeted from staging with a different change: stale",
    facts: facts({
      reviews: headApproval(),
      files: [
        { path: RESTART, status: "modified", sha: "R1" },
        { path: ROTATE, status: "modified", sha: "X-low" },
      ],
      change: change("main", { [RESTART]: ["R0", "R1"], [ROTATE]: ["X0", "X-low"] }),
      reviewedChanges: [{ commit: HEAD, base: "staging", paths: { [RESTART]: ["R0", "R1"] } }],
      baseChanges: [{ at: "2026-11-25T11:00:00Z", from: "staging" }],
    }),
    kept: false,
    says: new RegExp(`\\(against staging then and main now\\): ${ROTATE}'s change was not reviewed$`),
  },
  {
    name: "retargeted from staging with a provably identical change: kept",
    facts: facts({
      reviews: headApproval(),
      reviewedChanges: [{ commit: HEAD, base: "staging", paths: { [RESTART]: ["R0", "R1"] } }],
      baseChanges: [{ at: "2026-11-25T11:00:00Z", from: "staging" }],
    }),
    kept: true,
    says: /^approved 6dcb09b before the base branch was changed; the change is identical, path by path \(the base changed from staging to main\)$/,
  },
  {
    name: "retargeted twice after the review: the branch before the first change is the one reviewed",
    facts: facts({
      reviewedChanges: [{ commit: C1, base: "staging", paths: { [RESTART]: ["R0", "R1"] } }],
      baseChanges: [
        { at: "2026-11-25T12:00:00Z", from: "release" },
        { at: "2026-11-25T11:00:00Z", from: "staging" },
      ],
    }),
    kept: true,
    says: /\(the base changed from staging to main\)$/,
  },
  {
    name: "a retarget at the very second of the review counts as after it",
    facts: facts({ reviews: headApproval(), baseChanges: [{ at: REVIEWED_AT }] }),
    kept: false,
    says: /from which branch is not known/,
  },
  {
    name: "a retarget before the review does not affect it",
    facts: facts({ reviews: headApproval(), baseChanges: [{ at: "2026-11-24T10:00:00Z" }], change: undefined, reviewedChanges: undefined }),
    kept: true,
    says: /^$/,
  },
  {
    name: "the base branch force-pushed after the review: the merge base then is unknown, stale",
    // Rewriting main can move the merge base back, so the reviewed commit's diff now holds what main used to.
    facts: facts({ baseChanges: [{ at: "2026-11-25T11:00:00Z", kind: "force-push" }] }),
    kept: false,
    says: /the base branch was force-pushed at 2026-11-25T11:00:00Z, after this review, so the merge base the reviewer saw is not known$/,
  },
  {
    name: "a force-push after the review is not outweighed by a known retarget",
    facts: facts({
      reviewedChanges: [{ commit: C1, base: "staging", paths: { [RESTART]: ["R0", "R1"] } }],
      baseChanges: [
        { at: "2026-11-25T11:00:00Z", from: "staging" },
        { at: "2026-11-25T12:00:00Z", kind: "force-push" },
      ],
    }),
    kept: false,
    says: /force-pushed at 2026-11-25T12:00:00Z/,
  },
  {
    name: "a force-push of the base before the review does not affect it",
    facts: facts({ baseChanges: [{ at: "2026-11-24T11:00:00Z", kind: "force-push" }] }),
    kept: true,
    says: /the change is identical/,
  },
  {
    name: "unknown: no change of the PR now",
    facts: facts({ change: undefined }),
    kept: false,
    says: /the pull request's change is not known/,
  },
  {
    name: "unknown: no reviewed change for the commit",
    facts: facts({ reviewedChanges: [] }),
    kept: false,
    says: /what 1111111 changed against main is not known \(no reviewedChanges for it\)/,
  },
  {
    name: "unknown: a reviewed change against another base only",
    facts: facts({ reviewedChanges: [{ commit: C1, base: "staging", paths: { [RESTART]: ["R0", "R1"] } }] }),
    kept: false,
    says: /what 1111111 changed against main is not known/,
  },
  {
    name: "forged: the change leaves out a listed file",
    facts: facts({ files: [{ path: RESTART, status: "modified", sha: "R1" }, { path: GUARD, status: "added", sha: "G" }] }),
    kept: false,
    says: new RegExp(`does not account for ${GUARD} as listed`),
  },
  {
    name: "forged: the change contradicts a listed head blob",
    facts: facts({ files: [{ path: RESTART, status: "modified", sha: "R9" }] }),
    kept: false,
    says: new RegExp(`does not account for ${RESTART} as listed`),
  },
  {
    name: "forged: a rename whose old path the change leaves out",
    facts: facts({ files: [{ path: RESTART, status: "renamed", previousPath: "workflows/old.yaml", sha: "R1" }] }),
    kept: false,
    says: /does not account for workflows\/old\.yaml/,
  },
];

describe("an approval covers the change it was given on", () => {
  for (const row of table) {
    it(row.name, () => {
      const a = assess(row.facts);
      if (row.kept) {
        expect(a.ignored).toEqual([]);
        expect(a.approvals.get("paula")?.carriedOver ?? "").toMatch(row.says);
      } else {
        expect(a.approvals.size).toBe(0);
        expect(a.ignored).toEqual([{ login: "paula", reviewId: row.facts.reviews[0]!.id, reason: expect.stringMatching(row.says) }]);
      }
    });
  }

  it("names at most five paths, then a count", () => {
    const paths = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`workflows/n${i}.yaml`, [null, `b${i}`] as [null, string]]));
    const a = assess(facts({ files: [], change: change("main", paths), reviewedChanges: [{ commit: C1, base: "main", paths: {} }] }));
    expect(a.ignored[0]!.reason).toMatch(/n0\.yaml's change was not reviewed, .*n4\.yaml's change was not reviewed and 3 more$/);
  });

  it("the verdict explanation carries the reason, and a stale approval does not approve", () => {
    const f = facts({ change: change("main", { [RESTART]: ["R0", "R2"] }), files: [{ path: RESTART, status: "modified", sha: "R2" }] });
    const v = evaluatePolicy(f);
    expect(v.approved).toBe(false);
    expect(v.explanation).toContain(`Not counted: paula's approval: approved 1111111, not the head 6dcb09b, and the change differs from the one approved (against main): ${RESTART}'s change differs.`);
  });

  it("keep and dismiss ignore the change; dismiss also drops a head approval made before a retarget", () => {
    const retargeted = facts({ reviews: headApproval(), baseChanges: [{ at: "2026-11-25T11:00:00Z" }] });
    expect(assessReviews(retargeted, { staleApprovals: "keep", machineUsers: [] }).approvals.has("paula")).toBe(true);
    expect(assessReviews(retargeted, { staleApprovals: "dismiss", machineUsers: [] }).ignored[0]!.reason).toMatch(/before the base branch was changed \(staleApprovals: dismiss\)/);
  });

  it("malformed change facts are refused by the schema", () => {
    const bad: unknown[] = [
      { ...facts(), change: { base: "main", paths: { [RESTART]: ["R0"] } } },
      { ...facts(), change: { base: "main", paths: { [RESTART]: ["R0", "R1", "R2"] } } },
      { ...facts(), change: { paths: {} } },
      { ...facts(), reviewedChanges: [{ base: "main", paths: {} }] },
      { ...facts(), baseChanges: [{ at: "2026-02-30T10:00:00Z" }] },
      { ...facts(), baseChanges: [{ from: "main" }] },
      { ...facts(), baseChanges: [{ at: REVIEWED_AT, kind: "rebase" }] },
    ];
    for (const f of bad) expect(checkFacts(f), JSON.stringify(f)).not.toEqual([]);
    expect(checkFacts(facts())).toEqual([]);
  });
});
