/**
 * `github.team-membership` as the catalog uses it, through the real engine, store and
 * context factory against the GitHub fake: the temporary-access workflow grants,
 * waits on a durable timer, and revokes; and a run that fails after the grant rolls
 * it back. The membership is observed on the fake between and after the steps.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Octokit } from "@octokit/rest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createStepContextFactory } from "../../../src/actions/context.js";
import { defaultRegistry } from "../../../src/actions/index.js";
import { parseServerConfig } from "../../../src/server-config/load.js";
import { Worker } from "../../../src/engine/worker.js";
import { checkWorkflow } from "../../../src/formats/check-workflow.js";
import { parseSource } from "../../../src/formats/source.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { createRun, getRun } from "../../../src/store/runs.js";
import { startFakeGitHub, type StartedFakeGitHub } from "../../support/github/index.js";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { runIsOver } from "./time-bound-run.js";
import { testSigner } from "./context-helper.js";

const root = join(import.meta.dirname, "../../..");
let db: TestDatabase;
let store: Store;
let gh: StartedFakeGitHub;
const registry = defaultRegistry();

beforeAll(async () => {
  if (!PG_UP) return;
  db = await createTestDatabase("cl_temp_access");
  store = await openStore({ databaseUrl: db.url, encryptionKey: Buffer.alloc(32, 5).toString("base64"), poolMax: 4 });
  gh = await startFakeGitHub();
  gh.teams.add("acme", "prod-readers", { carol: "member" });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
  await gh?.close();
});
afterEach(() => {
  if (!gh) return;
  expect(gh.fake.violations.splice(0)).toEqual([]);
});

async function catalogWorkflow(): Promise<WorkflowSpec> {
  const file = join(root, "workflows/temporary-access.yaml");
  const parsed = parseSource(file, await readFile(file, "utf8"));
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => p.message).join("\n"));
  const checked = checkWorkflow(parsed.doc, registry);
  expect(checked.problems).toEqual([]);
  return checked.workflow!;
}

/** Runs one workflow to its end with a real worker; `during` watches the fake while it runs. */
async function runToEnd(workflow: WorkflowSpec, params: Record<string, unknown>, during?: () => void) {
  const octokit = new Octokit({ baseUrl: gh.url, auth: "ghs_test", log: { debug() {}, info() {}, warn() {}, error() {} } });
  const contextFactory = createStepContextFactory({
    signer: await testSigner(),
    config: parseServerConfig("{}", "server.yaml", {}),
    services: { github: octokit },
    sink: () => undefined,
  });
  const { runId } = await createRun(store, {
    repository: "acme/ops",
    requester: { login: "dave", type: "User" },
    approvers: [{ login: "bob", reviewId: 80 }],
    workflow,
    request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: workflow.name, reason: "INC-881", params },
    requestPath: "requests/inc-881.yaml",
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
    during?.();
    await new Promise((r) => setTimeout(r, 50));
    run = await getRun(store, runId);
  }
  ctl.abort();
  await loop;
  await queue.close();
  expect(errors).toEqual([]);
  return run!;
}

describe.skipIf(!PG_UP)("temporary access (workflows/temporary-access.yaml)", () => {
  it("grants, holds the grant until the expiry the run armed when it succeeded, then undoes it", async () => {
    const workflow = await catalogWorkflow();
    let seenDuringWait = false;
    // The catalog's params allow 30m and up; the run is created directly with 1s as the test's clock.
    const run = await runToEnd(workflow, { user: "dave", team: "prod-readers", duration: "1s" }, () => {
      if (gh.teams.memberOf("acme", "prod-readers", "dave")) seenDuringWait = true;
    });
    expect(run.state).toBe("rolled_back");
    expect(run.error).toMatch(/^expired at /);
    expect(Object.fromEntries(run.steps.map((s) => [s.stepId, s.state]))).toEqual({ grant: "rolled_back" });
    const kinds = rowsOf<{ kind: string }>(await store.db.raw("select kind from audit_events where run_id = ? order by seq", [run.runId])).map((r) => r.kind);
    expect(kinds.indexOf("run.expired")).toBeGreaterThan(kinds.indexOf("run.succeeded"));
    expect(seenDuringWait).toBe(true);
    expect(gh.teams.memberOf("acme", "prod-readers", "dave")).toBeUndefined();
    expect(gh.teams.memberOf("acme", "prod-readers", "carol")).toEqual({ role: "member", state: "active" });
  });

  it("a run that fails after the grant rolls it back, and leaves prior members alone", async () => {
    const workflow: WorkflowSpec = {
      apiVersion: "clutch-luigi/v1",
      kind: "Workflow",
      name: "grant-then-fail",
      steps: [
        { id: "grant-dave", uses: "github.team-membership", with: { org: "acme", team: "prod-readers", username: "dave" } },
        { id: "grant-carol", uses: "github.team-membership", with: { org: "acme", team: "prod-readers", username: "carol" } },
        { id: "boom", uses: "fail", needs: ["grant-dave", "grant-carol"], with: { message: "downstream check failed" } },
      ],
    };
    const run = await runToEnd(workflow, {});
    expect(run.state).toBe("rolled_back");
    const states = Object.fromEntries(run.steps.map((s) => [s.stepId, s.state]));
    expect(states["grant-dave"]).toBe("rolled_back");
    expect(states.boom).toBe("failed");
    // carol's membership already held, so check() marks her grant done without a call.
    expect(states["grant-carol"]).toBe("skipped");
    expect(gh.teams.memberOf("acme", "prod-readers", "dave")).toBeUndefined();
    // carol was a member before: her grant changed nothing, so its rollback removed nothing.
    expect(gh.teams.memberOf("acme", "prod-readers", "carol")).toEqual({ role: "member", state: "active" });
  });
});
