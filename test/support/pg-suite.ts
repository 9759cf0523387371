/**
 * For suites that need a real Postgres server (not the embedded one): they run
 * wherever one answers, are skipped by name where none does (so `npm test` passes on
 * a machine with no server), and CI — which sets CLUTCH_LUIGI_REQUIRE_POSTGRES=1 —
 * fails rather than skip them.
 */
import { postgresAvailable } from "./pg.js";

export const PG_UP = await postgresAvailable();

if (!PG_UP && process.env.CLUTCH_LUIGI_REQUIRE_POSTGRES === "1") {
  throw new Error("CLUTCH_LUIGI_REQUIRE_POSTGRES=1 but no Postgres answers at TEST_DATABASE_URL");
}
