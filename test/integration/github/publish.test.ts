/**
 * The publisher against the fake GitHub and a real store: one current run per
 * (head, name), remembered across calls; a run GitHub no longer has is
 * replaced; a failed write leaves nothing recorded, so the retry writes it;
 * the lower-level create/update for reporters that keep their own id.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCheckRun, publishCheck, updateCheckRun, type CheckPayload } from "../../../src/github/publish.js";
import { openStore, type Store } from "../../../src/store/db.js";
import { currentCheckRun } from "../../../src/store/check-runs.js";
import { startWorld, type World } from "./world.js";

let w: World;
let store: Store;
const at = { owner: "acme", repo: "ops" };
const SHA = "c".repeat(40);

beforeAll(async () => {
  w = await startWorld();
  store = await openStore({ dataDir: ":memory:" });
});
afterAll(async () => {
  await store?.close();
  await w?.close();
});
afterEach(() => {
  expect(w.fake.violations.splice(0)).toEqual([]);
});

const check = (over: Partial<CheckPayload> = {}): CheckPayload => ({
  name: "clutch-luigi/plan",
  head_sha: SHA,
  status: "completed",
  conclusion: "success",
  output: { title: "Plan", summary: "one" },
  ...over,
});
const runs = (name = "clutch-luigi/plan") => w.checks.runs.filter((r) => r.headSha === SHA && r.name === name);

describe("publishCheck", () => {
  it("creates, then leaves alone, then updates in place, then replaces only for a new conclusion", async () => {
    expect(await publishCheck(store.db, w.octokit, at, check())).toMatchObject({ written: "created" });
    const id = runs()[0]!.id;
    expect(await publishCheck(store.db, w.octokit, at, check())).toEqual({ written: "none", id });
    expect(await publishCheck(store.db, w.octokit, at, check({ output: { title: "Plan", summary: "two" } }))).toEqual({ written: "updated", id });
    expect(runs()).toHaveLength(1);
    expect(runs()[0]!.output.summary).toBe("two");
    const replaced = await publishCheck(store.db, w.octokit, at, check({ conclusion: "failure", output: { title: "Plan", summary: "broken" } }));
    expect(replaced.written).toBe("created");
    expect(runs().map((r) => r.conclusion)).toEqual(["success", "failure"]);
    expect(await currentCheckRun(store.db, { repository: "acme/ops", headSha: SHA, name: "clutch-luigi/plan" })).toMatchObject({ checkRunId: replaced.id, conclusion: "failure" });
  });

  it("replaces a run GitHub no longer has (PATCH answers 404)", async () => {
    const name = "clutch-luigi/policy";
    const first = await publishCheck(store.db, w.octokit, at, check({ name }));
    w.checks.runs.splice(w.checks.runs.findIndex((r) => r.id === first.id), 1);
    const next = await publishCheck(store.db, w.octokit, at, check({ name, output: { title: "Plan", summary: "again" } }));
    expect(next.written).toBe("created");
    expect(runs(name)).toHaveLength(1);
  });

  it("records nothing when GitHub refuses the write, so the next attempt writes it", async () => {
    const name = "clutch-luigi/retried";
    w.fake.fail("POST /repos/{owner}/{repo}/check-runs", 422);
    await expect(publishCheck(store.db, w.octokit, at, check({ name }))).rejects.toMatchObject({ status: 422 });
    expect(await currentCheckRun(store.db, { repository: "acme/ops", headSha: SHA, name })).toBeNull();
    expect(await publishCheck(store.db, w.octokit, at, check({ name }))).toMatchObject({ written: "created" });
  });

  it("two concurrent publishes of a new check in one process make one run", async () => {
    const name = "clutch-luigi/raced";
    const [a, b] = await Promise.all([publishCheck(store.db, w.octokit, at, check({ name })), publishCheck(store.db, w.octokit, at, check({ name }))]);
    expect(runs(name)).toHaveLength(1);
    expect([a.written, b.written].sort()).toEqual(["created", "none"]);
  });
});

describe("createCheckRun / updateCheckRun (for reporters that keep the id)", () => {
  it("creates an in-progress run, splits 120 annotations into 50 per call, and completes it in place", async () => {
    const annotations = Array.from({ length: 120 }, (_, i) => ({ path: "requests/a.yaml", start_line: i + 1, end_line: i + 1, annotation_level: "warning" as const, message: `n${i}` }));
    const id = await createCheckRun(w.octokit, at, { name: "clutch-luigi/run", head_sha: SHA, status: "in_progress", output: { title: "Run started", summary: "…", annotations } });
    const run = w.checks.runs.find((r) => r.id === id)!;
    expect(run.annotations).toHaveLength(120);
    await updateCheckRun(w.octokit, at, id, { name: "clutch-luigi/run", head_sha: SHA, status: "completed", conclusion: "success", output: { title: "Run succeeded", summary: "done" } });
    expect(run).toMatchObject({ status: "completed", conclusion: "success", output: { title: "Run succeeded" } });
    expect(run.annotations).toHaveLength(120);
    // GitHub keeps a completed run's conclusion: the fake refuses as it does.
    await expect(updateCheckRun(w.octokit, at, id, { name: "clutch-luigi/run", head_sha: SHA, status: "completed", conclusion: "failure", output: { title: "x", summary: "y" } })).rejects.toMatchObject({ status: 422 });
    w.fake.violations.length = 0;
  });
});
