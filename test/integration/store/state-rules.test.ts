/**
 * The database holds the engine's state machines: CHECK constraints admit only the
 * states src/engine/states.ts lists, and the transition trigger (on in this suite)
 * refuses a move outside STEP_TRANSITIONS / RUN_TRANSITIONS, whoever writes it.
 * Also the schema snapshot: every change to the database's shape shows in review.
 */
import { describe, expect, it } from "vitest";
import type { Knex } from "knex";
import { describeEngine } from "../engine/fixture.js";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import { createRun } from "../../../src/store/runs.js";
import { RUN_TRANSITIONS, STEP_STATES, STEP_TRANSITIONS } from "../../../src/engine/states.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { dumpSchema } from "../../support/schema-dump.js";

const workflow: WorkflowSpec = { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "rules", steps: [{ id: "a", uses: "x" }, { id: "b", uses: "x", needs: ["a"] }] };

async function newRun(store: Store): Promise<string> {
  const { runId } = await createRun(store, {
    workflow, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "rules", reason: "rules" }, requestPath: "r.yaml",
    repository: "o/r", requester: { login: "t", type: "User" }, approvers: [],
  });
  return runId;
}

describeEngine("state rules on $name", (env) => {
  it("is on for this suite", async () => {
    const row = rowsOf<{ v: string }>(await env.store.db.raw("select current_setting('clutch_luigi.check_transitions', true) as v"))[0];
    expect(row?.v).toBe("on");
  });

  it("holds exactly the moves of the TypeScript tables", async () => {
    const moves = async (table: string) =>
      rowsOf<{ m: string }>(await env.store.db.raw(`select from_state || '>' || to_state as m from ${table} order by 1`)).map((r) => r.m);
    const flat = (t: Readonly<Record<string, readonly string[]>>) => Object.entries(t).flatMap(([f, tos]) => tos.map((x) => `${f}>${x}`)).sort();
    expect(await moves("cl_step_moves")).toEqual(flat(STEP_TRANSITIONS));
    expect(await moves("cl_run_moves")).toEqual(flat(RUN_TRANSITIONS));
  });

  it("refuses a state nobody declared", async () => {
    const runId = await newRun(env.store);
    // The trigger would refuse these moves first; with it off, the constraints still do.
    const unchecked = (sql: string) =>
      env.store.db.transaction(async (trx: Knex.Transaction) => {
        await trx.raw("set local clutch_luigi.check_transitions = off");
        await trx.raw(sql, [runId]);
      });
    await expect(unchecked("update steps set state = 'done' where run_id = ? and step_id = 'a'")).rejects.toThrow(/steps_state_known/);
    await expect(unchecked("update runs set state = 'paused' where id = ?")).rejects.toThrow(/runs_state_known/);
    // every declared state is admitted by the constraint
    await env.store.db.transaction(async (trx: Knex.Transaction) => {
      await trx.raw("set local clutch_luigi.check_transitions = off");
      for (const s of STEP_STATES) await trx.raw("update steps set state = ? where run_id = ? and step_id = 'b'", [s, runId]);
    });
  });

  it("refuses a step move outside STEP_TRANSITIONS, and a run move outside RUN_TRANSITIONS", async () => {
    const runId = await newRun(env.store);
    // a is ready (a root), b pending: ready → succeeded skips running
    await expect(env.store.db.raw("update steps set state = 'succeeded' where run_id = ? and step_id = 'a'", [runId])).rejects.toThrow(/illegal step transition ready → succeeded/);
    await expect(env.store.db.raw("update steps set state = 'rolled_back' where run_id = ? and step_id = 'b'", [runId])).rejects.toThrow(/illegal step transition pending → rolled_back/);
    await expect(env.store.db.raw("update runs set state = 'waiting' where id = ?", [runId])).rejects.toThrow(/illegal run transition running → waiting/);
    // a move the table allows goes through
    await env.store.db.raw("update steps set state = 'cancelled' where run_id = ? and step_id = 'b'", [runId]);
    // and the refused ones changed nothing
    const states = rowsOf<{ step_id: string; state: string }>(await env.store.db.raw("select step_id, state from steps where run_id = ? order by ord", [runId]));
    expect(states.map((s) => s.state)).toEqual(["ready", "cancelled"]);
  });

  it("is off unless a session turns it on", async () => {
    const plain = await openStore({ dataDir: ":memory:", checkTransitions: false });
    try {
      const runId = await newRun(plain);
      await plain.db.raw("update steps set state = 'succeeded' where run_id = ? and step_id = 'a'", [runId]);
      const s = rowsOf<{ state: string }>(await plain.db.raw("select state from steps where run_id = ? and step_id = 'a'", [runId]))[0];
      expect(s?.state).toBe("succeeded");
    } finally {
      await plain.close();
    }
  });
});

describe("schema snapshot", () => {
  it("matches test/fixtures/schema.snapshot.sql (run vitest with -u to accept a change)", async () => {
    const store = await openStore({ dataDir: ":memory:" });
    try {
      await expect(await dumpSchema(store.db)).toMatchFileSnapshot("../../fixtures/schema.snapshot.sql");
    } finally {
      await store.close();
    }
  });
});
