/**
 * Prior state restored, on real Postgres through the real engine: the catalog's
 * temporary-access workflow and a grant whose run fails afterwards, against the GitHub
 * fake, for people who were not in the team, already members, maintainers, or invited.
 * Undoing a grant — the revoke at expiry or the rollback — puts back exactly the
 * membership the grant found, and a maintainer is never demoted.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Octokit } from "@octokit/rest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { StepLogEntry } from "../../../src/actions/context.js";
import type { GitHubRequester } from "../../../src/actions/builtin/github-client.js";
import { defaultRegistry } from "../../../src/actions/index.js";
import { Worker } from "../../../src/engine/worker.js";
import { checkWorkflow } from "../../../src/formats/check-workflow.js";
import { parseSource } from "../../../src/formats/source.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { createStepRuntime } from "../../../src/runtime/step-runtime.js";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { createRun, getRun } from "../../../src/store/runs.js";
import { startFakeGitHub, type StartedFakeGitHub } from "../../support/github/index.js";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { runIsOver } from "./time-bound-run.js";

const root = join(import.meta.dirname, "../../..");
const registry = defaultRegistry();
let db: TestDatabase;
let store: Store;
let gh: StartedFakeGitHub;
let logs: StepLogEntry[] = [];

beforeAll(async () => {
  if (!PG_UP) return;
  db = await createTestDatabase("cl_prior_state");
  store = await openStore({ databaseUrl: db.url, encryptionKey: Buffer.alloc(32, 7).toString("base64"), poolMax: 4 });
  gh = await startFakeGitHub();
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
  await gh?.close();
});
afterEach(() => {
  logs = [];
  if (gh) expect(gh.fake.violations.splice(0)).toEqual([]);
});

async function catalogWorkflow(): Promise<WorkflowSpec> {
  const file = join(root, "workflows/temporary-access.yaml");
  const parsed = parseSource(file, await readFile(file, "utf8"));
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => p.message).join("\n"));
  const checked = checkWorkflow(parsed.doc, registry);
  expect(checked.problems).toEqual([]);
  return checked.workflow!;
}

/** A workflow that grants and then fails, so the engine rolls the grant back. */
function grantThenFail(team: string, username: string, role: "member" | "maintainer" = "member"): WorkflowSpec {
  return {
    apiVersion: "clutch-luigi/v1",
    kind: "Workflow",
    name: "grant-then-fail",
    steps: [
      { id: "grant", uses: "github.team-membership", with: { org: "acme", team, username, role } },
      { id: "boom", uses: "fail", needs: ["grant"], with: { message: "downstream check failed" } },
    ],
  };
}

/** Runs one workflow to its end with a real worker built as `clutch-luigi worker` builds it (step memos in the store). */
async function runToEnd(workflow: WorkflowSpec, params: Record<string, unknown>, github: GitHubRequester = octokit()) {
  const { contextFactory } = await createStepRuntime({ env: {}, store, services: { github }, sink: (e) => logs.push(e) });
  const { runId } = await createRun(store, {
    repository: "acme/ops",
    requester: { login: "dave", type: "User" },
    approvers: [{ login: "bob", reviewId: 80 }],
    workflow,
    request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: workflow.name, reason: "INC-9", params },
    requestPath: "requests/inc-9.yaml",
    registry,
  });
  const ctl = new AbortController();
  const queue = new PgWorkQueue(store, { leaseMs: 5_000 });
  const errors: unknown[] = [];
  const worker = new Worker({ queue, registry, contextFactory, concurrency: 2, leaseMs: 5_000, pollMs: 50, onError: (e) => errors.push(e) });
  const loop = worker.run(ctl.signal);
  let run = await getRun(store, runId);
  const end = Date.now() + 25_000;
  // A time-bound run is over when its change has been undone too (its expiry fired).
  while (run && !(await runIsOver(store, run)) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    run = await getRun(store, runId);
  }
  ctl.abort();
  await loop;
  await queue.close();
  expect(errors).toEqual([]);
  return run!;
}

/**
 * The run failed and nothing it did is left: the engine calls a run rolled_back when
 * a rollback ran, and failed when the grant had changed nothing (check() found it done).
 */
