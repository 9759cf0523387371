/**
 * The claim that rides a report takes the reported runs' steps by their run, so its
 * cost does not grow with the ready steps of every other run in flight. Read from the
 * server's own per-transaction counters (pg_stat_xact_user_tables), on Postgres.
 */
import { expect, it } from "vitest";
import { describeEngine } from "../engine/fixture.js";
import { BACKENDS } from "../engine/backends.js";
import { loadWorkflow } from "../engine/harness.js";
import { rowsOf } from "../../../src/store/db.js";
import { insertReadyRuns } from "../../support/ready-steps.js";

interface Claimed {
  run_id: string;
  step_id: string;
}

describeEngine("the run-scoped claim on $name", (env) => {
  it("reads the reported run's steps, not the 3,000 ready steps of other runs queued before them", async () => {
    // other runs' ready steps, older than the reported run's: as with 3,000 chains in flight
    await insertReadyRuns(env.store.db, 3000, { workflow: "other" });
    await env.store.db.raw("analyze steps");
    const mine = await env.startRun(loadWorkflow("diamond.yaml"), { name: "x" });
    for (const mode of ["force_generic_plan", "auto"]) {
      // one transaction: the counters are its own, and rolling back leaves the steps claimable
      const trx = await env.store.db.transaction();
      let claimed: Claimed[];
      let read: number;
      try {
        // cl_report plans its statements generically (migration 018); a direct call plans them as usual
        await trx.raw(`set local plan_cache_mode = ${mode}`);
        // The counters are the backend's not yet reported, which can include an earlier transaction's: a difference.
        const readSoFar = async () => Number(rowsOf<{ n: string }>(
          await trx.raw("select seq_tup_read + coalesce(idx_tup_fetch, 0) as n from pg_stat_xact_user_tables where relname = 'steps'"),
        )[0]!.n);
        const before = await readSoFar();
        claimed = rowsOf<{ r: Claimed[] }>(
          await trx.raw("select cl_claim_rows('scope-test', 4, 60000, array[?]::uuid[]) as r", [mine.runId]),
        )[0]!.r;
        read = (await readSoFar()) - before;
      } finally {
        await trx.rollback();
      }
      expect(claimed.map((c) => [c.run_id, c.step_id]), mode).toEqual([[mine.runId, "a"]]);
      // the diamond's one claimable step, found, locked and taken; not the others'
      expect(read, mode).toBeLessThan(50);
    }
    await env.store.db.raw("delete from runs where workflow = 'other'");
  });

  it("still takes the oldest claimable steps of the reported runs first, across runs", async () => {
    const first = await env.startRun(loadWorkflow("diamond.yaml"), { name: "1" });
    const second = await env.startRun(loadWorkflow("diamond.yaml"), { name: "2" });
    const out = rowsOf<{ r: Claimed[] }>(
      await env.store.db.raw("select cl_claim_rows('scope-test', 1, 60000, array[?, ?]::uuid[]) as r", [second.runId, first.runId]),
    )[0]!.r;
    expect(out.map((c) => [c.run_id, c.step_id])).toEqual([[first.runId, "a"]]);
  });
}, { backends: BACKENDS.filter((b) => b.name === "pg") });
