/**
 * Many processes starting against a fresh server at once (a fleet rolling out)
 * must all come up: each applies pending migrations on open.
 */
import { describe, expect, it } from "vitest";
import { PG_UP } from "../engine/backends.js";
import { createTestDatabase } from "../../support/pg.js";
import { openStore } from "../../../src/store/db.js";
import { migrationStatus } from "../../../src/store/migrate.js";

describe.skipIf(!PG_UP)("migrations on a shared server", () => {
  it("are applied exactly once when six stores open a fresh database at the same time", async () => {
    const db = await createTestDatabase("cl_migrate");
    try {
      const opened = await Promise.allSettled(Array.from({ length: 6 }, () => openStore({ databaseUrl: db.url, poolMax: 2 })));
      const stores = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      try {
        expect(opened.filter((o) => o.status === "rejected").map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
        expect(await migrationStatus(stores[0]!.db)).toEqual({ applied: ["001_initial", "002_hot_path", "003_deliveries", "006_dispatches"], pending: [] });
        const rows = (await stores[0]!.db.raw("select name from clutch_luigi_migrations order by id")).rows as { name: string }[];
        expect(rows.map((r) => r.name)).toEqual(["001_initial", "002_hot_path", "003_deliveries", "006_dispatches"]);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    } finally {
      await db.drop();
    }
  });
});
