/**
 * One report batch ends all its attempts before any run-level work (migration 020), so
 * the run-level work of an earlier attempt sees a later attempt of the same run already
 * ended. Two independent steps of one run reported together, one failing for good and
 * one succeeding, end the run as the one-at-a-time order did: counters at zero, the
 * success undone when it has an undo, and the audit rows in the order of the changes.
 * The claim comes after the run-level work: a batch of successes takes the run's
 * ready step, a batch with a failure cancels it rather than start it.
 */
import { expect, it } from "vitest";
import type { Knex } from "knex";
import { describeEngine } from "../engine/fixture.js";
import { rowsOf } from "../../../src/store/db.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";

const workflow: WorkflowSpec = {
  apiVersion: "clutch-luigi/v1",
  kind: "Workflow",
  name: "two-passes",
  steps: [
    { id: "a", uses: "test.record", with: { tag: "a" } },
    { id: "b", uses: "test.record", with: { tag: "b" } },
  ],
};
const wider: WorkflowSpec = { ...workflow, name: "two-passes-3", steps: [...workflow.steps, { id: "c", uses: "test.record", with: { tag: "c" } }] };
const join: WorkflowSpec = { ...workflow, name: "two-passes-join", steps: [...workflow.steps, { id: "c", uses: "test.record", with: { tag: "c" }, needs: ["a", "b"] }] };

interface Outcome {
  run: { state: string; active: number };
  steps: Record<string, string>;
  kinds: string[];
}

describeEngine("a report batch's two passes on $name", (env) => {
  async function reportTogether(bHasUndo: boolean): Promise<Outcome> {
    const { runId } = await env.startRun(workflow);
    let out: Outcome | null = null;
    const trx = await env.store.db.transaction();
    try {
      await trx.raw("update steps set has_rollback = ? where run_id = ? and step_id = 'b'", [bHasUndo, runId]);
      const claimed = rowsOf<{ r: unknown[] }>(await trx.raw("select cl_claim_rows('w', 2, 60000, array[?]::uuid[]) as r", [runId]))[0]!.r;
      expect(claimed).toHaveLength(2);
      const from = rowsOf<{ seq: string }>(await trx.raw("select coalesce(max(seq), 0) as seq from audit_events"))[0]!.seq;
      const items = [
        { run_id: runId, step_id: "a", attempt: 1, kind: "failed", error_class: "permanent", message: "no" },
        { run_id: runId, step_id: "b", attempt: 1, kind: "succeeded", outputs: {}, output_names: [] },
      ];
      const r = rowsOf<{ r: { statuses: Record<string, string> } }>(await trx.raw("select cl_report('w', ?::jsonb, 0, 60000, false) as r", [JSON.stringify(items)]))[0]!.r;
      expect(r.statuses).toEqual({ [`${runId}/a`]: "ok", [`${runId}/b`]: "ok" });
      const run = rowsOf<{ state: string; active: number }>(await trx.raw("select state, active from runs where id = ?", [runId]))[0]!;
      const steps = Object.fromEntries(
        rowsOf<{ step_id: string; state: string }>(await trx.raw("select step_id, state from steps where run_id = ?", [runId])).map((s) => [s.step_id, s.state]),
      );
      const kinds = rowsOf<{ kind: string }>(await trx.raw("select kind from audit_events where seq > ? and run_id = ? order by seq", [from, runId])).map((e) => e.kind);
      out = { run, steps, kinds };
    } finally {
      await trx.rollback();
    }
    return out!;
  }

  it("a failure and a success without an undo, reported together: the run fails, nothing is left counted", async () => {
    expect(await reportTogether(false)).toEqual({
      run: { state: "failed", active: 0 },
      steps: { a: "failed", b: "succeeded" },
      kinds: ["step.failed", "step.succeeded", "run.rolling_back", "run.failed"],
    });
  });

  it("a failure and a success with an undo, reported together: the success is being undone, nothing else is counted", async () => {
    expect(await reportTogether(true)).toEqual({
      run: { state: "rolling_back", active: 0 },
      steps: { a: "failed", b: "rolling_back" },
      kinds: ["step.failed", "step.succeeded", "run.rolling_back", "step.rolling_back"],
    });
  });

  async function reportWithOneMore(kinds: ["failed" | "succeeded", "failed" | "succeeded"], w: WorkflowSpec = wider): Promise<{ claimed: string[]; c: string }> {
    const { runId } = await env.startRun(w);
    const trx = await env.store.db.transaction();
    try {
      // a and b run; c is ready. Nothing has an undo, so a failure leaves nothing to claim.
      await trx.raw("update steps set has_rollback = false where run_id = ?", [runId]);
      const first = rowsOf<{ r: { step_id: string }[] }>(await trx.raw("select cl_claim_rows('w', 2, 60000, array[?]::uuid[]) as r", [runId]))[0]!.r;
      const items = first.map((x, i) =>
        kinds[i] === "failed"
          ? { run_id: runId, step_id: x.step_id, attempt: 1, kind: "failed", error_class: "permanent", message: "no" }
          : { run_id: runId, step_id: x.step_id, attempt: 1, kind: "succeeded", outputs: {}, output_names: [] },
      );
      const r = rowsOf<{ r: { claimed: { run_id: string; step_id: string }[] } }>(await trx.raw("select cl_report('w', ?::jsonb, 1, 60000, false) as r", [JSON.stringify(items)]))[0]!.r;
      const c = rowsOf<{ state: string }>(await trx.raw("select state from steps where run_id = ? and step_id = 'c'", [runId]))[0]!.state;
      // other tests' runs have ready steps too, which the claim of any run may take
      return { claimed: r.claimed.filter((x) => x.run_id === runId).map((x) => x.step_id), c };
    } finally {
      await trx.rollback();
    }
  }

  it("two successes reported together take the run's ready step in the same transaction", async () => {
    expect(await reportWithOneMore(["succeeded", "succeeded"])).toEqual({ claimed: ["c"], c: "running" });
  });

  it("a failure reported with a success cancels the run's ready step rather than start it", async () => {
    expect(await reportWithOneMore(["failed", "succeeded"])).toEqual({ claimed: [], c: "cancelled" });
  });

  it("both prerequisites of a join reported together promote it once, and it is taken in the same transaction", async () => {
    expect(await reportWithOneMore(["succeeded", "succeeded"], join)).toEqual({ claimed: ["c"], c: "running" });
  });
});
