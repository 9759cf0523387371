/**
 * An approval covers the change it was given on, end to end: signed webhook
 * deliveries into the real server, the PR reshaped on the GitHub fake the way
 * an author would (update branch, revert, rebase, retarget), and the policy
 * check run the app posts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FakeCheckRun, FakePull } from "../support/github/pull-request-world.js";
import { fixture, REPO } from "../integration/github/world.js";
import { startApp, type E2eApp } from "./app.js";
import { delivery, payloadFor } from "./webhook-client.js";

let app: E2eApp;
const alice = { login: "alice", type: "User" as const };
const RESTART = "workflows/restart-service.yaml";
const ROTATE = "workflows/rotate-db-credentials.yaml";
const GUARD = "workflows/guard.yaml";
const restart0 = fixture(`ops-repo/${RESTART}`);
const restart1 = restart0.replace("announcing it before and after", "telling everyone before and after");
const rotate0 = fixture(`ops-repo/${ROTATE}`);

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => app?.close());
afterEach(() => {
  expect(app.world.fake.violations.splice(0)).toEqual([]);
});

const policyCheck = (p: FakePull): FakeCheckRun | undefined => app.world.checks.runs.filter((r) => r.headSha === p.headSha && r.name === "clutch-luigi/policy").at(-1);

async function deliver(event: "pull_request" | "pull_request_review", payload: Record<string, unknown>): Promise<void> {
  const res = await app.deliver(delivery(event, payload));
  expect(res.status).toBe(200);
}

/** paula (@acme/platform, owner of workflows/) approves the PR's head, and the check goes green. */
async function approvedByPaula(p: FakePull): Promise<void> {
  app.world.pulls.review(p, "paula", "APPROVED");
  await deliver("pull_request_review", payloadFor("pull_request_review", "submitted", p, { sender: "paula" }));
  expect(policyCheck(p)).toMatchObject({ conclusion: "success" });
}

const mainHead = (): string => app.world.git.repo("acme", "ops")!.branches.get("main")!;

describe("staleApprovals: content, through webhooks", () => {
  it("an approval of one change does not carry over to a different change reached by merging main and reverting", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { [RESTART]: restart1 } });
    await approvedByPaula(p);
    // Main raises minApprovals and adds a guard workflow.
    app.world.git.commit(REPO, { branch: "main", files: { [ROTATE]: rotate0.replace("minApprovals: 2", "minApprovals: 3"), [GUARD]: restart0.replace("name: restart-service", "name: guard") }, author: "paula" });
    app.world.pulls.mergeBaseBranch(p);
    app.world.pulls.push(p, { [RESTART]: restart0, [ROTATE]: rotate0, [GUARD]: null });
    // Every file now in the PR has the same blob as at the approved commit: contents alone would say "unchanged".
    expect(app.world.pulls.files(p).map((f) => [f.filename, f.status])).toEqual([
      [GUARD, "removed"],
      [ROTATE, "modified"],
    ]);
    await deliver("pull_request", payloadFor("pull_request", "synchronize", p));
    const check = policyCheck(p)!;
    expect(check.conclusion).not.toBe("success");
    expect(check.output.summary).toContain("**Not approved**");
    expect(check.output.text).toContain(
      `Not counted: paula's approval: approved ${p.reviews[0]!.commitId.slice(0, 7)}, not the head ${p.headSha.slice(0, 7)}, and the change differs from the one approved (against main): ${GUARD}'s change was not reviewed, ${RESTART} is no longer changed, ${ROTATE}'s change was not reviewed.`,
    );
  });

  it("an approval on the head given under another base branch stops counting when the PR is retargeted", async () => {
    const staging = app.world.git.commit(REPO, { branch: "staging", parent: mainHead(), files: { [ROTATE]: rotate0.replace("minApprovals: 2", "minApprovals: 1") }, author: "paula" });
    const p = app.world.pulls.open(REPO, { author: alice, baseRef: "staging", files: { [RESTART]: restart1 } });
    expect(app.world.pulls.files(p).map((f) => f.filename)).toEqual([RESTART]);
    await approvedByPaula(p);
    const head = p.headSha;
    app.world.pulls.retarget(p, "main");
    // Against main the diff also holds staging's unreviewed change.
    expect(app.world.pulls.files(p).map((f) => f.filename)).toEqual([RESTART, ROTATE]);
    const edited = payloadFor("pull_request", "opened", p);
    edited.action = "edited";
    edited.changes = { base: { ref: { from: "staging" }, sha: { from: staging } } };
    ((edited.pull_request as Record<string, unknown>).base as Record<string, unknown>).ref = "main";
    await deliver("pull_request", edited);
    expect(p.headSha).toBe(head);
    const check = policyCheck(p)!;
    expect(check.conclusion).not.toBe("success");
    expect(check.output.text).toMatch(/Not counted: paula's approval: approved [0-9a-f]{7} before the base branch was changed, and the base branch was changed at \S+, after this review, and from which branch is not known/);
  });

  it("a rebase that leaves the change identical keeps the approval", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { [RESTART]: restart1 } });
    await approvedByPaula(p);
    const approved = p.headSha;
    app.world.git.commit(REPO, { branch: "main", files: { "docs/notes.md": "unrelated\n" }, author: "paula" });
    // The author rebases: the same edit, replayed on the new main.
    p.headSha = app.world.git.commit(REPO, { parent: mainHead(), files: { [RESTART]: restart1 }, author: "alice" });
    p.commits = [{ sha: p.headSha, author: alice, committer: alice }];
    await deliver("pull_request", payloadFor("pull_request", "synchronize", p));
    const check = policyCheck(p)!;
    expect(check.conclusion).toBe("success");
    expect(check.output.text).toContain(`Counted: paula approved ${approved.slice(0, 7)}, not the head ${p.headSha.slice(0, 7)}; the change is identical, path by path.`);
  });

  it("a rebase onto a main that changed the same file makes the approval stale", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { [RESTART]: restart1 } });
    await approvedByPaula(p);
    // Main changes the same file elsewhere; the rebased edit applies cleanly but is a different change.
    const onMain = restart0.replace("uses: noop", "uses: noop\n    timeout: 30s");
    app.world.git.commit(REPO, { branch: "main", files: { [RESTART]: onMain }, author: "paula" });
    p.headSha = app.world.git.commit(REPO, { parent: mainHead(), files: { [RESTART]: onMain.replace("announcing it before and after", "telling everyone before and after") }, author: "alice" });
    p.commits = [{ sha: p.headSha, author: alice, committer: alice }];
    await deliver("pull_request", payloadFor("pull_request", "synchronize", p));
    const check = policyCheck(p)!;
    expect(check.conclusion).not.toBe("success");
    expect(check.output.text).toContain(`${RESTART}'s change differs.`);
  });
});
