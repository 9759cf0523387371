/**
 * Webhooks answered fast and processed durably, end to end over HTTP: the
 * answer goes out before GitHub's first answer comes back, a 502 is retried
 * and the delivery finishes, a delivery that keeps failing ends dead and
 * GitHub's redelivery brings it back, a redelivered id is processed once,
 * out-of-order pushes never leave checks on a stale head, and a delivery a
 * dead replica held is finished by the living one. On the embedded database
 * and, when one answers, on Postgres.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import parsePrometheusTextFormat, { type MetricFamily } from "parse-prometheus-text-format";
import { classifyDelivery, installationOf, orderingKey, pullRequestOf } from "../../src/github/app-event.js";
import { listAuditEvents } from "../../src/store/audit.js";
import { rowsOf } from "../../src/store/db.js";
import { claimDeliveries, deliveryState, recordDelivery } from "../../src/store/deliveries.js";
import type { FakePull } from "../support/github/pull-request-world.js";
import { fixture, REPO } from "../integration/github/world.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { PG_UP } from "../support/pg-suite.js";
import { sharedKeysEnv } from "../support/shared-keys.js";
import { startApp, WEBHOOK_SECRET, type E2eApp } from "./app.js";
import { delivery, payloadFor, post } from "./webhook-client.js";

const alice = { login: "alice", type: "User" as const };
const REQUEST = fixture("requests/restart-checkout.yaml");
let seq = 0;

function queueSuite(envFor: () => Promise<{ env: NodeJS.ProcessEnv; drop?: () => Promise<void> }>) {
  let app: E2eApp;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const made = await envFor();
    drop = made.drop;
    app = await startApp({ env: { CLUTCH_LUIGI_WEBHOOK_MAX_ATTEMPTS: "3", ...made.env } });
    app.world.fake.responseHeaders["x-ratelimit-remaining"] = "4321";
  });
  afterAll(async () => {
    await app?.close();
    await drop?.();
  });
  afterEach(() => {
    app.world.fake.latencyMs = 0;
    app.world.fake.faults.splice(0);
    expect(app.world.fake.violations.splice(0)).toEqual([]);
  });

  const open = (): FakePull => app.world.pulls.open(REPO, { author: alice, files: { [`requests/2026/queue-${++seq}.yaml`]: REQUEST } });
  const checksOn = (sha: string) => app.world.checks.runs.filter((r) => r.headSha === sha);
  const evaluatedOf = async (p: FakePull) =>
    (await listAuditEvents(app.server.store.db)).filter((r) => r.kind === "request.evaluated" && (r.data as { pullRequest?: number }).pullRequest === p.number);
  const scrape = async (): Promise<MetricFamily[]> => parsePrometheusTextFormat(await (await fetch(`${app.server.url}/metrics`)).text());
  const sample = (families: MetricFamily[], name: string, labels: Record<string, string>) =>
    families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;

  it("answers before processing: GitHub slow by 2 s per call, the webhook is answered before a single check exists", async () => {
    const p = open();
    app.world.fake.latencyMs = 2_000;
    const d = delivery("pull_request", payloadFor("pull_request", "opened", p));
    const t0 = performance.now();
    const res = await post(app.webhookUrl, WEBHOOK_SECRET, d);
    const answeredMs = performance.now() - t0;
    // At the answer: recorded, not processed (the evaluation needs several GitHub answers before its first check).
    expect(res.status).toBe(200);
    expect(checksOn(p.headSha)).toEqual([]);
    expect((await deliveryState(app.server.store.db, d.id))?.state).not.toBe("done");
    app.world.fake.latencyMs = 0;
    await app.server.deliveries.idle(60_000);
    expect(checksOn(p.headSha).map((c) => c.name).sort()).toEqual(["clutch-luigi/plan", "clutch-luigi/policy"]);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done", attempts: 1 });
    process.stdout.write(`webhook answered in ${answeredMs.toFixed(1)} ms while GitHub took 2 s per call\n`);
  });

  it("GitHub 502 on the first attempt: retried, done; /metrics counts the attempts, the API calls and the rate limit left", async () => {
    const before = await scrape();
    const p = open();
    app.world.fake.fail("GET /repos/{owner}/{repo}/pulls/{pull_number}", 502);
    const d = delivery("pull_request", payloadFor("pull_request", "opened", p));
    expect((await app.deliver(d)).status).toBe(200);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done", attempts: 2 });
    expect(checksOn(p.headSha)).toHaveLength(2);
    expect(await evaluatedOf(p)).toHaveLength(1);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => Number(sample(after, name, labels) ?? 0) - Number(sample(before, name, labels) ?? 0);
    expect(delta("clutch_luigi_webhooks_total", { event: "pull_request.opened", outcome: "error" })).toBe(1);
    expect(delta("clutch_luigi_webhooks_total", { event: "pull_request.opened", outcome: "ok" })).toBe(1);
    expect(delta("clutch_luigi_github_api_calls_total", { route: "GET /repos/{owner}/{repo}/pulls/{pull_number}", status: "502" })).toBe(1);
    expect(delta("clutch_luigi_github_api_calls_total", { route: "POST /repos/{owner}/{repo}/check-runs", status: "201" })).toBeGreaterThanOrEqual(1);
    expect(delta("clutch_luigi_policy_verdicts_total", { outcome: "not_approved" })).toBe(1);
    expect(sample(after, "clutch_luigi_github_rate_limit_remaining", { installation: "4242" })).toBe("4321");
  });

  it("a secondary rate limit on the way: Probot does not sleep on it, the queue waits GitHub's retry-after, then done", async () => {
    const p = open();
    app.world.fake.fail("POST /repos/{owner}/{repo}/check-runs", 403, 1, {
      headers: { "retry-after": "1" },
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    });
    const d = delivery("pull_request", payloadFor("pull_request", "opened", p));
    const t0 = Date.now();
    expect((await app.deliver(d)).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done", attempts: 2 });
    const tries = app.world.fake.calls.filter((c) => c.operationId === "checks/create" && c.body && (c.body as { head_sha?: string }).head_sha === p.headSha);
    expect(tries.map((c) => c.status)).toEqual([403, 201, 201]);
  });

  it("a delivery that keeps failing ends dead, visible in /metrics; GitHub's redelivery of it is processed in full", async () => {
    const p = open();
    app.world.fake.fail("GET /repos/{owner}/{repo}/pulls/{pull_number}", 500, 3);
    const d = delivery("pull_request", payloadFor("pull_request", "opened", p));
    expect((await app.deliver(d)).status).toBe(200);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "dead", attempts: 3, lastError: expect.stringMatching(/^GitHub answered 500/) });
    expect(checksOn(p.headSha)).toEqual([]);
    // The fleet gauges are read at most every few seconds: wait for the next read.
    const deadline = Date.now() + 10_000;
    while (sample(await scrape(), "clutch_luigi_webhook_deliveries", { state: "dead" }) !== "1" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(sample(await scrape(), "clutch_luigi_webhook_deliveries", { state: "dead" })).toBe("1");
    // "Redeliver" in GitHub's UI: the same id, once GitHub is well again.
    expect((await app.deliver(d)).status).toBe(200);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done", attempts: 1 });
    expect(checksOn(p.headSha)).toHaveLength(2);
    expect(rowsOf(await app.server.store.db.raw("select id from webhook_deliveries where state = 'dead'"))).toEqual([]);
  });

  it("hostile text in the payload (NUL, lone surrogates, in values and keys) is still stored and processed", async () => {
    const p = open();
    const payload = payloadFor("pull_request", "opened", p);
    const pr = payload.pull_request as Record<string, unknown>;
    pr.title = "restart\u0000 checkout \ud800";
    pr.body = "\udfff\u0000".repeat(1000);
    pr["key\u0000with nul"] = "\ud83d";
    const d = delivery("pull_request", payload);
    expect((await app.deliver(d)).status).toBe(200);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done", attempts: 1 });
    expect(checksOn(p.headSha)).toHaveLength(2);
  });

  it("the same delivery id posted twice at once is recorded and processed once", async () => {
    const p = open();
    const d = delivery("pull_request", payloadFor("pull_request", "opened", p));
    const answers = await Promise.all([post(app.webhookUrl, WEBHOOK_SECRET, d), post(app.webhookUrl, WEBHOOK_SECRET, d)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    await app.server.deliveries.idle();
    expect((await app.deliver(d)).status).toBe(200);
    expect(checksOn(p.headSha)).toHaveLength(2);
    expect(await evaluatedOf(p)).toHaveLength(1);
    expect(rowsOf(await app.server.store.db.raw("select id from webhook_deliveries where id = ?", [d.id]))).toHaveLength(1);
  });

  it("out of order: a late synchronize for an older head evaluates the current head and leaves no check on the old one", async () => {
    const p = open();
    const old = p.headSha;
    const stale = delivery("pull_request", payloadFor("pull_request", "synchronize", p, { sender: "alice" }));
    app.world.pulls.push(p, { [`requests/2026/queue-${seq}.yaml`]: `${REQUEST}\n# second push\n` });
    const fresh = delivery("pull_request", payloadFor("pull_request", "synchronize", p, { sender: "bob" }));
    // GitHub delivered the newer push first; the older one arrives after it was evaluated.
    await app.deliver(fresh);
    const policy = () => checksOn(p.headSha).filter((c) => c.name === "clutch-luigi/policy").at(-1);
    const afterFresh = policy();
    expect(afterFresh).toMatchObject({ conclusion: "action_required" });
    await app.deliver(stale);
    // Nothing for the stale head, and the newest head's check says what it said.
    expect(checksOn(old)).toEqual([]);
    expect(policy()).toMatchObject({ conclusion: afterFresh!.conclusion, output: { title: afterFresh!.output.title } });
    const rows = await evaluatedOf(p);
    expect(rows.map((r) => [r.actor, (r.data as { headSha: string }).headSha])).toEqual([
      ["bob", p.headSha],
      ["alice", p.headSha],
    ]);
  });

  it("one pull request's deliveries posted back to back are processed one at a time, in the order received", async () => {
    const p = open();
    const first = delivery("pull_request", payloadFor("pull_request", "opened", p, { sender: "alice" }));
    app.world.pulls.review(p, "sam", "APPROVED");
    const second = delivery("pull_request_review", payloadFor("pull_request_review", "submitted", p, { sender: "sam" }));
    const third = delivery("pull_request", payloadFor("pull_request", "labeled", p, { sender: "paula" }));
    for (const d of [first, second, third]) expect((await post(app.webhookUrl, WEBHOOK_SECRET, d)).status).toBe(200);
    await app.server.deliveries.idle();
    expect((await evaluatedOf(p)).map((r) => r.actor)).toEqual(["alice", "sam", "paula"]);
  });

  it("a delivery a dead replica held is finished by this one once the lease runs out", async () => {
    const p = open();
    const d = delivery("pull_request", payloadFor("pull_request", "opened", p));
    // What the other replica's webhook endpoint recorded, then claimed, then died holding.
    const payload: unknown = JSON.parse(d.body);
    const event = classifyDelivery("pull_request", payload);
    const pr = pullRequestOf(event)!;
    // Recorded and claimed in one transaction, so this replica's processor never sees it unclaimed.
    const claimedAt = Date.now();
    const held = await app.server.store.db.transaction(async (trx) => {
      await recordDelivery(trx, {
        id: d.id,
        event: "pull_request",
        action: "opened",
        installationId: installationOf(payload),
        repository: pr.repository,
        pullNumber: pr.pullNumber,
        orderingKey: orderingKey(event),
        payload,
      });
      return claimDeliveries(trx, { owner: "replica-killed-9", leaseMs: 400, limit: 10 });
    });
    expect(held.map((h) => h.id)).toEqual([d.id]);
    await app.server.deliveries.idle();
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(400);
    expect(checksOn(p.headSha)).toHaveLength(2);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done", attempts: 2 });
  });
}

describe("the delivery queue, embedded database", () => {
  queueSuite(async () => ({ env: {} }));
});

describe.skipIf(!PG_UP)("the delivery queue, Postgres", () => {
  queueSuite(async () => {
    const db: TestDatabase = await createTestDatabase("cl_e2e_queue");
    return { env: { DATABASE_URL: db.url, ...(await sharedKeysEnv()) }, drop: () => db.drop() };
  });
});
