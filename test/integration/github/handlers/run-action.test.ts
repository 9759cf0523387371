/**
 * handleRunAction against the fake GitHub over real HTTP and a real store, for the
 * cases the e2e test does not walk through: authority read at the default branch
 * head (not the PR's), a pending team invitation, a user owner by login, a broken
 * policy file, a bounded number of membership lookups, a roll back refused while
 * another run holds the lock, a check that points at another repository's run.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { GitHubClient } from "../../../../src/github/client.js";
import type { RequestedAction } from "../../../../src/github/handlers/check-run-payload.js";
import { handleRunAction } from "../../../../src/github/handlers/run-action-handler.js";
import { MAX_TEAMS_CHECKED } from "../../../../src/github/run-action-facts.js";
import type { WorkflowSpec } from "../../../../src/formats/types.js";
import { listAuditEvents } from "../../../../src/store/audit.js";
import { openStore, type Store } from "../../../../src/store/db.js";
import { cancelRun, createRun, getRun } from "../../../../src/store/runs.js";
import { startWorkers, testRegistry, waitForRun } from "../../engine/harness.js";
import { REPO, startWorld, type World } from "../world.js";

let world: World;
let store: Store;
const journal = { events: [] as string[], spans: [] };
const registry = testRegistry(journal);
const gh = (): GitHubClient => world.octokit as unknown as GitHubClient;

const UNDOABLE: WorkflowSpec = { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "undoable", lock: "svc:one", steps: [{ id: "s", uses: "test.record", with: { tag: "s" } }] };

beforeAll(async () => {
  world = await startWorld();
  store = await openStore({ dataDir: ":memory:" });
});
afterAll(async () => {
  await store?.close();
  await world?.close();
});
afterEach(() => {
  expect(world.fake.violations.splice(0)).toEqual([]);
});

/** A succeeded run of a PR of acme/ops, with a run check on its commit. */
async function succeededRun(requestPath: string, repository = REPO): Promise<{ runId: string; click: (login: string, identifier?: string, type?: string) => RequestedAction }> {
  const p = world.pulls.open(REPO, { author: { login: "alice", type: "User" }, files: { [requestPath]: "x: 1\n" } });
  const commit = world.git.commit(REPO, { branch: "main", files: { [requestPath]: "x: 1\n" }, message: `merge #${p.number}` });
  const { runId } = await createRun(store, {
    repository, pullRequest: p.number, commit, requester: { login: "alice", type: "User" }, approvers: [],
    workflow: UNDOABLE, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: UNDOABLE.name, reason: "t" }, requestPath, registry,
  });
  const workers = startWorkers(store, registry, 1);
  try {
    expect((await waitForRun(store, runId)).state).toBe("succeeded");
  } finally {
    await workers.stop();
  }
  const check = (await world.octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "ops", name: "clutch-luigi/run", head_sha: commit, external_id: runId, status: "completed", conclusion: "success", output: { title: "Run succeeded", summary: "all good" } })).data;
  return {
    runId,
    click: (login, identifier = "rollback", type = "User") => ({
      owner: "acme", repo: "ops", checkRunId: Number(check.id), checkName: "clutch-luigi/run", headSha: commit, externalId: runId, identifier,
      clicker: { login, type }, output: { title: "Run succeeded", summary: "all good", text: null },
    }),
  };
}

const refusals = async (runId: string) => (await listAuditEvents(store.db, { runId })).filter((e) => e.kind === "run.action_refused").map((e) => e.data.code);