function expectUndone(run: { state: string; steps: { stepId: string; state: string }[] }): void {
  expect(["failed", "rolled_back"]).toContain(run.state);
  expect(states(run).boom).toBe("failed");
  expect(["skipped", "rolled_back"]).toContain(states(run).grant);
}

const octokit = () => new Octokit({ baseUrl: gh.url, auth: "ghs_test", log: { debug() {}, info() {}, warn() {}, error() {} } });

const states = (run: { steps: { stepId: string; state: string }[] }) => Object.fromEntries(run.steps.map((s) => [s.stepId, s.state]));
const writes = () => gh.fake.calls.filter((c) => c.method !== "GET" && c.template.includes("/memberships/"));

async function expiryOutcome(runId: string): Promise<string | null> {
  return rowsOf<{ outcome: string | null }>(await store.db.raw("select outcome from run_expiries where run_id = ?", [runId]))[0]?.outcome ?? null;
}

async function grantOutputs(runId: string): Promise<Record<string, unknown>> {
  const row = rowsOf<{ outputs: Record<string, unknown> }>(await store.db.raw("select outputs from steps where run_id = ? and step_id = 'grant'", [runId]))[0];
  return row!.outputs;
}

describe.skipIf(!PG_UP)("github.team-membership restores the membership it found", () => {
  it("temporary access for someone already a member leaves them a member after expiry", async () => {
    gh.teams.add("acme", "prod-readers", { mia: "member" });
    gh.fake.calls.length = 0;
    const run = await runToEnd(await catalogWorkflow(), { user: "mia", team: "prod-readers", duration: "1s" });
    // Nothing changed, so nothing is undone: the run stays succeeded and its expiry is recorded.
    expect(run.state).toBe("succeeded");
    expect(await expiryOutcome(run.runId)).toBe("expired");
    expect(gh.teams.memberOf("acme", "prod-readers", "mia")).toEqual({ role: "member", state: "active" });
    expect(writes()).toEqual([]);
    expect(await grantOutputs(run.runId)).toMatchObject({ previous: "member", changed: false, restore: "unchanged" });
  });

  it("temporary access for a maintainer does nothing, says so, and never demotes them", async () => {
    gh.teams.add("acme", "prod-admins", { max: "maintainer" });
    gh.fake.calls.length = 0;
    const run = await runToEnd(await catalogWorkflow(), { user: "max", team: "prod-admins", duration: "1s" });
    expect(run.state).toBe("succeeded");
    expect(await expiryOutcome(run.runId)).toBe("expired");
    expect(gh.teams.memberOf("acme", "prod-admins", "max")).toEqual({ role: "maintainer", state: "active" });
    expect(writes()).toEqual([]);
    const out = await grantOutputs(run.runId);
    expect(out).toMatchObject({ previous: "maintainer", changed: false, restore: "unchanged" });
    expect(out.note).toMatch(/already maintainer: a grant never lowers a role/);
  });

  it("temporary access for someone not in the team removes them at the end", async () => {
    gh.teams.add("acme", "db-operators");
    const run = await runToEnd(await catalogWorkflow(), { user: "nia", team: "db-operators", duration: "1s" });
    expect(states(run)).toEqual({ grant: "rolled_back" });
    expect(run.error).toMatch(/^expired at /);
    expect(await grantOutputs(run.runId)).toMatchObject({ previous: "none", changed: true, restore: "none" });
    expect(gh.teams.memberOf("acme", "db-operators", "nia")).toBeUndefined();
  });

  it("a grant to someone who was already a member leaves them a member after the rollback", async () => {
    gh.teams.add("acme", "payments", { omar: "member" });
    const run = await runToEnd(grantThenFail("payments", "omar"), {});
    expectUndone(run);
    expect(gh.teams.memberOf("acme", "payments", "omar")).toEqual({ role: "member", state: "active" });
  });

  it("a maintainer is never demoted, not by the grant and not by its rollback", async () => {
    gh.teams.add("acme", "payments", { pia: "maintainer" });
    gh.fake.calls.length = 0;
    const run = await runToEnd(grantThenFail("payments", "pia"), {});
    expectUndone(run);
    expect(gh.teams.memberOf("acme", "payments", "pia")).toEqual({ role: "maintainer", state: "active" });
    expect(writes()).toEqual([]);
    expect(logs.some((l) => l.level === "warn" && /never lowers a role/.test(l.message))).toBe(true);
  });

  it("a member raised to maintainer goes back to member on rollback, not out of the team", async () => {
    gh.teams.add("acme", "payments", { quinn: "member" });
    const run = await runToEnd(grantThenFail("payments", "quinn", "maintainer"), {});
    expect(run.state).toBe("rolled_back");
    expect(await grantOutputs(run.runId)).toMatchObject({ previous: "member", changed: true });
    expect(gh.teams.memberOf("acme", "payments", "quinn")).toEqual({ role: "member", state: "active" });
  });

  it("a pending invitation counts as its role: the grant leaves it, and neither revoke nor rollback withdraws it", async () => {
    gh.teams.add("acme", "prod-readers");
    gh.teams.members.get("acme/prod-readers")!.set("rae", { role: "member", state: "pending" });
    const run = await runToEnd(await catalogWorkflow(), { user: "rae", team: "prod-readers", duration: "1s" });
    expect(run.state).toBe("succeeded");
    expect(await grantOutputs(run.runId)).toMatchObject({ state: "pending", previous: "member", previousState: "pending", changed: false });
    expect(gh.teams.memberOf("acme", "prod-readers", "rae")).toEqual({ role: "member", state: "pending" });
    expectUndone(await runToEnd(grantThenFail("prod-readers", "rae"), {}));
    expect(gh.teams.memberOf("acme", "prod-readers", "rae")).toEqual({ role: "member", state: "pending" });
  });

  it("a forged restore value is refused before anything is sent", async () => {
    gh.teams.add("acme", "payments", { sam: "member" });
    gh.fake.calls.length = 0;
    const workflow: WorkflowSpec = {
      apiVersion: "clutch-luigi/v1",
      kind: "Workflow",
      name: "forged-restore",
      steps: [{ id: "undo", uses: "github.team-membership", with: { org: "acme", team: "payments", username: "sam", restore: "${{ params.to }}" } }],
    };
    for (const to of ["admin", "toString", "__proto__", "None", "none ", "x".repeat(100_000)]) {
      const run = await runToEnd(workflow, { to });
      expect(run.state).toBe("failed");
      expect(run.steps[0]!.errorClass).toBe("invalid-input");
    }
    expect(gh.fake.calls).toEqual([]);
    expect(gh.teams.memberOf("acme", "payments", "sam")).toEqual({ role: "member", state: "active" });
  });

  it("a grant whose answer was lost after GitHub applied it still ends by removing the person (the memo, not the retry's reading)", async () => {
    gh.teams.add("acme", "prod-readers");
    const real = octokit();
    let lost = 0;
    // GitHub made tia a member, then the connection dropped before the worker heard back:
    // the retry finds her a member already, as if she had been one before the run.
    const flaky: GitHubRequester = {
      async request(route, params) {
        const res = await real.request(route, params);
        if (route.startsWith("PUT ") && lost++ === 0) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        return res;
      },
    };
    const run = await runToEnd(await catalogWorkflow(), { user: "tia", team: "prod-readers", duration: "1s" }, flaky);
    // The retry found her a member, but the change was the step's own: it succeeded (not skipped), and expiry undid it.
    expect(run.state).toBe("rolled_back");
    expect(run.steps.find((s) => s.stepId === "grant")?.state).toBe("rolled_back");
    expect(run.steps.find((s) => s.stepId === "grant")?.attempt).toBe(2);
    expect(await grantOutputs(run.runId)).toMatchObject({ previous: "none", changed: true, restore: "none" });
    expect(gh.teams.memberOf("acme", "prod-readers", "tia")).toBeUndefined();
    const memo = rowsOf<{ value: unknown }>(await store.db.raw("select value from step_memos where run_id = ? and step_id = 'grant'", [run.runId]))[0];
    expect(memo?.value).toEqual({ membership: "none", state: "none" });
  });
});
