/** The delivery ledger on the embedded database and, when it is up, on the real Postgres server. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { beginDelivery, completeDelivery, isDeliveryId } from "../../../../src/github/handlers/deliveries.js";
import { openStore, rowsOf, type Store } from "../../../../src/store/db.js";
import { createTestDatabase, type TestDatabase } from "../../../support/pg.js";
import { PG_UP } from "../../../support/pg-suite.js";


function ledgerTests(open: () => Promise<{ store: Store; drop?: () => Promise<void> }>) {
  let store: Store;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ store, drop } = await open());
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });

  it("handles a delivery once it completed, and again while it has not", async () => {
    const id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    expect(await beginDelivery(store.db, id, "pull_request.opened")).toBe(true);
    // Not completed (the handler failed): GitHub's redelivery is handled.
    expect(await beginDelivery(store.db, id, "pull_request.opened")).toBe(true);
    await completeDelivery(store.db, id);
    expect(await beginDelivery(store.db, id, "pull_request.opened")).toBe(false);
    const [row] = rowsOf<{ attempts: number; completed_at: unknown }>(await store.db.raw("select attempts, completed_at from webhook_deliveries where id = ?", [id]));
    expect(row).toMatchObject({ attempts: 2 });
    expect(row!.completed_at).not.toBeNull();
  });

  it("forgets handled ids past the retention when another delivery completes", async () => {
    await store.db.raw("insert into webhook_deliveries (id, event, received_at, completed_at) values ('old', 'x', now() - interval '31 days', now() - interval '31 days'), ('recent', 'x', now() - interval '29 days', now())");
    expect(await beginDelivery(store.db, "b-1", "pull_request.opened")).toBe(true);
    await completeDelivery(store.db, "b-1");
    const ids = rowsOf<{ id: string }>(await store.db.raw("select id from webhook_deliveries where id in ('old', 'recent', 'b-1') order by id")).map((r) => r.id);
    expect(ids).toEqual(["b-1", "recent"]);
  });

  it("keeps deliveries apart by id", async () => {
    expect(await beginDelivery(store.db, "a-1", "pull_request.closed")).toBe(true);
    await completeDelivery(store.db, "a-1");
    expect(await beginDelivery(store.db, "a-2", "pull_request.closed")).toBe(true);
  });
}

describe("the delivery ledger on the embedded database", () => {
  ledgerTests(async () => ({ store: await openStore({ dataDir: ":memory:" }) }));
});

describe.skipIf(!PG_UP)("the delivery ledger on a shared server", () => {
  ledgerTests(async () => {
    const db: TestDatabase = await createTestDatabase("cl_deliveries");
    return { store: await openStore({ databaseUrl: db.url }), drop: () => db.drop() };
  });
});

describe("isDeliveryId", () => {
  it("accepts GitHub's GUIDs and refuses anything else", () => {
    expect(isDeliveryId("72d3162e-cc78-11e3-81ab-4c9367dc0958")).toBe(true);
    for (const bad of [undefined, "", "x".repeat(101), "a b", "'; drop table runs; --", 42]) expect(isDeliveryId(bad)).toBe(false);
  });
});
