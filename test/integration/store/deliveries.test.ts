/**
 * The delivery queue's SQL on the embedded database and, when one answers, on a
 * real Postgres server: replays recorded once, one pull request's deliveries
 * claimed one at a time in received order, leases that run out handed to the
 * next claimer, and a lost lease never marks anything.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import {
  claimDeliveries,
  completeDelivery,
  deliveryState,
  extendDeliveryLease,
  failDelivery,
  openDeliveryCount,
  recordDelivery,
  releaseDelivery,
  type NewDelivery,
} from "../../../src/store/deliveries.js";
import { createRoleTestDatabase, createTestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";

let n = 0;
function delivery(key: string | null, extra: Partial<NewDelivery> = {}): NewDelivery {
  n++;
  return { id: `d-${n}-${Math.random().toString(36).slice(2, 8)}`, event: "pull_request", action: "synchronize", installationId: 42, repository: "acme/ops", pullNumber: 7, orderingKey: key, payload: { n }, ...extra };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function queueTests(open: () => Promise<{ store: Store; drop?: () => Promise<void> }>) {
  let store: Store;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ store, drop } = await open());
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });
  beforeEach(async () => {
    await store.db.raw("delete from webhook_deliveries");
  });

  it("records a delivery id once: a replay is a duplicate while queued or done, and puts a dead one back", async () => {
    const d = delivery("acme/ops#7");
    expect(await recordDelivery(store.db, d)).toBe("queued");
    expect(await recordDelivery(store.db, d)).toBe("duplicate");
    const [c] = await claimDeliveries(store.db, { owner: "a", leaseMs: 60_000, limit: 10 });
    expect(c).toMatchObject({ id: d.id, attempts: 1, payload: d.payload, installationId: 42, orderingKey: "acme/ops#7" });
    expect(await recordDelivery(store.db, d)).toBe("duplicate");
    await failDelivery(store.db, d.id, "a", "GitHub answered 500: boom", null);
    expect(await deliveryState(store.db, d.id)).toEqual({ id: d.id, state: "dead", attempts: 1, lastError: "GitHub answered 500: boom" });
    expect(await recordDelivery(store.db, d)).toBe("requeued");
    expect(await deliveryState(store.db, d.id)).toEqual({ id: d.id, state: "pending", attempts: 0, lastError: null });
    const [again] = await claimDeliveries(store.db, { owner: "a", leaseMs: 60_000, limit: 10 });
    expect(await completeDelivery(store.db, again!.id, "a")).toBe(true);
    expect(await recordDelivery(store.db, d)).toBe("duplicate");
    // Done: only the id is kept.
    const [row] = rowsOf<{ payload: unknown }>(await store.db.raw("select payload from webhook_deliveries where id = ?", [d.id]));
    expect(row!.payload).toBeNull();
  });

  it("stores a payload whatever its texts hold: NUL and unpaired surrogates (values and keys) become U+FFFD, the rest is kept", async () => {
    const d = delivery("acme/ops#7", { payload: { title: "a\u0000b", body: "\ud800x", ["k\u0000"]: ["\udfff", 1, null, { ok: "😀", literal: "\\u0000" }] } });
    expect(await recordDelivery(store.db, d)).toBe("queued");
    const [c] = await claimDeliveries(store.db, { owner: "a", leaseMs: 60_000, limit: 1 });
    expect(c!.payload).toEqual({ title: "a\uFFFDb", body: "\uFFFDx", ["k\uFFFD"]: ["\uFFFD", 1, null, { ok: "😀", literal: "\\u0000" }] });
  });

  it("hands out one delivery per pull request at a time, oldest first; other pull requests are not held up", async () => {
    const a1 = delivery("acme/ops#1");
    const a2 = delivery("acme/ops#1");
    const b1 = delivery("acme/ops#2");
    const free = delivery(null);
    for (const d of [a1, a2, b1, free]) await recordDelivery(store.db, d);
    const first = await claimDeliveries(store.db, { owner: "p", leaseMs: 60_000, limit: 10 });
    expect(first.map((d) => d.id).sort()).toEqual([a1.id, b1.id, free.id].sort());
    // Another process finds nothing: a2 waits for a1.
    expect(await claimDeliveries(store.db, { owner: "q", leaseMs: 60_000, limit: 10 })).toEqual([]);
    // a1 failed and waits for its retry: a2 still waits (order holds across retries).
    await failDelivery(store.db, a1.id, "p", "x", 0);
    const retried = await claimDeliveries(store.db, { owner: "q", leaseMs: 60_000, limit: 10 });
    expect(retried.map((d) => d.id)).toEqual([a1.id]);
    await completeDelivery(store.db, a1.id, "q");
    expect((await claimDeliveries(store.db, { owner: "q", leaseMs: 60_000, limit: 10 })).map((d) => d.id)).toEqual([a2.id]);
  });

  it("a dead delivery does not hold up the next one of its pull request", async () => {
    const a1 = delivery("acme/ops#3");
    const a2 = delivery("acme/ops#3");
    await recordDelivery(store.db, a1);
    await recordDelivery(store.db, a2);
    await claimDeliveries(store.db, { owner: "p", leaseMs: 60_000, limit: 10 });
    await failDelivery(store.db, a1.id, "p", "gave up", null);
    expect((await claimDeliveries(store.db, { owner: "p", leaseMs: 60_000, limit: 10 })).map((d) => d.id)).toEqual([a2.id]);
  });

  it("a retry is not claimed before it is due", async () => {
    const d = delivery(null);
    await recordDelivery(store.db, d);
    await claimDeliveries(store.db, { owner: "p", leaseMs: 60_000, limit: 10 });
    await failDelivery(store.db, d.id, "p", "GitHub answered 502", 60_000);
    expect(await claimDeliveries(store.db, { owner: "p", leaseMs: 60_000, limit: 10 })).toEqual([]);
    expect(await openDeliveryCount(store.db)).toBe(1);
  });

  it("a process that dies mid-delivery leaves it to the next claimer once the lease runs out; the dead one's late writes change nothing", async () => {
    const d = delivery("acme/ops#4");
    await recordDelivery(store.db, d);
    expect(await claimDeliveries(store.db, { owner: "killed", leaseMs: 150, limit: 1 })).toHaveLength(1);
    expect(await claimDeliveries(store.db, { owner: "b", leaseMs: 60_000, limit: 1 })).toEqual([]);
    await sleep(250);
    const [taken] = await claimDeliveries(store.db, { owner: "b", leaseMs: 60_000, limit: 1 });
    expect(taken).toMatchObject({ id: d.id, attempts: 2 });
    // The first process was only slow: its heartbeat, completion and failure find the lease gone.
    expect(await extendDeliveryLease(store.db, d.id, "killed", 60_000)).toBe(false);
    expect(await completeDelivery(store.db, d.id, "killed")).toBe(false);
    expect(await failDelivery(store.db, d.id, "killed", "late", null)).toBe(false);
    expect(await deliveryState(store.db, d.id)).toMatchObject({ state: "running" });
    expect(await completeDelivery(store.db, d.id, "b")).toBe(true);
  });

  it("a delivery handed back by a stopping process is claimable at once, its attempt not counted", async () => {
    const d = delivery(null);
    await recordDelivery(store.db, d);
    await claimDeliveries(store.db, { owner: "stopping", leaseMs: 60_000, limit: 1 });
    await releaseDelivery(store.db, d.id, "stopping");
    expect((await claimDeliveries(store.db, { owner: "b", leaseMs: 60_000, limit: 1 }))[0]).toMatchObject({ id: d.id, attempts: 1 });
  });

  it("concurrent claimers never get the same delivery", async () => {
    const ds = Array.from({ length: 20 }, () => delivery(null));
    for (const d of ds) await recordDelivery(store.db, d);
    const got = await Promise.all(["p", "q", "r", "s"].map((owner) => claimDeliveries(store.db, { owner, leaseMs: 60_000, limit: 8 })));
    const ids = got.flat().map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(20);
  });

  it("forgets done ids past the retention when another delivery completes, and never dead ones", async () => {
    await store.db.raw(`insert into webhook_deliveries (id, event, state, received_at, completed_at) values
      ('old', 'x', 'done', now() - interval '31 days', now() - interval '31 days'),
      ('old-dead', 'x', 'dead', now() - interval '31 days', null),
      ('recent', 'x', 'done', now() - interval '29 days', now())`);
    const d = delivery(null);
    await recordDelivery(store.db, d);
    await claimDeliveries(store.db, { owner: "p", leaseMs: 60_000, limit: 1 });
    await completeDelivery(store.db, d.id, "p");
    const ids = rowsOf<{ id: string }>(await store.db.raw("select id from webhook_deliveries order by id")).map((r) => r.id);
    expect(ids).toEqual([d.id, "old-dead", "recent"].sort());
  });
}

describe("the delivery queue on the embedded database", () => {
  queueTests(async () => ({ store: await openStore({ dataDir: ":memory:" }) }));
});

describe.skipIf(!PG_UP)("the delivery queue on a shared server", () => {
  queueTests(async () => {
    const db = await createTestDatabase("cl_deliveries");
    return { store: await openStore({ databaseUrl: db.url }), drop: () => db.drop() };
  });
});

describe.skipIf(!PG_UP)("the delivery queue as the runtime role", () => {
  it("records, claims, fails, requeues and completes with only the runtime role's grants", async () => {
    const db = await createRoleTestDatabase("cl_deliveries_roles");
    const owner = await openStore({ databaseUrl: db.ownerUrl });
    await owner.close();
    const rt = await openStore({ databaseUrl: db.runtimeUrl });
    try {
      const d = delivery("acme/ops#1");
      expect(await recordDelivery(rt.db, d)).toBe("queued");
      const [c] = await claimDeliveries(rt.db, { owner: "x", leaseMs: 60_000, limit: 1 });
      expect(await failDelivery(rt.db, c!.id, "x", "e", null)).toBe(true);
      expect(await recordDelivery(rt.db, d)).toBe("requeued");
      const [again] = await claimDeliveries(rt.db, { owner: "x", leaseMs: 60_000, limit: 1 });
      expect(await completeDelivery(rt.db, again!.id, "x")).toBe(true);
    } finally {
      await rt.close();
      await db.drop();
    }
  });
});
