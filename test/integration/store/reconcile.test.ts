/**
 * The failing path (cl_reconcile_events, migration 015) as a table: for each snapshot
 * of a failing run's steps, what it cancels, what it starts undoing (dependents
 * first) and the final state once nothing is in flight. Every odd interleaving — a
 * sibling still running, an undo that failed half-way — is a row here.
 */
import { expect, it } from "vitest";
import type { Knex } from "knex";
import { describeEngine } from "../engine/fixture.js";
import { rowsOf } from "../../../src/store/db.js";
import { createRun } from "../../../src/store/runs.js";
import type { StepState } from "../../../src/engine/states.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";

// a → b → c, a → side; c and side → boom
const workflow: WorkflowSpec = {
  apiVersion: "clutch-luigi/v1",
  kind: "Workflow",
  name: "reconcile",
  steps: [
    { id: "a", uses: "x" },
    { id: "b", uses: "x", needs: ["a"] },
    { id: "side", uses: "x", needs: ["a"] },
    { id: "c", uses: "x", needs: ["b"] },
    { id: "boom", uses: "x", needs: ["c", "side"] },
  ],
};

type Row = Partial<Record<"a" | "b" | "side" | "c" | "boom", StepState | [StepState, boolean]>>;
interface Plan {
  cancel: string[];
  rollback: string[];
  final: string | null;
}

describeEngine("the failing path on $name", (env) => {
  /** Set up the snapshot, run one reconcile, and read back what it did; rolled back afterwards, so it leaves nothing. */
  async function plan(states: Row, cancelRequested: boolean): Promise<Plan> {
    const { runId } = await createRun(env.store, {
      workflow, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "reconcile", reason: "table" }, requestPath: "r.yaml",
      repository: "o/r", requester: { login: "t", type: "User" }, approvers: [],
    });
    let out: Plan | null = null;
    await env.store.db.transaction(async (trx: Knex.Transaction) => {
      // A snapshot is set up, not reached by moves: the transition check is off for this transaction only.
      await trx.raw("set local clutch_luigi.check_transitions = off");
      await trx.raw("update runs set state = 'rolling_back', cancel_requested = ? where id = ?", [cancelRequested, runId]);
      for (const [id, v] of Object.entries(states)) {
        const [state, hasRollback] = Array.isArray(v) ? v : [v, true];
        await trx.raw("update steps set state = ?, has_rollback = ? where run_id = ? and step_id = ?", [state, hasRollback, runId, id]);
      }
      const events = rowsOf<{ ev: { kind: string; step_id: string | null }[] | string }>(
        await trx.raw("select cl_reconcile_events(?, 'test') as ev", [runId]),
      )[0]!.ev;
      const list = typeof events === "string" ? (JSON.parse(events) as { kind: string; step_id: string | null }[]) : events;
      const final = list.find((e) => e.step_id === null && e.kind.startsWith("run."));
      out = {
        cancel: list.filter((e) => e.kind === "step.cancelled").map((e) => e.step_id!),
        rollback: list.filter((e) => e.kind === "step.rolling_back").map((e) => e.step_id!),
        final: final ? final.kind.slice("run.".length) : null,
      };
      const run = rowsOf<{ state: string }>(await trx.raw("select state from runs where id = ?", [runId]))[0]!;
      expect(run.state).toBe(out.final ?? "rolling_back");
      throw new Rollback();
    }).catch((e: unknown) => {
      if (!(e instanceof Rollback)) throw e;
    });
    return out!;
  }

  it.each<[string, Row, boolean, Plan]>([
    ["leaves first: only steps with nothing standing downstream",
      { a: "succeeded", b: "succeeded", side: "succeeded", c: "succeeded", boom: "failed" }, false,
      { cancel: [], rollback: ["c", "side"], final: null }],
    ["walks up once the leaves are undone",
      { a: "succeeded", b: "succeeded", side: "rolled_back", c: "rolled_back", boom: "failed" }, false,
      { cancel: [], rollback: ["b"], final: null }],
    ["the root last",
      { a: "succeeded", b: "rolled_back", side: "rolled_back", c: "rolled_back", boom: "failed" }, false,
      { cancel: [], rollback: ["a"], final: null }],
    ["finishes rolled_back",
      { a: "rolled_back", b: "rolled_back", side: "rolled_back", c: "rolled_back", boom: "failed" }, false,
      { cancel: [], rollback: [], final: "rolled_back" }],
    ["cancels what never started and waits for a running sibling",
      { a: "succeeded", b: "succeeded", side: "running", c: "failed", boom: "pending" }, false,
      { cancel: ["boom"], rollback: ["b"], final: null }],
    ["steps without a rollback pass through",
      { a: "succeeded", b: ["succeeded", false], side: ["succeeded", false], c: "failed", boom: "pending" }, false,
      { cancel: ["boom"], rollback: ["a"], final: null }],
    ["nothing to undo → failed",
      { a: ["succeeded", false], b: "failed", side: "cancelled", c: "pending", boom: "pending" }, false,
      { cancel: ["c", "boom"], rollback: [], final: "failed" }],
    ["a failed rollback keeps its ancestors in place",
      { a: "succeeded", b: "rollback_failed", side: "rolled_back", c: "rolled_back", boom: "failed" }, false,
      { cancel: [], rollback: [], final: "rollback_failed" }],
    ["skipped work is not undone",
      { a: "skipped", b: "succeeded", side: "skipped", c: "failed", boom: "ready" }, false,
      { cancel: ["boom"], rollback: ["b"], final: null }],
    ["a cancelled run ends cancelled",
      { a: "rolled_back", b: "cancelled", side: "cancelled", c: "cancelled", boom: "cancelled" }, true,
      { cancel: [], rollback: [], final: "cancelled" }],
    ["cancel with a failed rollback ends rollback_failed",
      { a: "rollback_failed", b: "cancelled", side: "waiting", c: "cancelled", boom: "cancelled" }, true,
      { cancel: ["side"], rollback: [], final: "rollback_failed" }],
  ])("%s", async (_name, states, cancelled, expected) => {
    expect(await plan(states, cancelled)).toEqual(expected);
  });
});

class Rollback extends Error {}
