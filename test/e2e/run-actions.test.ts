/**
 * The run check's buttons end to end: the real Probot server with its in-process
 * worker, the fake GitHub, signed `check_run.requested_action` deliveries over HTTP,
 * on the embedded database and on Postgres. A merged request runs; a code owner's
 * Retry re-runs the failed steps to success; an operator's Roll back undoes it; a
 * non-owner's and a bot's clicks are refused, audited and noted on the check; Cancel
 * stops a run whose durable wait is pending. "Re-run all checks" re-evaluates a PR.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { listAuditEvents, verifyAuditChain } from "../../src/store/audit.js";
import { rowsOf } from "../../src/store/db.js";
import { getRun, type RunStatus } from "../../src/store/runs.js";
import type { FakeCheckRun, FakePull } from "../support/github/pull-request-world.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { PG_UP } from "../support/pg-suite.js";
import { sharedKeysEnv } from "../support/shared-keys.js";
import { REPO } from "../integration/github/world.js";
import { startApp, type E2eApp } from "./app.js";
import { requestedActionPayload, rerequestedPayload } from "./check-run-client.js";
import { delivery, payloadFor } from "./webhook-client.js";

const FLAKY = `apiVersion: clutch-luigi/v1
kind: Workflow
name: flaky-restart
description: Announce, then restart; the restart fails on its first attempt
params:
  type: object
  additionalProperties: false
  required: [service]
  properties:
    service: { type: string, enum: [checkout, search] }
steps:
  - id: announce
    uses: log
    with: { message: "restarting \${{ params.service }}" }
    rollback: { uses: log, with: { message: "restart of \${{ params.service }} called off" } }
  - id: restart
    needs: [announce]
    uses: fail
    with: { times: 1, code: flaky, message: "pods did not come back" }
`;

const PAUSED = `apiVersion: clutch-luigi/v1
kind: Workflow
name: paused-restart
description: Announce, wait an hour, restart
params:
  type: object
  additionalProperties: false
  required: [service]
  properties:
    service: { type: string, enum: [checkout, search] }
steps:
  - id: announce
    uses: log
    with: { message: "restarting \${{ params.service }} in an hour" }
    rollback: { uses: log, with: { message: "restart of \${{ params.service }} called off" } }
  - id: pause
    needs: [announce]
    uses: wait
    with: { duration: 1h }
  - id: restart
    needs: [pause]
    uses: noop
`;

const POLICY = `staleApprovals: content
botsMayRequest: false
operators: ["@acme/oncall"]
`;

const request = (workflow: string) => `apiVersion: clutch-luigi/v1
kind: Request
workflow: ${workflow}
reason: "OPS-77 checkout pods leak memory"
params: { service: checkout }
`;

const alice = { login: "alice", type: "User" as const };
const SAM = { login: "sam", type: "User" }; // @acme/sre: code owner of /requests/
const OTTO = { login: "otto", type: "User" }; // @acme/oncall: an operator, owns nothing
const RITA = { login: "rita", type: "User" }; // read access, no team
const BOT = { login: "deploy-helper[bot]", type: "Bot" };

const backends: { name: string; env(): Promise<{ env: NodeJS.ProcessEnv; drop(): Promise<void> }> }[] = [
  { name: "the embedded database", env: async () => ({ env: {}, drop: async () => undefined }) },
  ...(PG_UP
    ? [
        {
          name: "Postgres",
          env: async () => {
            const db: TestDatabase = await createTestDatabase("cl_e2e_buttons");
            return { env: { DATABASE_URL: db.url, ...(await sharedKeysEnv()) }, drop: () => db.drop() };
          },
        },
      ]
    : []),
];

describe.each(backends)("run check buttons on $name", (backend) => {
  let app: E2eApp;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const b = await backend.env();
    drop = b.drop;
    // The server's own worker runs the steps.
    app = await startApp({ env: { ...b.env, CLUTCH_LUIGI_WORKERS: "1" } });
    app.world.teams.add("acme", "oncall", { otto: "member" });
    app.world.git.commit(REPO, {
      branch: "main",
      files: { "workflows/flaky-restart.yaml": FLAKY, "workflows/paused-restart.yaml": PAUSED, ".github/clutch-luigi.yml": POLICY },
      message: "catalog and operators",
    });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await drop?.();
  });
  afterEach(() => {
    expect(app.world.fake.violations.splice(0)).toEqual([]);
  });

  const auditRows = async (kind: string, runId?: string) =>
    (await listAuditEvents(app.server.store.db, { limit: 100_000, ...(runId ? { runId } : {}) })).filter((r) => r.kind === kind);

  async function send(event: "pull_request" | "pull_request_review", action: string, p: FakePull, extra: Parameters<typeof payloadFor>[3] = {}): Promise<number> {
    return (await app.deliver(delivery(event, payloadFor(event, action, p, extra)))).status;
  }

  async function until(what: string, probe: () => Promise<RunStatus | undefined>, ms = 30_000): Promise<RunStatus> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const runReaches = (runId: string, states: string[], what = states.join(" or ")) =>
    until(what, async () => {
      const r = await getRun(app.server.store, runId);
      return r && states.includes(r.state) ? r : undefined;
    });

  /** A request PR approved by sam, merged; returns its run and the run check GitHub has on the merge commit. */
  async function mergedRun(path: string, workflow: string): Promise<{ runId: string; mergeSha: string; p: FakePull }> {
    const files = { [path]: request(workflow) };
    const p = app.world.pulls.open(REPO, { author: alice, files });
    expect(await send("pull_request", "opened", p)).toBe(200);
    app.world.pulls.review(p, "sam", "APPROVED");
    expect(await send("pull_request_review", "submitted", p, { sender: "sam" })).toBe(200);
    const mergeSha = app.world.git.commit(REPO, { branch: "main", files, author: "web-flow", message: `Merge pull request #${p.number}` });
    app.world.pulls.markMerged(p, mergeSha);
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" })).toBe(200);
    const [run] = rowsOf<{ id: string }>(await app.server.store.db.raw("select id from runs where identity->>'commit' = ?", [mergeSha]));
    expect(run, "the merge started a run").toBeDefined();
    return { runId: run!.id, mergeSha, p };
  }

  const runCheck = (sha: string): FakeCheckRun => {
    const c = app.world.checks.runs.filter((r) => r.name === "clutch-luigi/run" && r.headSha === sha).at(-1);
    if (!c) throw new Error(`no clutch-luigi/run check on ${sha}`);
    return c;
  };

  /** The run check once the reporter has published `conclusion` on it. */
  async function checkConcluded(sha: string, conclusion: string): Promise<FakeCheckRun> {
    const end = Date.now() + 30_000;
    for (;;) {
      const c = app.world.checks.runs.filter((r) => r.name === "clutch-luigi/run" && r.headSha === sha).at(-1);
      if (c?.conclusion === conclusion) return c;
      if (Date.now() > end) throw new Error(`the run check on ${sha} never concluded ${conclusion} (it is ${c?.status}/${c?.conclusion})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const runChecks = (sha: string) => app.world.checks.runs.filter((r) => r.name === "clutch-luigi/run" && r.headSha === sha);

  async function click(sha: string, runId: string, identifier: string, who: { login: string; type: string }): Promise<number> {
    const d = delivery("check_run", requestedActionPayload(runCheck(sha), identifier, who, runId));
    return (await app.deliver(d)).status;
  }

  it("Retry by a code owner re-runs the failed steps to success, Roll back by an operator undoes them; a non-owner and a bot are refused, audited and told on the check", async () => {
    const { runId, mergeSha } = await mergedRun("requests/2026/flaky.yaml", "flaky-restart");
    const first = await runReaches(runId, ["rolled_back"]);
    expect(first.steps.map((s) => [s.stepId, s.state])).toEqual([["announce", "rolled_back"], ["restart", "failed"]]);
    const failedCheck = await checkConcluded(mergeSha, "failure");

    // Neither rita (no team, not an owner) nor a bot may retry: nothing moves.
    expect(await click(mergeSha, runId, "retry", RITA)).toBe(200);
    expect(await click(mergeSha, runId, "retry", BOT)).toBe(200);
    const refusals = await auditRows("run.action_refused", runId);
    expect(refusals.map((r) => [r.actor, r.data.action, r.data.code])).toEqual([
      ["rita", "retry", "not-authorized"],
      ["deploy-helper[bot]", "retry", "bot"],
    ]);
    expect(refusals[0]!.data).toMatchObject({ clicker: "rita", checkRunId: runCheck(mergeSha).id, reason: expect.stringContaining("neither a code owner of requests/2026/flaky.yaml") });
    expect(runCheck(mergeSha).output.text).toMatch(/\*\*Retry failed steps\*\* was refused for @deploy-helper\[bot\] at .*bots never retry runs/);
    // One note at a time: the later refusal replaced the earlier one.
    expect(runCheck(mergeSha).output.text).not.toContain("@rita");
    expect((await getRun(app.server.store, runId))!.state).toBe("rolled_back");
    expect(await auditRows("run.retried", runId)).toEqual([]);

    // sam is in @acme/sre, which owns /requests/ by CODEOWNERS on main.
    expect(await click(mergeSha, runId, "retry", SAM)).toBe(200);
    const retried = await runReaches(runId, ["succeeded"], "the retried run to succeed");
    expect(retried.steps.map((s) => [s.stepId, s.state, s.attempt])).toEqual([["announce", "succeeded", 2], ["restart", "succeeded", 2]]);
    // A completed check cannot be reopened: the retried run is shown on a new clutch-luigi/run check, the failed one stays as it was.
    const succeededCheck = await checkConcluded(mergeSha, "success");
    expect(succeededCheck.id).not.toBe(failedCheck.id);
    expect(runChecks(mergeSha).find((c) => c.id === failedCheck.id)).toMatchObject({ status: "completed", conclusion: "failure" });
    // The superseded check keeps its outcome but loses its buttons; the new one offers what fits now.
    expect(runChecks(mergeSha).find((c) => c.id === failedCheck.id)!.actions).toEqual([]);
    expect(succeededCheck.actions.map((a) => a.identifier)).toEqual(["rollback"]);
    expect((await auditRows("run.retried", runId))).toEqual([
      expect.objectContaining({ actor: "sam", data: expect.objectContaining({ from: "rolled_back", steps: ["announce", "restart"], via: "check_run", as: "codeowner", grantedBy: "@acme/sre" }) }),
    ]);

    // Roll back: refused for rita and the bot, done for otto, an operator by @acme/oncall.
    expect(await click(mergeSha, runId, "rollback", RITA)).toBe(200);
    expect(await click(mergeSha, runId, "rollback", BOT)).toBe(200);
    expect((await auditRows("run.action_refused", runId)).slice(2).map((r) => [r.actor, r.data.action, r.data.code])).toEqual([
      ["rita", "rollback", "not-authorized"],
      ["deploy-helper[bot]", "rollback", "bot"],
    ]);
    expect((await getRun(app.server.store, runId))!.state).toBe("succeeded");
    expect(await click(mergeSha, runId, "rollback", OTTO)).toBe(200);
    const undone = await runReaches(runId, ["rolled_back", "rollback_failed"]);
    expect(undone.state).toBe("rolled_back");
    // `fail` cannot be undone; the announcement is.
    expect(undone.steps.map((s) => [s.stepId, s.state])).toEqual([["announce", "rolled_back"], ["restart", "succeeded"]]);
    // And the roll back, another outcome, is a third check; the succeeded one keeps its conclusion.
    // An undo someone asked for is no failure: neutral, titled with who asked.
    const rolledBackCheck = await checkConcluded(mergeSha, "neutral");
    expect(rolledBackCheck.output.title).toBe("Rolled back on request by otto");
    expect(rolledBackCheck.id).not.toBe(succeededCheck.id);
    expect(runChecks(mergeSha).find((c) => c.id === succeededCheck.id)).toMatchObject({ conclusion: "success" });
    expect(await auditRows("run.rollback_requested", runId)).toEqual([
      expect.objectContaining({ actor: "otto", data: expect.objectContaining({ via: "check_run", as: "operator", grantedBy: "@acme/oncall", steps: ["announce"] }) }),
    ]);

    // A button that does not apply to the run's state is refused too, and said so.
    expect(await click(mergeSha, runId, "cancel", SAM)).toBe(200);
    expect((await auditRows("run.action_refused", runId)).at(-1)).toMatchObject({ actor: "sam", data: { action: "cancel", code: "not-active" } });
    expect((await verifyAuditChain(app.server.store.db)).ok).toBe(true);
  }, 90_000);

  it("Cancel run while a durable wait is pending: the timer never fires, the announcement is undone, the run is cancelled", async () => {
    const { runId, mergeSha } = await mergedRun("requests/2026/paused.yaml", "paused-restart");
    await until("the wait to be parked", async () => {
      const r = await getRun(app.server.store, runId);
      return r?.steps.find((s) => s.stepId === "pause")?.state === "waiting" ? r : undefined;
    });
    expect(await click(mergeSha, runId, "cancel", BOT)).toBe(200);
    expect((await getRun(app.server.store, runId))!.state).toBe("running");
    expect(await click(mergeSha, runId, "cancel", SAM)).toBe(200);
    const run = await runReaches(runId, ["cancelled"]);
    expect(run.steps.map((s) => [s.stepId, s.state])).toEqual([["announce", "rolled_back"], ["pause", "cancelled"], ["restart", "cancelled"]]);
    await checkConcluded(mergeSha, "cancelled");
    expect(await auditRows("run.cancel_requested", runId)).toEqual([expect.objectContaining({ actor: "sam", data: expect.objectContaining({ via: "check_run", as: "codeowner" }) })]);
    expect((await auditRows("run.action_refused", runId)).map((r) => [r.actor, r.data.code])).toEqual([["deploy-helper[bot]", "bot"]]);
    // A cancel is a decision: Retry does not undo it.
    expect(await click(mergeSha, runId, "retry", SAM)).toBe(200);
    expect((await auditRows("run.action_refused", runId)).at(-1)).toMatchObject({ actor: "sam", data: { action: "retry", code: "not-retryable" } });
  }, 60_000);

  it("a click on a check of another commit reaches no run, and other buttons are not this handler's", async () => {
    const { runId, mergeSha } = await mergedRun("requests/2026/other.yaml", "flaky-restart");
    await runReaches(runId, ["rolled_back"]);
    const check = { ...runCheck(mergeSha), headSha: "e".repeat(40) };
    const d = delivery("check_run", requestedActionPayload(check, "retry", SAM, runId));
    expect((await app.deliver(d)).status).toBe(200);
    expect(await auditRows("run.retried", runId)).toEqual([]);
    expect((await auditRows("run.action_refused")).at(-1)).toMatchObject({ run_id: null, actor: "sam", data: { code: "unknown-run" } });
    expect(await click(mergeSha, runId, "revoke", SAM)).toBe(200);
    expect((await getRun(app.server.store, runId))!.state).toBe("rolled_back");
  }, 60_000);

  it("Re-run of the policy check and of the whole suite evaluates the pull request again", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { "requests/2026/rerun.yaml": request("flaky-restart") } });
    expect(await send("pull_request", "opened", p)).toBe(200);
    const policyChecks = () => app.world.checks.runs.filter((r) => r.headSha === p.headSha && r.name === "clutch-luigi/policy");
    expect(policyChecks().at(-1)!.conclusion).not.toBe("success");
    const evaluations = async () => (await auditRows("request.evaluated")).filter((r) => r.data.pullRequest === p.number);
    const before = (await evaluations()).length;
    // The approval arrives without its delivery (a missed webhook): Re-run picks it up.
    app.world.pulls.review(p, "sam", "APPROVED");
    const at = { owner: "acme", repo: "ops", headSha: p.headSha, pullNumber: p.number };
    expect((await app.deliver(delivery("check_run", rerequestedPayload("check_run", { ...at, name: "clutch-luigi/policy" }, "sam")))).status).toBe(200);
    expect(await evaluations()).toHaveLength(before + 1);
    expect((await evaluations()).at(-1)).toMatchObject({ actor: "sam", data: { approved: true } });
    expect(app.world.checks.runs.filter((r) => r.headSha === p.headSha && r.name === "clutch-luigi/policy").some((c) => c.conclusion === "success")).toBe(true);
    expect((await app.deliver(delivery("check_suite", rerequestedPayload("check_suite", at, "alice")))).status).toBe(200);
    expect(await evaluations()).toHaveLength(before + 2);
    // Re-running the run check starts nothing.
    expect((await app.deliver(delivery("check_run", rerequestedPayload("check_run", { ...at, name: "clutch-luigi/run" }, "sam")))).status).toBe(200);
    expect(await evaluations()).toHaveLength(before + 2);
  }, 60_000);
});
