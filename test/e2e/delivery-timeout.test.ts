/**
 * A delivery whose GitHub call is never answered in time does not hold the queue:
 * past CLUTCH_LUIGI_WEBHOOK_TIMEOUT_MS the attempt is abandoned, its call aborted,
 * and the retry finishes the delivery once GitHub answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryState } from "../../src/store/deliveries.js";
import { fixture, REPO } from "../integration/github/world.js";
import { startApp, WEBHOOK_SECRET, type E2eApp } from "./app.js";
import { delivery, payloadFor, post } from "./webhook-client.js";

const alice = { login: "alice", type: "User" as const };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the webhook processing timeout", () => {
  let app: E2eApp;
  beforeAll(async () => {
    app = await startApp({ env: { CLUTCH_LUIGI_WEBHOOK_TIMEOUT_MS: "500", CLUTCH_LUIGI_GITHUB_WRITE_PACING: "off" } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("an attempt stuck on GitHub is abandoned after the timeout and retried to completion", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { "requests/2026/timeout.yaml": fixture("requests/restart-checkout.yaml") } });
    app.world.fake.latencyMs = 60_000;
    const d = delivery("pull_request", payloadFor("pull_request", "opened", p));
    expect((await post(app.webhookUrl, WEBHOOK_SECRET, d)).status).toBeLessThan(300);
    let state = await deliveryState(app.server.store.db, d.id);
    for (let i = 0; i < 100 && !state?.lastError; i++) {
      await sleep(20);
      state = await deliveryState(app.server.store.db, d.id);
    }
    expect(state?.lastError).toMatch(/^timed out: processing did not finish within 500 ms/);
    app.world.fake.latencyMs = 0;
    await app.server.deliveries.idle(10_000);
    expect(await deliveryState(app.server.store.db, d.id)).toMatchObject({ state: "done" });
    expect(app.world.checks.runs.filter((r) => r.headSha === p.headSha).length).toBeGreaterThan(0);
    expect(app.world.fake.violations).toEqual([]);
  }, 30_000);
});
