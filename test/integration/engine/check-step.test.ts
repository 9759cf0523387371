/**
 * A step's `check:` runs before its action on every forward attempt: `done: true`
 * skips the step (its action never runs, the audit row says why, dependents go on);
 * anything else runs the step; a failing check fails the attempt under the step's
 * retry policy.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BACKENDS } from "./backends.js";
import { startRun, startWorkers, stepStates, testRegistry, waitForRun, type Journal, type Workers } from "./harness.js";
import { ActionError, type Action } from "../../../src/actions/types.js";
import type { ActionRegistry } from "../../../src/actions/registry.js";
import type { StepSpec, WorkflowSpec } from "../../../src/formats/types.js";
import type { Store } from "../../../src/store/db.js";
import { rowsOf } from "../../../src/store/db.js";
import { listAuditEvents, verifyAuditChain } from "../../../src/store/audit.js";
import { listAttempts } from "../../../src/store/runs.js";

interface DoneInput {
  tag: string;
  /** What to report as `done`; absent: no `done` output at all. */
  done?: unknown;
  /** Report done from this attempt on (overrides `done`). */
  doneFrom?: number;
  /** Fail this many attempts first, with `code`. */
  failTimes?: number;
  code?: string;
}

/** A check that records each call, so the tests see when (and whether) it ran. */
function doneCheck(journal: Journal): Action<DoneInput, Record<string, unknown>> {
  return {
    name: "test.done",
    description: "Reports done as told, after failing failTimes attempts.",
    input: { type: "object" },
    output: { type: "object" },
    async run(input, ctx) {
      const n = ctx.identity.attempt;
      journal.events.push(`check:${input.tag}#${n}`);
      if (n <= (input.failTimes ?? 0)) throw new ActionError(input.code ?? "refused", `lookup refused (attempt ${n})`);
      const done = input.doneFrom !== undefined ? n >= input.doneFrom : input.done;
      return { ...(done === undefined ? {} : { done }), seen: input.tag };
    },
  };
}

function workflow(name: string, steps: StepSpec[]): WorkflowSpec {
  return { apiVersion: "clutch-luigi/v1", kind: "Workflow", name, steps };
}

const RETRY = { attempts: 3, backoff: "20ms", on: ["connection"] };

