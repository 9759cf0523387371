/**
 * What one statement costs in `steps` rows read, from Postgres's per-transaction
 * counters (pg_stat_xact_user_tables), in a transaction that is rolled back so the
 * statement leaves nothing. The counters are the backend's not yet reported, which can
 * include an earlier transaction's on the same connection: the result is a difference.
 */
import type { Knex } from "knex";
import { rowsOf } from "../../src/store/db.js";

const readSoFar = async (trx: Knex.Transaction): Promise<number> =>
  Number(rowsOf<{ n: string }>(await trx.raw("select seq_tup_read + coalesce(idx_tup_fetch, 0) as n from pg_stat_xact_user_tables where relname = 'steps'"))[0]!.n);

/** Runs `sql` (its one column named `r`) under `plan_cache_mode`; returns `r` and the steps rows read. */
export async function readingSteps<T>(
  db: Knex,
  sql: string,
  bindings: readonly Knex.RawBinding[],
  planCacheMode: "force_generic_plan" | "auto" = "force_generic_plan",
): Promise<{ out: T; read: number }> {
  const trx = await db.transaction();
  try {
    await trx.raw(`set local plan_cache_mode = ${planCacheMode}`);
    const before = await readSoFar(trx);
    const out = rowsOf<{ r: T }>(await trx.raw(sql, bindings))[0]!.r;
    return { out, read: (await readSoFar(trx)) - before };
  } finally {
    await trx.rollback();
  }
}
