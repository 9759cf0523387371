/**
 * The reporter under faults, against the OpenAPI-checked fake GitHub and both
 * databases: a process that claimed a report and died leaves it to another after
 * its lease; a GitHub 502 is retried with backoff without a second check run; a
 * comment whose id was lost is found by its marker and edited, not posted again;
 * a 200-step run is reported at about one write a second and its last state lands.
 */
import { Octokit } from "@octokit/rest";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RunReporter, retryDelayMs } from "../../../src/github/run-report/reporter.js";
import { rowsOf, type Store } from "../../../src/store/db.js";
import { claimDueReports, runReport } from "../../../src/store/run-reports.js";
import { retryRun } from "../../../src/store/run-control.js";
import { createRun, getRun } from "../../../src/store/runs.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { startPullRequestWorld, type PullRequestWorld } from "../../support/github/pull-request-world.js";
import { BACKENDS } from "../engine/backends.js";
import { IDENTITY, loadWorkflow, request, startWorkers, testRegistry, waitForRun, type Workers } from "../engine/harness.js";

const MERGE = "c0ffee".padEnd(40, "0");

function chain(n: number): WorkflowSpec {
  return {
    apiVersion: "clutch-luigi/v1",
    kind: "Workflow",
    name: `chain-${n}`,
    params: { type: "object" },
    steps: Array.from({ length: n }, (_, i) => ({ id: `s${i}`, uses: "noop", ...(i > 0 ? { needs: [`s${i - 1}`] } : {}) })),
  } as WorkflowSpec;
}

