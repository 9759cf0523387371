/**
 * The delivery processor over a real queue (embedded database and, when one
 * answers, a Postgres server), with the processing itself played by the test:
 * a process killed mid-delivery loses nothing, GitHub's outages are retried
 * with backoff, a delivery that keeps failing ends dead with its error, and one
 * pull request's deliveries never overlap even with room for more.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import type { DeliveryResult } from "../../../src/github/handlers/process-delivery.js";
import { startDeliveryProcessor, type DeliveryProcessor } from "../../../src/server/delivery-processor.js";
import { DeliveryTimeout } from "../../../src/server/delivery-retry.js";
import { createMetrics } from "../../../src/server/metrics.js";
import { openStore, type Store } from "../../../src/store/db.js";
import { claimDeliveries, deliveryState, recordDelivery, type NewDelivery, type StoredDelivery } from "../../../src/store/deliveries.js";
import { createTestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";

let n = 0;
function delivery(key: string | null): NewDelivery {
  n++;
  return { id: `p-${n}-${Math.random().toString(36).slice(2, 8)}`, event: "pull_request", action: "synchronize", installationId: 42, repository: "acme/ops", pullNumber: 7, orderingKey: key, payload: { n } };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gh = (status: number, headers: Record<string, string> = {}) => Object.assign(new Error(`GitHub ${status}`), { status, response: { headers } });
const ok: DeliveryResult = { kind: "evaluated", approved: true, headSha: "a".repeat(40) };

function processorTests(open: () => Promise<{ store: Store; drop?: () => Promise<void> }>) {
  let store: Store;
  let drop: (() => Promise<void>) | undefined;
  const running: DeliveryProcessor[] = [];
  const start = (...args: Parameters<typeof startDeliveryProcessor>) => {
    const p = startDeliveryProcessor(...args);
    running.push(p);
    return p;
  };
  beforeAll(async () => {
    ({ store, drop } = await open());
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await store?.close();
    await drop?.();
  });
  beforeEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
    await store.db.raw("delete from webhook_deliveries");
  });

  it("a process killed mid-delivery loses nothing: another finishes it once the lease runs out", async () => {
    const d = delivery("acme/ops#1");
    await recordDelivery(store.db, d);
    // Process A claims it and dies: no heartbeat, no completion, ever.
    expect(await claimDeliveries(store.db, { owner: "killed-process", leaseMs: 300, limit: 1 })).toHaveLength(1);
    const seen: StoredDelivery[] = [];
    const b = start({ store, pollMs: 50, process: async (x) => (seen.push(x), ok) });
    await sleep(150);
    expect(seen).toEqual([]); // the lease still holds
    await b.idle(5_000);
    expect(seen.map((x) => [x.id, x.attempts])).toEqual([[d.id, 2]]);
    expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "done" });
  });

  it("a delivery whose processes keep dying ends dead instead of taking down one replica after another", async () => {
    const d = delivery(null);
    await recordDelivery(store.db, d);
    // Three processes claimed it and died (leases of 1 ms, never finished).
    for (let i = 0; i < 3; i++) {
      expect(await claimDeliveries(store.db, { owner: `crashed-${i}`, leaseMs: 1, limit: 1 })).toHaveLength(1);
      await sleep(5);
    }
    const seen: string[] = [];
    const p = start({ store, pollMs: 20, retry: { maxAttempts: 3 }, process: async (x) => (seen.push(x.id), ok) });
    await p.idle(5_000);
    expect(seen).toEqual([]);
    expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "dead", attempts: 4, lastError: expect.stringMatching(/^claimed 4 times without finishing/) });
  });

  it("a slow delivery keeps its lease by heartbeat: no second process starts on it", async () => {
    const d = delivery(null);
    await recordDelivery(store.db, d);
    let calls = 0;
    const slow = async (): Promise<DeliveryResult> => {
      calls++;
      await sleep(1_500);
      return ok;
    };
    // Leases of 400 ms, renewed every 133 ms: a process that stopped renewing would lose it four times over.
    const a = start({ store, leaseMs: 400, pollMs: 20, process: slow, owner: "a" });
    const b = start({ store, leaseMs: 400, pollMs: 20, process: slow, owner: "b" });
    await sleep(50);
    await Promise.all([a.idle(5_000), b.idle(5_000)]);
    expect(calls).toBe(1);
  });

  it("an attempt that never ends is abandoned after the timeout: its signal aborts, the slot is freed, and the retry finishes the delivery", async () => {
    // The heartbeat keeps the lease of a handler awaiting forever (a GitHub call that is never
    // answered): without a timeout no other process, and not this one, would ever take it again.
    const d = delivery("acme/ops#9");
    const next = delivery("acme/ops#9");
    await recordDelivery(store.db, d);
    await recordDelivery(store.db, next);
    const signals: AbortSignal[] = [];
    const done: string[] = [];
    const p = start({
      store,
      pollMs: 20,
      leaseMs: 300,
      timeoutMs: 400,
      concurrency: 1,
      retry: { baseMs: 20 },
      process: (x, signal) => {
        signals.push(signal);
        // The first attempt hangs and ignores its signal, as a stuck promise would.
        if (signals.length === 1) return new Promise<DeliveryResult>(() => undefined);
        done.push(x.id);
        return Promise.resolve(ok);
      },
    });
    await p.idle(5_000);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(DeliveryTimeout);
    expect(done).toEqual([d.id, next.id]);
    expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "done", attempts: 2 });
  });

  it("GitHub 502 on the first attempt: retried after a backoff, then done; the metrics say so", async () => {
    const metrics = createMetrics(store.db, { cacheMs: 0 });
    const d = delivery(null);
    await recordDelivery(store.db, d);
    const at: number[] = [];
    const p = start({
      store,
      metrics,
      pollMs: 20,
      retry: { baseMs: 200 },
      random: () => 1,
      process: async () => {
        at.push(Date.now());
        if (at.length === 1) throw gh(502);
        return ok;
      },
    });
    await p.idle(5_000);
    expect(at).toHaveLength(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(190);
    expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "done", attempts: 2 });
    const families = parsePrometheusTextFormat(await metrics.render());
    const webhooks = families.find((f) => f.name === "clutch_luigi_webhooks_total")!.metrics;
    expect(webhooks).toEqual(
      expect.arrayContaining([
        { labels: { event: "pull_request.synchronize", outcome: "error" }, value: "1" },
        { labels: { event: "pull_request.synchronize", outcome: "ok" }, value: "1" },
      ]),
    );
    expect(families.find((f) => f.name === "clutch_luigi_policy_verdicts_total")!.metrics).toEqual([{ labels: { outcome: "approved" }, value: "1" }]);
    // (The parser keeps only the buckets of a labelled histogram.)
    expect(families.find((f) => f.name === "clutch_luigi_webhook_duration_seconds")!.metrics[0]!.buckets?.["+Inf"]).toBe("2");
  });

  it("a secondary rate limit waits at least GitHub's retry-after", async () => {
    const d = delivery(null);
    await recordDelivery(store.db, d);
    const at: number[] = [];
    const p = start({
      store,
      pollMs: 20,
      retry: { baseMs: 1 },
      process: async () => {
        at.push(Date.now());
        if (at.length === 1) throw Object.assign(gh(403, { "retry-after": "1" }), { message: "You have exceeded a secondary rate limit" });
        return ok;
      },
    });
    await p.idle(5_000);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
  });

  it("a delivery that keeps failing ends dead with its error after the attempts allowed, visible in /metrics, and does not hold up its pull request", async () => {
    const metrics = createMetrics(store.db, { cacheMs: 0 });
    const bad = delivery("acme/ops#9");
    const next = delivery("acme/ops#9");
    await recordDelivery(store.db, bad);
    await recordDelivery(store.db, next);
    const logs: string[] = [];
    const done: string[] = [];
    const p = start({
      store,
      metrics,
      pollMs: 20,
      log: (m) => logs.push(m),
      retry: { baseMs: 5, maxAttempts: 3 },
      process: async (x) => {
        if (x.id === bad.id) throw gh(503);
        done.push(x.id);
        return ok;
      },
    });
    await p.idle(5_000);
    expect(await deliveryState(store.db, bad.id)).toEqual({ id: bad.id, state: "dead", attempts: 3, lastError: "GitHub answered 503: GitHub 503" });
    expect(done).toEqual([next.id]);
    expect(logs.some((l) => l.includes(`delivery ${bad.id} (pull_request.synchronize) is dead after 3 attempts`))).toBe(true);
    const families = parsePrometheusTextFormat(await metrics.render());
    expect(families.find((f) => f.name === "clutch_luigi_webhook_deliveries")!.metrics).toEqual(
      expect.arrayContaining([
        { labels: { state: "dead" }, value: "1" },
        { labels: { state: "open" }, value: "0" },
      ]),
    );
    expect(families.find((f) => f.name === "clutch_luigi_webhooks_total")!.metrics).toEqual(expect.arrayContaining([{ labels: { event: "pull_request.synchronize", outcome: "dead" }, value: "1" }]));
  });

  it("a bug (not GitHub, not the database) is tried only a few times", async () => {
    const d = delivery(null);
    await recordDelivery(store.db, d);
    let calls = 0;
    const p = start({ store, pollMs: 20, retry: { baseMs: 5 }, process: async () => (calls++, Promise.reject(new TypeError("x is undefined"))) });
    await p.idle(5_000);
    expect(calls).toBe(3);
    expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "dead", lastError: "error: x is undefined" });
  });

  it("one pull request's deliveries are processed one at a time in received order, while other pull requests go on", async () => {
    const a = [delivery("acme/ops#1"), delivery("acme/ops#1"), delivery("acme/ops#1")];
    const b = [delivery("acme/ops#2"), delivery("acme/ops#2")];
    for (const d of [a[0], b[0], a[1], b[1], a[2]]) await recordDelivery(store.db, d!);
    const log: string[] = [];
    let active: Record<string, number> = {};
    let overlap = false;
    let parallel = false;
    const process = async (x: StoredDelivery): Promise<DeliveryResult> => {
      const key = x.orderingKey!;
      active[key] = (active[key] ?? 0) + 1;
      if (active[key]! > 1) overlap = true;
      if (Object.values(active).filter((v) => v > 0).length > 1) parallel = true;
      log.push(x.id);
      await sleep(80);
      active[key]!--;
      return ok;
    };
    // Two processes with room for four each: only the ordering holds them back.
    const p1 = start({ store, pollMs: 10, concurrency: 4, process, owner: "p1" });
    const p2 = start({ store, pollMs: 10, concurrency: 4, process, owner: "p2" });
    await Promise.all([p1.idle(10_000), p2.idle(10_000)]);
    active = {};
    expect(overlap).toBe(false);
    expect(parallel).toBe(true);
    expect(log.filter((id) => a.some((d) => d.id === id))).toEqual(a.map((d) => d.id));
    expect(log.filter((id) => b.some((d) => d.id === id))).toEqual(b.map((d) => d.id));
  });

  it("stopping hands back what it holds after the grace period: another process starts on it at once", async () => {
    const d = delivery(null);
    await recordDelivery(store.db, d);
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const a = startDeliveryProcessor({ store, pollMs: 10, leaseMs: 60_000, stopGraceMs: 50, process: async () => (await stuck, ok) });
    while ((await deliveryState(store.db, d.id))?.state !== "running") await sleep(10);
    await a.stop();
    expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "pending", attempts: 0 });
    const seen: string[] = [];
    const b = start({ store, pollMs: 10, process: async (x) => (seen.push(x.id), ok) });
    await b.idle(5_000);
    expect(seen).toEqual([d.id]);
    release();
  });
}

describe("the delivery processor on the embedded database", () => {
  processorTests(async () => ({ store: await openStore({ dataDir: ":memory:" }) }));
});

describe.skipIf(!PG_UP)("the delivery processor on a shared server", () => {
  processorTests(async () => {
    const db = await createTestDatabase("cl_processor");
    return { store: await openStore({ databaseUrl: db.url }), drop: () => db.drop() };
  });

  it("a replica killed with SIGKILL mid-delivery: this one finishes the delivery once the lease runs out", async () => {
    const db = await createTestDatabase("cl_kill");
    const store = await openStore({ databaseUrl: db.url });
    const child = spawn(process.execPath, ["--import", "tsx", new URL("./delivery-child.ts", import.meta.url).pathname], {
      env: { ...process.env, DATABASE_URL: db.url, LEASE_MS: "1000" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let out = "";
    const saw = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => out.includes(text) && resolve();
        child.stdout!.on("data", (b: Buffer) => ((out += b.toString()), check()));
        void exited.then(() => reject(new Error(`child exited before "${text}": ${out}`)));
        check();
      });
    let p: DeliveryProcessor | undefined;
    try {
      await saw("ready");
      const d = delivery("acme/ops#1");
      await recordDelivery(store.db, d);
      await saw(`claimed ${d.id}`);
      child.kill("SIGKILL");
      await exited;
      const killedAt = Date.now();
      expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "running", attempts: 1 });
      const seen: string[] = [];
      p = startDeliveryProcessor({ store, pollMs: 50, process: async (x) => (seen.push(x.id), ok) });
      await p.idle(10_000);
      expect(seen).toEqual([d.id]);
      // Not before the dead process's lease ran out (1 s from its claim).
      expect(Date.now() - killedAt).toBeGreaterThanOrEqual(300);
      expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "done", attempts: 2 });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await p?.stop();
      await store.close();
      await db.drop();
    }
  });

  it("wakes on NOTIFY from another replica without waiting for its poll", async () => {
    const db = await createTestDatabase("cl_notify");
    const a = await openStore({ databaseUrl: db.url });
    const b = await openStore({ databaseUrl: db.url });
    const seen: number[] = [];
    const p = startDeliveryProcessor({ store: a, pollMs: 60_000, process: async () => (seen.push(Date.now()), ok) });
    try {
      // The first poll happens at start; give LISTEN a moment to be in place.
      await sleep(300);
      const sent = Date.now();
      await recordDelivery(b.db, delivery(null));
      for (let i = 0; i < 100 && seen.length === 0; i++) await sleep(20);
      expect(seen).toHaveLength(1);
      expect(seen[0]! - sent).toBeLessThan(2_000);
    } finally {
      await p.stop();
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
