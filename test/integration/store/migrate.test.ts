/**
 * Many processes starting against a fresh server at once (a fleet rolling out)
 * must all come up: each applies pending migrations on open.
 */
import { describe, expect, it } from "vitest";
import { PG_UP } from "../engine/backends.js";
import { createTestDatabase } from "../../support/pg.js";
import { openStore } from "../../../src/store/db.js";
import { MIGRATIONS, migrationStatus } from "../../../src/store/migrate.js";

const NAMES = MIGRATIONS.map(([n]) => n);

describe.skipIf(!PG_UP)("migrations on a shared server", () => {
  it("are applied exactly once when six stores open a fresh database at the same time", async () => {
    const db = await createTestDatabase("cl_migrate");
    try {
      const opened = await Promise.allSettled(Array.from({ length: 6 }, () => openStore({ databaseUrl: db.url, poolMax: 2 })));
      const stores = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      try {
        expect(opened.filter((o) => o.status === "rejected").map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
        expect(await migrationStatus(stores[0]!.db)).toEqual({ applied: NAMES, pending: [] });
        const rows = (await stores[0]!.db.raw("select name from clutch_luigi_migrations order by id")).rows as { name: string }[];
        expect(rows.map((r) => r.name)).toEqual(NAMES);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    } finally {
      await db.drop();
    }
  });
});