describe("handleRunAction", () => {
  it("reads CODEOWNERS at the default branch head: an owner added on main counts, a pending invitation does not", async () => {
    const { runId, click } = await succeededRun("requests/special/a.yaml");
    world.teams.add("acme", "special", { sara: "member" });
    world.teams.members.get("acme/special")!.set("sara", { role: "member", state: "pending" });
    world.git.commit(REPO, { branch: "main", files: { ".github/CODEOWNERS": "/requests/ @acme/sre\n/requests/special/ @acme/special @dora\n" }, message: "special owners" });
    expect(await handleRunAction({ store, registry }, gh(), click("sara"))).toMatchObject({ kind: "refused", code: "not-authorized" });
    // sam's team owned /requests/ before; the line for /requests/special/ now decides.
    expect(await handleRunAction({ store, registry }, gh(), click("sam"))).toMatchObject({ kind: "refused", code: "not-authorized" });
    expect(await handleRunAction({ store, registry }, gh(), click("Dora"))).toMatchObject({ kind: "done", action: "rollback" });
    expect((await waitForRun(store, runId, 15_000, (r) => r.state !== "running")).state).toBe("rolling_back");
    expect(await refusals(runId)).toEqual(["not-authorized", "not-authorized"]);
    const note = world.checks.runs.find((c) => c.output.summary === "all good" && c.headSha === click("x").headSha)!.output;
    expect(note).toMatchObject({ title: "Run succeeded", summary: "all good", text: expect.stringContaining("**Roll back** was refused for @sam") });
    world.git.commit(REPO, { branch: "main", files: { ".github/CODEOWNERS": "/requests/ @acme/sre\n" }, message: "back" });
  });

  it("refuses everyone while the policy file on main is invalid, and reads at most a bounded number of teams", async () => {
    const { runId, click } = await succeededRun("requests/b.yaml");
    world.git.commit(REPO, { branch: "main", files: { ".github/clutch-luigi.yml": "operators: [\"not a team\"]\n" }, message: "broken" });
    expect(await handleRunAction({ store, registry }, gh(), click("sam"))).toMatchObject({ kind: "refused", code: "config-invalid" });
    const many = Array.from({ length: 40 }, (_, i) => `"@acme/t${i}"`).join(", ");
    world.git.commit(REPO, { branch: "main", files: { ".github/clutch-luigi.yml": `operators: [${many}]\n` }, message: "many operators" });
    const before = world.fake.calls.filter((c) => c.template === "/orgs/{org}/teams/{team_slug}/memberships/{username}").length;
    expect(await handleRunAction({ store, registry }, gh(), click("nobody"))).toMatchObject({ kind: "refused", code: "not-authorized" });
    expect(world.fake.calls.filter((c) => c.template === "/orgs/{org}/teams/{team_slug}/memberships/{username}").length - before).toBe(MAX_TEAMS_CHECKED);
    // A bot is refused before anything is looked up for it.
    const calls = world.fake.calls.length;
    expect(await handleRunAction({ store, registry }, gh(), click("helper[bot]", "rollback", "Bot"))).toMatchObject({ kind: "refused", code: "bot" });
    expect(world.fake.calls.filter((c) => c.template === "/orgs/{org}/teams/{team_slug}/memberships/{username}").length - before).toBe(MAX_TEAMS_CHECKED);
    expect(world.fake.calls.length).toBeGreaterThan(calls);
    world.git.commit(REPO, { branch: "main", files: { ".github/clutch-luigi.yml": "staleApprovals: content\n" }, message: "fixed" });
    expect((await getRun(store, runId))!.state).toBe("succeeded");
  });

  it("a roll back while another run holds the lock is refused, naming the holder, on the check too", async () => {
    const { runId, click } = await succeededRun("requests/c.yaml");
    const holder = await createRun(store, {
      repository: REPO, requester: { login: "alice", type: "User" }, approvers: [],
      workflow: UNDOABLE, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: UNDOABLE.name, reason: "t" }, requestPath: "requests/other.yaml", registry,
    });
    const out = await handleRunAction({ store, registry }, gh(), click("sam"));
    expect(out).toMatchObject({ kind: "refused", code: "lock-held", reason: expect.stringContaining(holder.runId) });
    expect(world.checks.runs.at(-1)!.output.text).toContain(holder.runId);
    await cancelRun(store, holder.runId, "t");
    expect((await getRun(store, runId))!.state).toBe("succeeded");
  });

  it("a check naming a run of another repository reaches nothing; other checks and buttons are ignored unaudited", async () => {
    const { runId, click } = await succeededRun("requests/d.yaml", "acme/elsewhere");
    expect(await handleRunAction({ store, registry }, gh(), click("sam"))).toMatchObject({ kind: "refused", code: "unknown-run", runId: null });
    expect(await handleRunAction({ store, registry }, gh(), { ...click("sam"), checkName: "clutch-luigi/policy" })).toMatchObject({ kind: "ignored" });
    expect(await handleRunAction({ store, registry }, gh(), click("sam", "__proto__"))).toMatchObject({ kind: "ignored" });
    expect(await listAuditEvents(store.db, { runId })).not.toContainEqual(expect.objectContaining({ kind: "run.action_refused" }));
  });
});
