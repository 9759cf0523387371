/**
 * The pull request shows how its run went, end to end: approve → merge → the run
 * goes on the server's own worker → `clutch-luigi/run` on the merge commit moves to
 * completed with its step table and coloured graph → one outcome comment with the
 * audit reference → the chain head anchored as a status on main. A failing step
 * rolls back and the check says what was undone; a redelivered merge adds nothing.
 * On the embedded database and on Postgres.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chainHead } from "../../src/store/audit-query.js";
import { rowsOf } from "../../src/store/db.js";
import { runReport } from "../../src/store/run-reports.js";
import { getRun } from "../../src/store/runs.js";
import { REPO } from "../integration/github/world.js";
import type { FakePull } from "../support/github/pull-request-world.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { PG_UP } from "../support/pg-suite.js";
import { sharedKeysEnv } from "../support/shared-keys.js";
import { startApp, type E2eApp } from "./app.js";
import { delivery, payloadFor } from "./webhook-client.js";
import { until } from "../support/until.js";

const DRILL = `apiVersion: clutch-luigi/v1
kind: Workflow
name: drill
description: Two changes; the second fails, the first undoes itself
params:
  type: object
  additionalProperties: false
  required: [ticket]
  properties:
    ticket: { type: string, pattern: "^[A-Z]+-[0-9]+$" }
steps:
  - id: first
    uses: log
    with: { message: "first change for \${{ params.ticket }}" }
    rollback: { uses: log, with: { message: "undo first change" } }
  - id: second
    needs: [first]
    uses: fail
`;

const request = (svc = "checkout"): string => `apiVersion: clutch-luigi/v1
kind: Request
workflow: restart-service
reason: "OPS-1 restart ${svc}"
params: { service: ${svc} }
`;


const backends: { name: string; up: boolean; env: () => Promise<NodeJS.ProcessEnv>; done: () => Promise<void> }[] = [];
{
  backends.push({ name: "embedded", up: true, env: async () => ({}), done: async () => {} });
  let db: TestDatabase | undefined;
  backends.push({
    name: "postgres",
    up: PG_UP,
    env: async () => {
      db = await createTestDatabase("cl_e2e_report");
      return { DATABASE_URL: db.url, ...(await sharedKeysEnv()) };
    },
    done: async () => db?.drop(),
  });
}

describe.each(backends)("run reports on the pull request ($name)", (backend) => {
  let app: E2eApp;
  beforeAll(async () => {
    if (!backend.up) return;
    app = await startApp({ env: { ...(await backend.env()), CLUTCH_LUIGI_WORKERS: "1" } });
  });
  afterAll(async () => {
    await app?.close();
    await backend.done();
  });
  afterEach(() => {
    if (app) expect(app.world.fake.violations.splice(0)).toEqual([]);
  });

  /** Open, approve (evaluated), merge and deliver the merge; returns the PR, its merge commit and the run id. */
  async function mergeRequest(path: string, text: string, approver = "sam"): Promise<{ p: FakePull; mergeSha: string; runId: string }> {
    const p = app.world.pulls.open(REPO, { author: { login: "alice", type: "User" }, files: { [path]: text } });
    app.world.pulls.review(p, approver, "APPROVED");
    expect((await app.deliver(delivery("pull_request_review", payloadFor("pull_request_review", "submitted", p, { sender: approver })))).status).toBe(200);
    const mergeSha = app.world.git.commit(REPO, { branch: "main", files: { [path]: text }, author: "web-flow", message: `Merge pull request #${p.number}` });
    app.world.pulls.markMerged(p, mergeSha);
    const merged = delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: approver }));
    expect((await app.deliver(merged)).status).toBe(200);
    const run = rowsOf<{ id: string }>(await app.server.store.db.raw("select id from runs where request_path = ?", [path]))[0];
    expect(run, "the merge started a run").toBeDefined();
    return { p, mergeSha, runId: run!.id };
  }

  /** The run finished and everything up to its last audit row is on GitHub. */
  async function settled(runId: string): Promise<void> {
    await until(`run ${runId} reported`, async () => {
      const r = await getRun(app.server.store, runId);
      if (!r?.finishedAt) return undefined;
      const rep = await runReport(app.server.store.db, runId);
      const last = rowsOf<{ seq: string | number }>(await app.server.store.db.raw("select max(seq) as seq from audit_events where run_id = ?", [runId]))[0]!;
      return rep && rep.publishedSeq >= Number(last.seq) && rep.commentId !== null ? true : undefined;
    });
  }

  const runChecks = (sha: string) => app.world.checks.runs.filter((c) => c.name === "clutch-luigi/run" && c.headSha === sha);

  it.skipIf(!backend.up)("a run that succeeds completes its check with the step table and leaves one comment with the audit reference", async () => {
    const { p, mergeSha, runId } = await mergeRequest("requests/restart-checkout.yaml", request());
    await settled(runId);

    const checks = runChecks(mergeSha);
    expect(checks).toHaveLength(1);
    const check = checks[0]!;
    expect(check).toMatchObject({ status: "completed", conclusion: "success" });
    expect(check.output.title).toBe("Succeeded: 3 of 3 steps");
    for (const step of ["announce", "restart", "done"]) expect(check.output.summary).toMatch(new RegExp(`\\| \`${step}\` \\| succeeded \\| 1 \\| \\d`));
    expect(check.output.summary).toContain(`clutch-luigi audit show ${runId}`);
    expect(check.output.text).toContain("```mermaid");
    expect(check.output.text).toMatch(/s0\["announce<br\/>succeeded"\]:::done/);

    const comments = app.world.comments.on(REPO, p.number);
    expect(comments).toHaveLength(1);
    const body = comments[0]!.body;
    expect(body).toContain("### ✅ Run succeeded");
    expect(body).toContain(`run \`${runId}\``);
    expect(body).toContain(`clutch-luigi audit show ${runId}`);
    const last = rowsOf<{ seq: string | number; hash: string }>(await app.server.store.db.raw("select seq, hash from audit_events where run_id = ? order by seq desc limit 1", [runId]))[0]!;
    expect(body).toContain(`seq ${last.seq}, hash \`${last.hash}\``);
    expect(body).toContain("- **Undone**: nothing");

    // The chain head is anchored where the database cannot rewrite it, and the comment says so.
    const anchors = app.world.statuses.statuses.filter((s) => s.context === "clutch-luigi/audit");
    expect(anchors.length).toBeGreaterThanOrEqual(1);
    const anchor = anchors.at(-1)!;
    expect(anchor.sha).toBe(app.world.git.repo("acme", "ops")!.branches.get("main"));
    expect(anchor.description).toMatch(/^seq \d+ hash [0-9a-f]{64}$/);
    expect(body).toMatch(/\*\*Anchor\*\*: chain head seq \d+ .* published as the `clutch-luigi\/audit` status on acme\/ops@main/);
    expect((await chainHead(app.server.store.db)).seq).toBeGreaterThanOrEqual(Number(last.seq));

    // /metrics: nothing is left to report.
    const metrics = await (await fetch(`${app.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^clutch_luigi_run_reports_due 0$/m);
    expect(metrics).toMatch(/^clutch_luigi_run_reports_failing 0$/m);

    // A redelivered merge — the same delivery id, then a new one — starts nothing and leaves the run's check and comment alone.
    const runWrites = () => app.world.fake.calls.filter((c) => c.method !== "GET" && (c.template.includes("/issues/") || Number(c.params.check_run_id) === check.id)).length;
    const before = runWrites();
    const again = delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" }));
    expect((await app.deliver(again)).status).toBe(200);
    expect((await app.deliver(again)).status).toBe(200);
    expect((await app.deliver(delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" })))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(rowsOf(await app.server.store.db.raw("select id from runs where request_path = ?", ["requests/restart-checkout.yaml"]))).toHaveLength(1);
    expect(app.world.comments.on(REPO, p.number)).toHaveLength(1);
    expect(runChecks(mergeSha)).toHaveLength(1);
    expect(runWrites()).toBe(before);
  });

  it.skipIf(!backend.up)("a failing step rolls back and the check fails naming what was undone, in order", async () => {
    app.world.git.commit(REPO, { branch: "main", files: { "workflows/drill.yaml": DRILL }, message: "catalog: drill" });
    const text = `apiVersion: clutch-luigi/v1
kind: Request
workflow: drill
reason: "DRILL-7 rollback drill"
params: { ticket: DRILL-7 }
`;
    const { p, mergeSha, runId } = await mergeRequest("requests/drill-7.yaml", text);
    await settled(runId);
    expect((await getRun(app.server.store, runId))!.state).toBe("rolled_back");

    const check = runChecks(mergeSha).at(-1)!;
    expect(check).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(check.output.title).toBe("Failed at second; rolled back 1 steps");
    expect(check.output.summary).toContain("Undone, in order: `first`.");
    expect(check.output.summary).toMatch(/\| `second` \| failed \| 1 \| [^|]+ \| error: failed on purpose \(attempt 1\) \|/);
    expect(check.output.summary).toMatch(/\| `first` \| rolled back \| 1 \(\+1 undo\) \|/);
    expect(check.output.text).toMatch(/\["second<br\/>failed"\]:::bad/);
    expect(check.output.text).toMatch(/\["first<br\/>rolled back"\]:::undone/);

    const comments = app.world.comments.on(REPO, p.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain("### ❌ Run failed");
    expect(comments[0]!.body).toContain("- **Failed**: `second`: failed on purpose (attempt 1)");
    expect(comments[0]!.body).toContain("- **Undone**: `first`.");
  });
});