describe.each(BACKENDS)("a step's check: on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let journal: Journal;
  let registry: ActionRegistry;
  let workers: Workers | null = null;

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => {
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
    await cleanup();
  });
  beforeEach(() => {
    journal = { events: [], spans: [] };
    registry = testRegistry(journal).register(doneCheck(journal));
  });
  afterEach(async () => {
    await workers?.stop();
    workers = null;
  });

  it("skips a step whose check reports done: its action never runs, the audit says why, dependents run on the check's outputs", async () => {
    const wf = workflow("check-done", [
      { id: "lookup", uses: "test.record", with: { tag: "lookup", value: "alice" } },
      {
        id: "grant",
        needs: ["lookup"],
        uses: "test.record",
        with: { tag: "grant" },
        // The check's `with` reads a dependency's outputs, like the step's own.
        check: { uses: "test.done", with: { tag: "${{ steps.lookup.outputs.value }}", done: true } },
      },
      { id: "after", needs: ["grant"], uses: "test.record", with: { tag: "after", value: "${{ steps.grant.outputs.seen }}" } },
    ]);
    workers = startWorkers(store, registry, 1);
    const { runId } = await startRun(store, wf, registry);
    const run = await waitForRun(store, runId);
    expect(run.state).toBe("succeeded");
    expect(stepStates(run)).toEqual({ lookup: "succeeded", grant: "skipped", after: "succeeded" });
    expect(journal.events).toEqual(["run:lookup", "check:alice#1", "run:after"]);
    const after = rowsOf<{ outputs: { value: string } }>(await store.db.raw("select outputs from steps where run_id = ? and step_id = 'after'", [runId]))[0]!;
    expect(after.outputs.value).toBe("alice");
    expect((await listAttempts(store, runId)).find((a) => a.stepId === "grant")).toMatchObject({ attempt: 1, outcome: "skipped", errorClass: null });

    const skipped = (await listAuditEvents(store.db, { runId })).filter((e) => e.kind === "step.skipped");
    expect(skipped.map((e) => e.step_id)).toEqual(["grant"]);
    expect(skipped[0]!.data).toMatchObject({ attempt: 1, outputs: ["done", "seen"] });
    expect(skipped[0]!.data.reason).toBe("check test.done reported done");
  });

  it("runs the step when its check reports done false, no done, or a done that is not the boolean true", async () => {
    const wf = workflow("check-not-done", [
      { id: "no", uses: "test.record", with: { tag: "no" }, check: { uses: "test.done", with: { tag: "no", done: false } } },
      { id: "absent", uses: "test.record", with: { tag: "absent" }, check: { uses: "test.done", with: { tag: "absent" } } },
      { id: "text", uses: "test.record", with: { tag: "text" }, check: { uses: "test.done", with: { tag: "text", done: "true" } } },
    ]);
    workers = startWorkers(store, registry, 1);
    const { runId } = await startRun(store, wf, registry);
    const run = await waitForRun(store, runId);
    expect(run.state).toBe("succeeded");
    expect(stepStates(run)).toEqual({ no: "succeeded", absent: "succeeded", text: "succeeded" });
    for (const tag of ["no", "absent", "text"]) {
      // The check came first, then the action, in the same attempt.
      expect(journal.events.indexOf(`check:${tag}#1`)).toBeGreaterThanOrEqual(0);
      expect(journal.events.indexOf(`run:${tag}`)).toBeGreaterThan(journal.events.indexOf(`check:${tag}#1`));
    }
    // The step's own outputs are recorded, not the check's.
    const no = rowsOf<{ outputs: Record<string, unknown> }>(await store.db.raw("select outputs from steps where run_id = ? and step_id = 'no'", [runId]))[0]!;
    expect(no.outputs).toEqual({ tag: "no", value: null });
    expect((await listAuditEvents(store.db, { runId })).some((e) => e.kind === "step.skipped")).toBe(false);
  });

  it("retries a failing check under the step's retry policy, and runs the step once it answers", async () => {
    const wf = workflow("check-flaky", [
      { id: "grant", uses: "test.record", with: { tag: "grant" }, retry: RETRY, check: { uses: "test.done", with: { tag: "grant", done: false, failTimes: 1, code: "connection" } } },
    ]);
    workers = startWorkers(store, registry, 1);
    const { runId } = await startRun(store, wf, registry);
    const run = await waitForRun(store, runId);
    expect(run.state).toBe("succeeded");
    expect(journal.events).toEqual(["check:grant#1", "check:grant#2", "run:grant"]);
    expect((await listAttempts(store, runId)).map((a) => [a.attempt, a.outcome, a.errorClass, a.error])).toEqual([
      [1, "failed", "connection", "check test.done: lookup refused (attempt 1)"],
      [2, "succeeded", null, null],
    ]);
  });

  it("fails the step when its check fails for good, without running its action", async () => {
    const wf = workflow("check-fails", [
      { id: "grant", uses: "test.record", with: { tag: "grant" }, retry: { ...RETRY, attempts: 2 }, check: { uses: "test.done", with: { tag: "grant", failTimes: 9, code: "connection" } } },
    ]);
    workers = startWorkers(store, registry, 1);
    const { runId } = await startRun(store, wf, registry);
    const run = await waitForRun(store, runId);
    expect(run.state).toBe("failed");
    expect(run.steps[0]).toMatchObject({ state: "failed", errorClass: "connection", attempt: 2, error: "check test.done: lookup refused (attempt 2)" });
    expect(journal.events).toEqual(["check:grant#1", "check:grant#2"]);
  });

  it("asks again on a retry of the step: work done meanwhile skips it then", async () => {
    const wf = workflow("check-on-retry", [
      {
        id: "grant",
        uses: "test.flaky",
        with: { tag: "grant", code: "connection", failTimes: 1 },
        retry: RETRY,
        check: { uses: "test.done", with: { tag: "grant", doneFrom: 2 } },
      },
    ]);
    workers = startWorkers(store, registry, 1);
    const { runId } = await startRun(store, wf, registry);
    const run = await waitForRun(store, runId);
    expect(run.state).toBe("succeeded");
    expect(stepStates(run)).toEqual({ grant: "skipped" });
    expect(journal.events).toEqual(["check:grant#1", "run:grant#1", "check:grant#2"]);
  });

  it("leaves a skipped step alone when the run rolls back: there is nothing of its own to undo", async () => {
    const wf = workflow("check-rollback", [
      { id: "made", uses: "test.record", with: { tag: "made" } },
      { id: "grant", uses: "test.record", with: { tag: "grant" }, check: { uses: "test.done", with: { tag: "grant", done: true } } },
      { id: "boom", needs: ["made", "grant"], uses: "test.flaky", with: { tag: "boom", code: "refused", failTimes: 9 } },
    ]);
    workers = startWorkers(store, registry, 1);
    const { runId } = await startRun(store, wf, registry);
    const run = await waitForRun(store, runId);
    expect(run.state).toBe("rolled_back");
    expect(stepStates(run)).toEqual({ made: "rolled_back", grant: "skipped", boom: "failed" });
    expect(journal.events.filter((e) => e.startsWith("rollback:"))).toEqual(["rollback:made:made"]);
    expect(journal.events).not.toContain("run:grant");
  });
});
