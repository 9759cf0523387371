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
import { readingSteps } from "../../support/steps-read.js";

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
    // cl_report plans its statements generically (migration 018); a direct call plans them as usual.
    // Rolled back, so the steps stay claimable for the next mode.
    for (const mode of ["force_generic_plan", "auto"] as const) {
      const { out: claimed, read } = await readingSteps<Claimed[]>(
        env.store.db, "select cl_claim_rows('scope-test', 4, 60000, array[?]::uuid[]) as r", [mine.runId], mode,
      );
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