describe.each(BACKENDS)("the run reporter on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let world: PullRequestWorld;
  let gh: Octokit;
  let workers: Workers | null = null;
  const registry = testRegistry({ events: [], spans: [] });

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => cleanup());
  beforeEach(async () => {
    // Each test has its own GitHub: the reports of earlier tests point at check runs it never saw.
    await store.db.raw("delete from run_reports");
    world = await startPullRequestWorld();
    world.git.createRepo("acme/ops");
    gh = new Octokit({ baseUrl: world.url, auth: "ghs_test", log: { debug() {}, info() {}, warn() {}, error() {} } });
  });
  afterEach(async () => {
    await workers?.stop();
    workers = null;
    expect(world.fake.violations.splice(0)).toEqual([]);
    await world.close();
  });

  const reporter = (over: Partial<ConstructorParameters<typeof RunReporter>[0]> = {}) =>
    new RunReporter({ db: store.db, clientFor: async () => gh, graceMs: 0, spacingMs: 0, repoSpacingMs: 0, anchor: false, ...over });

  async function run(workflow: WorkflowSpec, key: string): Promise<string> {
    const r = await createRun(store, { ...IDENTITY, commit: MERGE, workflow, request: request(workflow), requestPath: `requests/${key}.yaml`, registry, idempotencyKey: key, report: { detailsUrl: null, defaultBranch: "main" } });
    return r.runId;
  }

  /** The check run created for a run: the fake keeps runs in the order their POSTs succeeded. */
  const checkOf = (runId: string) => {
    const posts = world.fake.calls.filter((x) => x.method === "POST" && x.template.endsWith("/check-runs") && x.status === 201);
    return world.checks.runs[posts.findIndex((x) => (x.body as { external_id?: string }).external_id === runId)];
  };

  it("a run waiting for its lock is queued and names the run that holds it", async () => {
    const locked = loadWorkflow("locked.yaml");
    const holder = (await createRun(store, { ...IDENTITY, commit: MERGE, workflow: locked, request: request(locked, { database: `orders-${backend.name}`, tag: "a" }), requestPath: "requests/a.yaml", registry, report: { detailsUrl: null, defaultBranch: "main" } })).runId;
    const waiting = (await createRun(store, { ...IDENTITY, commit: MERGE, workflow: locked, request: request(locked, { database: `orders-${backend.name}`, tag: "b" }), requestPath: "requests/b.yaml", registry, report: { detailsUrl: null, defaultBranch: "main" } })).runId;
    await reporter().tick();
    expect(checkOf(holder)).toMatchObject({ status: "in_progress" });
    expect(checkOf(waiting)).toMatchObject({ status: "queued" });
    expect(checkOf(waiting)!.output.title).toBe(`Waiting for lock db:orders-${backend.name}, held by run ${holder}`);
  });

  it("a report claimed by a process that died is published by another once the lease ends", async () => {
    const runId = await run(chain(2), `lease-${backend.name}`);
    // The first process claims it and dies before writing anything.
    expect(await claimDueReports(store.db, { limit: 10, leaseMs: 400, graceMs: 0, runId })).toHaveLength(1);
    const other = reporter();
    await other.tick();
    expect(world.checks.runs).toHaveLength(0); // still leased
    await new Promise((r) => setTimeout(r, 500));
    await other.tick();
    expect(world.checks.runs).toHaveLength(1);
    expect(world.checks.runs[0]).toMatchObject({ headSha: MERGE, status: "in_progress" });
  });

  it("a GitHub 502 is retried with backoff and never makes a second check run", async () => {
    const runId = await run(chain(1), `fault-${backend.name}`);
    const r = reporter();
    await r.tick(); // creates the check
    workers = startWorkers(store, registry, 1);
    await waitForRun(store, runId);
    world.fake.fail("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", 502, 1);
    await r.tick();
    const failed = await runReport(store.db, runId);
    expect(failed!.failures).toBe(1);
    expect(failed!.lastError).toContain("502");
    expect(failed!.checkRunId).toBe(world.checks.runs[0]!.id);
    // Due again only after the backoff; pull it forward rather than sleep.
    await store.db.raw("update run_reports set next_at = now() where run_id = ?", [runId]);
    await r.tick();
    expect(world.checks.runs).toHaveLength(1);
    expect(world.checks.runs[0]).toMatchObject({ status: "completed", conclusion: "success" });
    expect((await runReport(store.db, runId))!.failures).toBe(0);
  });

  it("finds the run's comment by its marker when its id was lost, and edits it", async () => {
    const runId = await run(chain(1), `comment-${backend.name}`);
    workers = startWorkers(store, registry, 1);
    await waitForRun(store, runId);
    const r = reporter();
    await r.tick();
    expect(world.comments.on("acme/ops", 7)).toHaveLength(1);
    // A process posted the comment and died before recording its id; the run then changes again.
    await store.db.raw("update run_reports set comment_id = null, comment_hash = null, wanted_seq = wanted_seq + 1 where run_id = ?", [runId]);
    await r.tick();
    const comments = world.comments.on("acme/ops", 7).filter((c) => c.body.includes(runId));
    expect(comments).toHaveLength(1);
    expect(comments[0]!.edits).toBe(1);
  });

  it("a check GitHub created whose answer was lost is found by the run id and updated, never made twice", async () => {
    const runId = await run(chain(1), `lost-check-${backend.name}`);
    const r = reporter();
    // GitHub creates the check; the publisher never learns its id (a cut connection, or kill -9 before the row was written).
    world.fake.fail("POST /repos/{owner}/{repo}/check-runs", 502, 1, { afterWrite: true });
    await r.tick();
    expect(world.checks.runs).toHaveLength(1);
    expect((await runReport(store.db, runId))!.checkRunId).toBeNull();
    workers = startWorkers(store, registry, 1);
    await waitForRun(store, runId);
    await store.db.raw("update run_reports set next_at = now() where run_id = ?", [runId]);
    await r.tick();
    expect(world.checks.runs).toHaveLength(1);
    expect(world.checks.runs[0]).toMatchObject({ externalId: runId, status: "completed", conclusion: "success" });
    expect((await runReport(store.db, runId))!).toMatchObject({ checkRunId: world.checks.runs[0]!.id, failures: 0 });
  });

  it("a lost check already showing another outcome keeps it: a new check shows the run, and the lost one loses its buttons", async () => {
    const failing = { ...chain(1), name: "fails", steps: [{ id: "s0", uses: "test.flaky", with: { tag: "f", code: "permanent", failTimes: 99 } }] } as WorkflowSpec;
    const runId = await run(failing, `lost-final-${backend.name}`);
    workers = startWorkers(store, registry, 1);
    expect((await waitForRun(store, runId)).state).toBe("failed");
    await workers.stop();
    workers = null;
    const r = reporter();
    world.fake.fail("POST /repos/{owner}/{repo}/check-runs", 502, 1, { afterWrite: true });
    await r.tick();
    expect(world.checks.runs).toHaveLength(1);
    expect(world.checks.runs[0]).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(world.checks.runs[0]!.actions.map((a) => a.identifier)).toContain("retry");
    // The run is retried before any publisher records the lost check: GitHub cannot turn a failure back into in progress.
    await retryRun(store, runId, "alice");
    await store.db.raw("update run_reports set next_at = now() where run_id = ?", [runId]);
    await r.tick();
    expect(world.checks.runs).toHaveLength(2);
    expect(world.checks.runs[0]).toMatchObject({ conclusion: "failure", actions: [] });
    expect(world.checks.runs[1]).toMatchObject({ externalId: runId, status: "in_progress" });
    expect((await runReport(store.db, runId))!.checkRunId).toBe(world.checks.runs[1]!.id);
  });

  it("reports a 200-step run at about one write a second and its last state always lands", async () => {
    const runId = await run(chain(200), `big-${backend.name}`);
    const ctl = new AbortController();
    const loop = reporter({ spacingMs: 1_000, repoSpacingMs: 1_000, pollMs: 50 }).run(ctl.signal);
    const started = Date.now();
    workers = startWorkers(store, registry, 2, { concurrency: 4 });
    await waitForRun(store, runId, 60_000);
    const ranFor = (Date.now() - started) / 1000;
    // The final state reaches GitHub even though most intermediate ones were coalesced away.
    for (let i = 0; i < 100 && world.checks.runs[0]?.status !== "completed"; i++) await new Promise((r) => setTimeout(r, 100));
    ctl.abort();
    await loop;
    const writes = world.fake.calls.filter((c) => c.method !== "GET" && c.status < 300 && c.template.startsWith("/repos/{owner}/{repo}/check-runs")).length;
    expect(world.checks.runs).toHaveLength(1);
    expect(world.checks.runs[0]).toMatchObject({ status: "completed", conclusion: "success" });
    expect(world.checks.runs[0]!.output.title).toBe("Succeeded: 200 of 200 steps");
    expect((await getRun(store, runId))!.state).toBe("succeeded");
    // One write per second of the run at most, plus the first and the last.
    expect(writes).toBeLessThanOrEqual(Math.ceil(ranFor) + 3);
    const audit = rowsOf<{ n: string | number }>(await store.db.raw("select count(*) as n from audit_events where run_id = ?", [runId]))[0]!;
    expect(Number(audit.n)).toBeGreaterThan(400); // the changes there were to report
  });
});

