/**
 * Checks updated in place with few counted API calls, fork PRs, and transient
 * errors, end to end: signed deliveries over HTTP into the real Probot server,
 * the OpenAPI-checked fake GitHub (which answers If-None-Match with 304 and
 * records which calls GitHub would count), on the embedded database and on
 * Postgres.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { listAuditEvents } from "../../src/store/audit.js";
import { rowsOf } from "../../src/store/db.js";
import type { FakeCheckRun, FakePull } from "../support/github/pull-request-world.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { PG_UP } from "../support/pg-suite.js";
import { sharedKeysEnv } from "../support/shared-keys.js";
import { fixture, REPO } from "../integration/github/world.js";
import { startApp, WEBHOOK_SECRET, type E2eApp } from "./app.js";
import { delivery, payloadFor } from "./webhook-client.js";

const alice = { login: "alice", type: "User" as const };
const PLAN = "clutch-luigi/plan";
const POLICY = "clutch-luigi/policy";

const backends = [{ name: "embedded PGlite", postgres: false }, ...(PG_UP ? [{ name: "Postgres", postgres: true }] : [])];

describe.each(backends)("checks, forks and transient errors on $name", ({ postgres }) => {
  let app: E2eApp;
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    if (postgres) db = await createTestDatabase("cl_e2e_checks");
    // Retries of GitHub 5xx answers after 1, 4 and 9 ms instead of seconds.
    app = await startApp({ ...(db ? { env: { DATABASE_URL: db.url, ...(await sharedKeysEnv()) } } : {}) });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });
  afterEach(() => {
    expect(app.world.fake.violations.splice(0)).toEqual([]);
  });

  const checksOn = (sha: string, name?: string): FakeCheckRun[] => app.world.checks.runs.filter((r) => r.headSha === sha && (!name || r.name === name));
  const auditRows = async (kind: string) => (await listAuditEvents(app.server.store.db)).filter((r) => r.kind === kind);
  const runRows = async () => rowsOf<{ id: string }>(await app.server.store.db.raw("select id from runs"));

  /** Sends a delivery and returns the calls GitHub would count for it, and the check writes among them. */
  async function send(event: "pull_request" | "pull_request_review", action: string, p: FakePull, extra: Parameters<typeof payloadFor>[3] = {}, edit?: (payload: Record<string, unknown>) => void) {
    const payload = payloadFor(event, action, p, extra);
    edit?.(payload);
    const from = app.world.fake.calls.length;
    const res = await app.deliver(delivery(event, payload));
    expect(res.status).toBe(200);
    const counted = app.world.fake.countedCalls(from);
    return { counted, writes: counted.filter((c) => c.template.includes("check-runs")).map((c) => `${c.method} ${c.template.endsWith("}") ? "update" : "create"}`) };
  }

  describe("a request PR through its life: each check written only when it changes", () => {
    let p: FakePull;

    it("opened: one plan and one policy check", async () => {
      p = app.world.pulls.open(REPO, { author: alice, files: { "requests/2026/in-place.yaml": fixture("requests/restart-checkout.yaml") } });
      const { writes } = await send("pull_request", "opened", p);
      expect(writes).toEqual(["POST create", "POST create"]);
      expect(checksOn(p.headSha, PLAN)).toEqual([expect.objectContaining({ conclusion: "success" })]);
      expect(checksOn(p.headSha, POLICY)).toEqual([expect.objectContaining({ conclusion: "action_required" })]);
    });

    it("the same event again (nothing changed): nothing written, and every read revalidated for free or served from the cache", async () => {
      const { counted, writes } = await send("pull_request", "opened", p);
      expect(writes).toEqual([]);
      expect(counted).toEqual([]);
      expect(checksOn(p.headSha)).toHaveLength(2);
    });

    it(`synchronize (a push to the request): at most 8 counted calls, new checks on the new head`, async () => {
      const before = p.headSha;
      app.world.pulls.push(p, { "requests/2026/in-place.yaml": fixture("requests/restart-checkout.yaml").replace("OPS-1234", "OPS-1235") });
      const { counted, writes } = await send("pull_request", "synchronize", p);
      expect(counted.length, counted.map((c) => `${c.method} ${c.template} ${c.status}`).join("\n")).toBeLessThanOrEqual(8);
      expect(writes).toEqual(["POST create", "POST create"]);
      // The old head keeps its own checks; nothing was written there.
      expect(checksOn(before)).toHaveLength(2);
      expect(checksOn(p.headSha, POLICY)).toEqual([expect.objectContaining({ conclusion: "action_required" })]);
    });

    it("an approving review: at most 4 counted calls; the policy's conclusion changes, so a new policy run, the plan untouched", async () => {
      app.world.pulls.review(p, "sam", "APPROVED");
      const { counted, writes } = await send("pull_request_review", "submitted", p, { sender: "sam" });
      expect(counted.length, counted.map((c) => `${c.method} ${c.template} ${c.status}`).join("\n")).toBeLessThanOrEqual(4);
      expect(writes).toEqual(["POST create"]);
      expect(checksOn(p.headSha, PLAN)).toHaveLength(1);
      // GitHub shows the newest run of a name: the success. Never two runs with one conclusion.
      expect(checksOn(p.headSha, POLICY).map((r) => r.conclusion)).toEqual(["action_required", "success"]);
    });

    it("a second approval: same conclusion, new text: the current policy run is updated in place", async () => {
      app.world.pulls.review(p, "sara", "APPROVED");
      const { counted, writes } = await send("pull_request_review", "submitted", p, { sender: "sara" });
      expect(counted.length).toBeLessThanOrEqual(4);
      expect(writes).toEqual(["PATCH update"]);
      const runs = checksOn(p.headSha, POLICY);
      expect(runs.map((r) => r.conclusion)).toEqual(["action_required", "success"]);
      expect(runs.at(-1)!.output.summary).toMatch(/sam, sara|sara, sam/);
    });

    it("synchronize after approvals (their commits' changes compared with the new head's): still at most 8 counted calls", async () => {
      app.world.pulls.push(p, { "requests/2026/in-place.yaml": fixture("requests/restart-checkout.yaml").replace("OPS-1234", "OPS-1236") });
      const { counted, writes } = await send("pull_request", "synchronize", p);
      expect(counted.length, counted.map((c) => `${c.method} ${c.template} ${c.status}`).join("\n")).toBeLessThanOrEqual(8);
      expect(writes).toEqual(["POST create", "POST create"]);
      // The approvals were given on another change: the policy asks again.
      expect(checksOn(p.headSha, POLICY)).toEqual([expect.objectContaining({ conclusion: "action_required" })]);
    });

    it("a comment-only review changes nothing shown: no write", async () => {
      app.world.pulls.review(p, "rita", "COMMENTED");
      const { counted, writes } = await send("pull_request_review", "submitted", p, { sender: "rita" });
      expect(writes).toEqual([]);
      expect(counted.length).toBeLessThanOrEqual(4);
    });
  });

  describe("fork pull requests", () => {
    it("get a failed plan check saying requests come from a branch of the repository, and a merge never runs, even with a payload claiming the branch is local", async () => {
      const text = fixture("requests/restart-checkout.yaml").replace("OPS-1234", "OPS-666");
      const path = "requests/2026/from-fork.yaml";
      const p = app.world.pulls.open(REPO, { author: { login: "mallory", type: "User" }, files: { [path]: text }, fork: "mallory/ops" });
      // Hostile: the payload says the head is a branch of acme/ops; the API says mallory/ops.
      const spoof = (payload: Record<string, unknown>) => {
        const head = (payload.pull_request as { head: Record<string, unknown> }).head;
        head.repo = { ...(payload.repository as Record<string, unknown>) };
        head.label = "acme:pr";
      };
      await send("pull_request", "opened", p, {}, spoof);
      const plan = checksOn(p.headSha, PLAN);
      expect(plan).toEqual([expect.objectContaining({ conclusion: "failure" })]);
      expect(plan[0]!.output.title).toBe("Requests must come from a branch of the repository");
      expect(plan[0]!.output.summary).toContain("mallory/ops");
      // Every owner approves; the policy still blocks it.
      app.world.pulls.review(p, "sam", "APPROVED");
      await send("pull_request_review", "submitted", p, { sender: "sam" }, spoof);
      const policy = checksOn(p.headSha, POLICY).at(-1)!;
      expect(policy.conclusion).toBe("failure");
      expect(policy.output.title).toMatch(/fork-pull-request/);

      const mergeSha = app.world.git.commit(REPO, { branch: "main", files: { [path]: text }, author: "web-flow", message: `Merge pull request #${p.number}` });
      app.world.pulls.markMerged(p, mergeSha);
      const runs = (await runRows()).length;
      await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" }, spoof);
      expect(await runRows()).toHaveLength(runs);
      expect(checksOn(mergeSha, "clutch-luigi/run")).toEqual([expect.objectContaining({ conclusion: "failure" })]);
      const refused = (await auditRows("run.refused")).at(-1)!;
      expect(refused.data).toMatchObject({ pullRequest: p.number, commit: mergeSha });
      expect((refused.data as { reasons: string[] }).reasons[0]).toMatch(/^requests must come from a branch of the repository: this pull request comes from mallory\/ops/);
    });
  });

  describe("transient errors are not refusals", () => {
    it("GitHub answering 502 while a merge starts its run: the attempt fails, nothing is refused, and the queue's retry starts the run", async () => {
      const path = "requests/2026/transient.yaml";
      const text = fixture("requests/restart-checkout.yaml").replace("checkout }", "search }");
      const p = app.world.pulls.open(REPO, { author: alice, files: { [path]: text } });
      await send("pull_request", "opened", p);
      app.world.pulls.review(p, "sam", "APPROVED");
      await send("pull_request_review", "submitted", p, { sender: "sam" });
      const mergeSha = app.world.git.commit(REPO, { branch: "main", files: { [path]: text }, author: "web-flow", message: `Merge pull request #${p.number}` });
      app.world.pulls.markMerged(p, mergeSha);

      const refusedBefore = (await auditRows("run.refused")).length;
      const runsBefore = (await runRows()).length;
      // Down for four answers: each attempt of the delivery fails and the queue tries again.
      app.world.fake.fail("GET /repos/{owner}/{repo}/compare/{basehead}", 502, 4);
      const d = delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" }));
      expect((await app.deliver(d)).status).toBe(200);
      expect(app.world.fake.faults.find((f) => f.status === 502)?.times).toBe(0);
      expect(Number(rowsOf<{ attempts: number }>(await app.server.store.db.raw("select attempts from webhook_deliveries where id = ?", [d.id]))[0]!.attempts)).toBeGreaterThan(1);
      // GitHub came back: the retry started the run, and nothing was refused on the way.
      expect(await runRows()).toHaveLength(runsBefore + 1);
      expect(await auditRows("run.refused")).toHaveLength(refusedBefore);
      expect(checksOn(mergeSha, "clutch-luigi/run")).toEqual([expect.objectContaining({ status: "in_progress" })]);
    });

    it("a database deadlock while the run is created: the attempt fails, nothing is refused, and the queue's retry starts the run", async () => {
      const path = "requests/2026/deadlock.yaml";
      const text = fixture("requests/restart-checkout.yaml").replace("OPS-1234", "OPS-4242");
      const p = app.world.pulls.open(REPO, { author: alice, files: { [path]: text } });
      await send("pull_request", "opened", p);
      app.world.pulls.review(p, "sam", "APPROVED");
      await send("pull_request_review", "submitted", p, { sender: "sam" });
      const mergeSha = app.world.git.commit(REPO, { branch: "main", files: { [path]: text }, author: "web-flow", message: `Merge pull request #${p.number}` });
      app.world.pulls.markMerged(p, mergeSha);

      // The database itself reports a deadlock (SQLSTATE 40P01) on the first insert of a run.
      const db = app.server.store.db;
      // A sequence, because the failed transaction rolls back everything else it wrote.
      await db.raw("create sequence test_deadlock_once");
      await db.raw(`create function test_deadlock() returns trigger language plpgsql as $$
        begin
          if nextval('test_deadlock_once') = 1 then
            raise exception 'deadlock detected' using errcode = '40P01';
          end if;
          return new;
        end $$`);
      await db.raw("create trigger test_deadlock before insert on runs for each row execute function test_deadlock()");
      try {
        const refusedBefore = (await auditRows("run.refused")).length;
        const runsBefore = (await runRows()).length;
        const d = delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" }));
        expect((await app.deliver(d)).status).toBe(200);
        // The deadlock did fire (the trigger ran), so the first attempt failed and a second one started the run.
        expect(Number(rowsOf<{ last_value: string }>(await db.raw("select last_value from test_deadlock_once"))[0]!.last_value)).toBeGreaterThanOrEqual(2);
        expect(Number(rowsOf<{ attempts: number }>(await db.raw("select attempts from webhook_deliveries where id = ?", [d.id]))[0]!.attempts)).toBe(2);
        expect(await runRows()).toHaveLength(runsBefore + 1);
        expect(await auditRows("run.refused")).toHaveLength(refusedBefore);
        expect(checksOn(mergeSha, "clutch-luigi/run")).toEqual([expect.objectContaining({ status: "in_progress" })]);
      } finally {
        await db.raw("drop trigger if exists test_deadlock on runs");
        await db.raw("drop function if exists test_deadlock()");
        await db.raw("drop sequence if exists test_deadlock_once");
      }
    });
  });
});
