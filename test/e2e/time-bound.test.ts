/**
 * Time-bound operations through the pull request, end to end: the real server with
 * its worker, signed webhooks, the fake GitHub, on the embedded database and Postgres.
 * A merged request switches a flag on for a while; its run check says until when and
 * offers Revoke now; a second request for the same flag is refused at plan time,
 * naming the run to extend; an approved extension moves the expiry once (a replayed
 * merge extends nothing); one past the maximum is refused; the requester may revoke
 * early, someone unrelated may not (refused, audited).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { listAuditEvents } from "../../src/store/audit.js";
import { rowsOf } from "../../src/store/db.js";
import { activeExpiry } from "../../src/store/expiries.js";
import { getRun } from "../../src/store/runs.js";
import type { FakeCheckRun, FakePull } from "../support/github/pull-request-world.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { PG_UP } from "../support/pg-suite.js";
import { sharedKeysEnv } from "../support/shared-keys.js";
import { REPO } from "../integration/github/world.js";
import { startApp, type E2eApp } from "./app.js";
import { requestedActionPayload } from "./check-run-client.js";
import { delivery, payloadFor } from "./webhook-client.js";
import { until } from "../support/until.js";

const FLAG = `apiVersion: clutch-luigi/v1
kind: Workflow
name: flag-switch
description: Switch a flag on for a while
params:
  type: object
  additionalProperties: false
  required: [flag]
  properties:
    flag: { type: string, enum: [maintenance, read-only] }
    duration: { type: string, enum: [1h, 2h, 3h] }
expires: { after: 1h, max: 3h, param: duration }
lock: "flag:\${{ params.flag }}"
steps:
  - id: on
    uses: log
    with: { message: "\${{ params.flag }} on" }
    rollback: { uses: log, with: { message: "\${{ params.flag }} off" } }
`;

const request = (body: string) => `apiVersion: clutch-luigi/v1
kind: Request
workflow: flag-switch
reason: "CHG-5 database failover window"
${body}
`;

const alice = { login: "alice", type: "User" as const };
const RITA = { login: "rita", type: "User" };

const backends: { name: string; env(): Promise<{ env: NodeJS.ProcessEnv; drop(): Promise<void> }> }[] = [
  { name: "the embedded database", env: async () => ({ env: {}, drop: async () => undefined }) },
  ...(PG_UP
    ? [{ name: "Postgres", env: async () => { const db: TestDatabase = await createTestDatabase("cl_e2e_timebound"); return { env: { DATABASE_URL: db.url, ...(await sharedKeysEnv()) }, drop: () => db.drop() }; } }]
    : []),
];

describe.each(backends)("time-bound runs through the pull request on $name", (backend) => {
  let app: E2eApp;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const b = await backend.env();
    drop = b.drop;
    app = await startApp({ env: { ...b.env, CLUTCH_LUIGI_WORKERS: "1" } });
    app.world.git.commit(REPO, { branch: "main", files: { "workflows/flag-switch.yaml": FLAG, ".github/clutch-luigi.yml": "staleApprovals: content\ntimeZone: Europe/Berlin\n" }, message: "catalog: flag-switch" });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await drop?.();
  });
  afterEach(() => {
    expect(app.world.fake.violations.splice(0)).toEqual([]);
  });

  const send = async (event: "pull_request" | "pull_request_review", action: string, p: FakePull, extra: Parameters<typeof payloadFor>[3] = {}) =>
    (await app.deliver(delivery(event, payloadFor(event, action, p, extra)))).status;
  const latest = (sha: string, name: string): FakeCheckRun | undefined => app.world.checks.runs.filter((c) => c.headSha === sha && c.name === name).at(-1);
  const audit = async (kind: string, runId?: string) => (await listAuditEvents(app.server.store.db, { limit: 100_000, ...(runId ? { runId } : {}) })).filter((r) => r.kind === kind);

  /** Open and approve; returns the PR after its review was evaluated. */
  async function approved(path: string, text: string): Promise<FakePull> {
    const p = app.world.pulls.open(REPO, { author: alice, files: { [path]: text } });
    expect(await send("pull_request", "opened", p)).toBe(200);
    app.world.pulls.review(p, "sam", "APPROVED");
    expect(await send("pull_request_review", "submitted", p, { sender: "sam" })).toBe(200);
    return p;
  }
  async function merge(p: FakePull, path: string, text: string): Promise<string> {
    const mergeSha = app.world.git.commit(REPO, { branch: "main", files: { [path]: text }, author: "web-flow", message: `Merge pull request #${p.number}` });
    app.world.pulls.markMerged(p, mergeSha);
    expect(await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" })).toBe(200);
    return mergeSha;
  }

  it("in force with its expiry on the check and in the comment; a second request is refused; one extension moves it, once; past the maximum is refused; only the requester (or an owner) revokes", async () => {
    const path = `requests/flag-${backend.name.length}.yaml`;
    const text = request("params: { flag: maintenance, duration: 1h }");
    const p = await approved(path, text);
    const mergeSha = await merge(p, path, text);
    const runId = rowsOf<{ id: string }>(await app.server.store.db.raw("select id from runs where request_path = ?", [path]))[0]!.id;
    const first = await until("the change in force", async () => ((await activeExpiry(app.server.store.db, runId)) ?? undefined));
    expect(first.expiresAt.getTime() - first.startedAt.getTime()).toBe(3_600_000);
    const inForce = await until("the check to say until when", () => {
      const c = latest(mergeSha, "clutch-luigi/run");
      return c?.status === "completed" && c.output.title?.startsWith("In force until") ? c : undefined;
    });
    expect(inForce.conclusion).toBe("success");
    const comment = await until("the outcome comment", () => app.world.comments.on(REPO, p.number).at(-1));
    expect(comment.body).toMatch(/- \*\*Expires\*\*: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d\d \w{3}, \d\d:\d\d (CET|CEST|GMT\+1|GMT\+2), Europe\/Berlin\)/);

    // Another request for the same flag would run alongside the first: refused at plan time, naming the run to extend.
    const overlapPath = "requests/flag-overlap.yaml";
    const overlap = await approved(overlapPath, request("params: { flag: maintenance }"));
    const plan = latest(overlap.headSha, "clutch-luigi/plan")!;
    expect(plan.conclusion).toBe("failure");
    expect(`${plan.output.summary}\n${plan.output.text}`).toContain(`already holds flag:maintenance until`);
    expect(`${plan.output.summary}\n${plan.output.text}`).toContain(`extends: ${runId}`);
    expect(latest(overlap.headSha, "clutch-luigi/policy")!.conclusion).toBe("failure");

    // An approved extension moves the expiry once; a replayed merge extends nothing.
    const extPath = "requests/flag-extend.yaml";
    const extText = request(`params: { flag: maintenance, duration: 2h }\nextends: ${runId}`);
    const ext = await approved(extPath, extText);
    expect(latest(ext.headSha, "clutch-luigi/plan")!.conclusion).toBe("success");
    const extSha = await merge(ext, extPath, extText);
    const moved = (await activeExpiry(app.server.store.db, runId))!;
    expect(moved.extensions).toBe(1);
    expect(moved.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime());
    expect(latest(extSha, "clutch-luigi/run")).toMatchObject({ status: "completed", conclusion: "success" });
    expect(latest(extSha, "clutch-luigi/run")!.output.title).toMatch(new RegExp(`^Extended run ${runId} until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC$`));
    expect(await send("pull_request", "closed", ext, { merged: true, mergeCommitSha: extSha, sender: "sam" })).toBe(200);
    expect((await activeExpiry(app.server.store.db, runId))!.extensions).toBe(1);
    expect(await audit("run.extended", runId)).toHaveLength(1);
    // No run was started for the extension.
    expect(rowsOf(await app.server.store.db.raw("select id from runs where request_path = ?", [extPath]))).toEqual([]);

    // A second extension past the maximum (3h from the start) is refused at plan time.
    const farPath = "requests/flag-extend-far.yaml";
    const far = await approved(farPath, request(`params: { flag: maintenance, duration: 3h }\nextends: ${runId}`));
    const farPlan = latest(far.headSha, "clutch-luigi/plan")!;
    expect(farPlan.conclusion).toBe("failure");
    expect(`${farPlan.output.summary}\n${farPlan.output.text}`).toMatch(/passes run .*'s maximum/);

    // Revoke now: rita (no owner, not the requester) is refused and audited; alice, who asked for it, may.
    const check = latest(mergeSha, "clutch-luigi/run")!;
    expect((await app.deliver(delivery("check_run", requestedActionPayload(check, "revoke", RITA, runId)))).status).toBe(200);
    expect((await audit("run.action_refused", runId)).at(-1)).toMatchObject({ actor: "rita", data: { action: "revoke", code: "not-authorized" } });
    expect((await getRun(app.server.store, runId))!.state).toBe("succeeded");
    expect((await app.deliver(delivery("check_run", requestedActionPayload(latest(mergeSha, "clutch-luigi/run")!, "revoke", alice, runId)))).status).toBe(200);
    const undone = await until("the revoke to undo the change", async () => {
      const r = await getRun(app.server.store, runId);
      return r?.state === "rolled_back" ? r : undefined;
    });
    expect(undone.steps.map((s) => [s.stepId, s.state])).toEqual([["on", "rolled_back"]]);
    expect(await audit("run.revoked", runId)).toEqual([expect.objectContaining({ actor: "alice", data: expect.objectContaining({ as: "requester" }) })]);
    const revoked = await until("the check to say revoked", () => {
      const c = latest(mergeSha, "clutch-luigi/run");
      return c?.output.title === "Revoked early by alice: undone" ? c : undefined;
    });
    expect(revoked.conclusion).toBe("success");
    expect(await activeExpiry(app.server.store.db, runId)).toBeNull();
  }, 120_000);
});