describe.each(BACKENDS)("the periodic audit anchor on $name", (backend) => {
  it("publishes the chain head on the newest run's repository once per interval, and only when the chain grew", async () => {
    const { store, cleanup } = await backend.open();
    const world = await startPullRequestWorld();
    try {
      world.git.createRepo("acme/ops");
      const head = world.git.commit("acme/ops", { branch: "main", files: { "README.md": "ops\n" }, message: "init" });
      const gh = new Octokit({ baseUrl: world.url, auth: "ghs_test", log: { debug() {}, info() {}, warn() {}, error() {} } });
      const registry = testRegistry({ events: [], spans: [] });
      const w = chain(1);
      await createRun(store, { ...IDENTITY, commit: MERGE, workflow: w, request: request(w), requestPath: "requests/anchor.yaml", registry, report: { detailsUrl: null, defaultBranch: "main" } });
      const reporter = new RunReporter({ db: store.db, clientFor: async () => gh, anchorEveryMs: 300, graceMs: 60_000, spacingMs: 0, repoSpacingMs: 0 });
      const anchors = () => world.statuses.statuses.filter((x) => x.context === "clutch-luigi/audit");
      await reporter.tick();
      expect(anchors()).toHaveLength(1);
      const chainHead = rowsOf<{ seq: string | number; hash: string }>(await store.db.raw("select seq, hash from audit_head"))[0]!;
      expect(anchors()[0]).toMatchObject({ sha: head, state: "success", description: `seq ${chainHead.seq} hash ${chainHead.hash}` });
      await reporter.tick(); // within the interval
      await new Promise((r) => setTimeout(r, 400));
      await reporter.tick(); // past it, but the chain has not grown
      expect(anchors()).toHaveLength(1);
      await store.db.transaction((trx) => trx.raw("select cl_audit(?::jsonb)", [JSON.stringify([{ kind: "test.row", run_id: null, step_id: null, actor: "test", data: {} }])]));
      await reporter.tick();
      expect(anchors()).toHaveLength(2);
      expect(world.fake.violations).toEqual([]);
    } finally {
      await world.close();
      await cleanup();
    }
  });
});

describe("retry delays", () => {
  const err = (status: number, headers: Record<string, string>) => Object.assign(new Error(`HTTP ${status}`), { status, response: { headers } });
  it("honour GitHub's retry-after and rate-limit reset, else back off exponentially with jitter", () => {
    expect(retryDelayMs(err(403, { "retry-after": "30" }), 0)).toBe(30_000);
    expect(retryDelayMs(err(429, { "retry-after": "7" }), 5)).toBe(7_000);
    const reset = Math.floor(Date.now() / 1000) + 120;
    const d = retryDelayMs(err(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) }), 0);
    expect(d).toBeGreaterThan(100_000);
    expect(d).toBeLessThanOrEqual(121_000);
    expect(retryDelayMs(err(502, {}), 0, () => 0)).toBe(500);
    expect(retryDelayMs(err(502, {}), 3, () => 1)).toBe(8_000);
    expect(retryDelayMs(err(502, {}), 50, () => 1)).toBe(300_000);
    // A hostile or broken header is ignored, not obeyed.
    expect(retryDelayMs(err(429, { "retry-after": "99999999999" }), 0, () => 1)).toBe(1_000);
  });
});
