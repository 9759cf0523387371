/**
 * The shared gauges of /metrics: one statement per few seconds however often Prometheus
 * scrapes, and every part of that statement answerable from an index, so a scrape costs
 * the same with ten runs as with ten million.
 */
import { describe, expect, it } from "vitest";
import { openStore } from "../../../src/store/db.js";
import { createMetrics } from "../../../src/server/metrics.js";
import { FLEET_SQL } from "../../../src/store/metrics-query.js";
import { createTestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";

describe("fleet gauges", () => {
  it("are read once per cache period, not once per scrape", async () => {
    const store = await openStore({ dataDir: ":memory:" });
    try {
      let clock = 1_000_000;
      const metrics = createMetrics(store.db, { cacheMs: 5_000, now: () => clock });
      let reads = 0;
      store.db.on("query", (q: { sql: string }) => {
        if (q.sql.includes("jsonb_object_agg")) reads++;
      });
      await metrics.render();
      await metrics.render();
      await metrics.render();
      expect(reads).toBe(1);
      clock += 5_000;
      await metrics.render();
      expect(reads).toBe(2);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!PG_UP)("fleet gauges on Postgres", () => {
  it("never scan runs, steps or audit_events: each part has an index that answers it", async () => {
    const db = await createTestDatabase("cl_metrics");
    const store = await openStore({ databaseUrl: db.url });
    try {
      const plan = await store.db.transaction(async (trx) => {
        // With sequential scans priced out, any table left without a usable index still shows one.
        await trx.raw("set local enable_seqscan = off");
        const r = (await trx.raw(`explain ${FLEET_SQL}`)) as { rows: { "QUERY PLAN": string }[] };
        return r.rows.map((x) => x["QUERY PLAN"]).join("\n");
      });
      expect(plan).not.toMatch(/Seq Scan on (runs|steps|audit_events|webhook_deliveries)\b/);
      expect(plan).toMatch(/runs_unfinished/);
      expect(plan).toMatch(/runs_finished_at/);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
