/**
 * Probot's write pacing, as the webhook processor meets it: one write at a time per
 * process and installation, a second apart, whatever the processor's concurrency. A
 * lone replica therefore works a backlog at about one check run a second (what made
 * the production-shape test's survivor look stuck: deliveries `running`, their
 * leases kept, all the others `pending`, for minutes). CLUTCH_LUIGI_GITHUB_WRITE_PACING=off
 * lifts the pacing for a GitHub without secondary rate limits.
 */
import { afterEach, describe, expect, it } from "vitest";
import { writePacing } from "../../src/server/probot.js";
import { fixture, REPO } from "../integration/github/world.js";
import { startApp, WEBHOOK_SECRET, type E2eApp } from "./app.js";
import { delivery, payloadFor, post } from "./webhook-client.js";

const alice = { login: "alice", type: "User" as const };
const REQUEST = fixture("requests/restart-checkout.yaml");
const PULLS = 3;

let app: E2eApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Posts `PULLS` opened deliveries at once and returns how long the processor took to write their checks. */
async function evaluateAtOnce(env: NodeJS.ProcessEnv): Promise<{ ms: number; writes: number }> {
  app = await startApp({ env });
  const a = app;
  const pulls = Array.from({ length: PULLS }, (_, i) => a.world.pulls.open(REPO, { author: alice, files: { [`requests/2026/pacing-${i}.yaml`]: REQUEST } }));
  const t0 = performance.now();
  for (const p of pulls) expect((await post(a.webhookUrl, WEBHOOK_SECRET, delivery("pull_request", payloadFor("pull_request", "opened", p)))).status).toBeLessThan(300);
  await a.server.deliveries.idle(30_000);
  const ms = performance.now() - t0;
  expect(a.world.fake.violations).toEqual([]);
  return { ms, writes: a.world.fake.calls.filter((c) => c.method === "POST" && c.template === "/repos/{owner}/{repo}/check-runs").length };
}

describe("GitHub write pacing in the webhook processor", () => {
  it("is on unless turned off", () => {
    expect(writePacing({})).toBe(true);
    expect(writePacing({ CLUTCH_LUIGI_GITHUB_WRITE_PACING: "on" })).toBe(true);
    expect(writePacing({ CLUTCH_LUIGI_GITHUB_WRITE_PACING: " OFF " })).toBe(false);
  });

  it("paced: concurrent deliveries' check runs go out one a second, so the backlog drains at that pace", async () => {
    const { ms, writes } = await evaluateAtOnce({ CLUTCH_LUIGI_WEBHOOK_CONCURRENCY: "4", CLUTCH_LUIGI_GITHUB_WRITE_PACING: "on" });
    expect(writes).toBe(2 * PULLS);
    expect(ms).toBeGreaterThanOrEqual((writes - 1) * 1_000 - 100);
  }, 60_000);

  it("unpaced (CLUTCH_LUIGI_GITHUB_WRITE_PACING=off): the same deliveries finish without waiting a second per write", async () => {
    const { ms, writes } = await evaluateAtOnce({ CLUTCH_LUIGI_WEBHOOK_CONCURRENCY: "4", CLUTCH_LUIGI_GITHUB_WRITE_PACING: "off" });
    expect(writes).toBe(2 * PULLS);
    expect(ms).toBeLessThan(3_000);
  }, 60_000);
});
