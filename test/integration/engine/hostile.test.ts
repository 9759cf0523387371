/**
 * Hostile input: request params and action results that Postgres cannot store as
 * they are (NUL, broken UTF-16, cycles, absurd depth or size). Each must end in a
 * clear error — a refused request, or a step failed once with `invalid-output` —
 * and never in a worker that keeps re-running a result it cannot record.
 */
import { expect, it } from "vitest";
import { describeEngine } from "./fixture.js";
import { loadWorkflow, stepStates } from "./harness.js";
import { rowsOf } from "../../../src/store/db.js";
import { getRun, listAttempts } from "../../../src/store/runs.js";
import { listAuditEvents } from "../../../src/store/audit.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { UnstorableResultError } from "../../../src/engine/queue.js";

describeEngine("hostile input on $name", (env) => {
  const runCount = async (): Promise<number> => Number(rowsOf<{ n: string }>(await env.store.db.raw("select count(*) as n from runs"))[0]!.n);

  it.each([
    ["a NUL character", { tag: "t", mode: "ok", note: "nul\u0000here" }, /"request\.params\.note" contains a NUL character/],
    ["an unpaired surrogate", { tag: "t", mode: "ok", note: "half \ud800" }, /"request\.params\.note" contains an unpaired UTF-16 surrogate/],
    ["absurd nesting", { tag: "t", mode: "ok", note: JSON.parse("[".repeat(500) + "]".repeat(500)) as unknown }, /nested more than 64 levels deep/],
  ])("refuses a request whose params hold %s, creating nothing", async (_what, params, message) => {
    const before = await runCount();
    await expect(env.startRun(loadWorkflow("hostile.yaml"), params)).rejects.toThrow(message);
    expect(await runCount()).toBe(before);
  });

  it("refuses delays and deadlines past what a timestamp holds, creating nothing", async () => {
    const before = await runCount();
    const wf = loadWorkflow("hostile.yaml");
    await expect(env.startRun({ ...wf, steps: wf.steps.map((st, i) => (i === 0 ? { ...st, after: "99999999999d" } : st)) }, { tag: "t", mode: "ok" }))
      .rejects.toThrow('cannot start a run: step "emit" after: 99999999999d is longer than ten years');
    await expect(env.startRun({ ...wf, timeout: "500000d" }, { tag: "t", mode: "ok" }))
      .rejects.toThrow(/cannot start a run: timeout: 500000d is longer than ten years/);
    expect(await runCount()).toBe(before);
  });

  it.each([
    ["nul-output", /output "text" contains a NUL character/],
    ["lone-surrogate", /output "text" contains an unpaired UTF-16 surrogate/],
    ["cycle", /output "self" contains itself \(a cycle\)/],
    ["not-an-object", /returned a string; outputs are an object of named values/],
    ["deep-output", /nested more than 64 levels deep/],
    ["huge-output", /returned \d+ bytes of outputs; the limit is 4194304/],
  ])("fails a step whose action returns %s once, with a clear invalid-output error", async (mode, message) => {
    const workers = env.startWorkers(1);
    const bad = await env.startRun(loadWorkflow("hostile.yaml"), { tag: mode, mode });
    const good = await env.startRun(loadWorkflow("hostile.yaml"), { tag: `${mode}-good`, mode: "ok" });
    const run = await env.waitForRun(bad.runId);
    expect(run.state).toBe("failed");
    expect(stepStates(run)).toEqual({ emit: "failed", after: "cancelled" });
    expect(run.steps[0]).toMatchObject({ errorClass: "invalid-output", attempt: 1 });
    expect(run.steps[0]!.error).toMatch(message);
    // ran exactly once: not retried (invalid-output is not in retry.on), not re-run by a lease expiry
    expect(env.journal.events.filter((e) => e === `run:${mode}`)).toHaveLength(1);
    expect((await listAttempts(env.store, bad.runId)).map((a) => [a.attempt, a.outcome, a.errorClass])).toEqual([[1, "failed", "invalid-output"]]);
    // the same worker carries on with other work
    expect((await env.waitForRun(good.runId)).state).toBe("succeeded");
    expect(workers.errors).toEqual([]);
  });

  it("stores an error message with a NUL and a surrogate pair cut at the length limit", async () => {
    const workers = env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("hostile.yaml"), { tag: "err", mode: "nul-error" });
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("failed");
    const error = run.steps[0]!.error!;
    expect(error.startsWith("bad\uFFFDbyte yyy")).toBe(true);
    expect(error.length).toBeLessThanOrEqual(2_000);
    expect(error.endsWith("y")).toBe(true); // the half emoji was dropped, not stored broken
    expect(run.error).toContain("bad\uFFFDbyte");
    expect((await listAuditEvents(env.store.db, { runId })).some((e) => e.kind === "run.rolling_back")).toBe(true);
    expect(workers.errors).toEqual([]);
  });

  it("keeps locks exact for keys far longer than an index entry allows", async () => {
    const wf = loadWorkflow("long-lock.yaml");
    const big = "h".repeat(50_000);
    const one = await env.startRun(wf, { target: big, tag: "one" });
    const two = await env.startRun(wf, { target: big, tag: "two" });
    const other = await env.startRun(wf, { target: `${big}!`, tag: "other" });
    expect([one.state, two.state, other.state]).toEqual(["running", "waiting", "running"]);
    const keys = rowsOf<{ lock_key: string }>(await env.store.db.raw("select lock_key from runs where id = any(?) order by created_at", [[one.runId, two.runId, other.runId]]));
    expect(keys.every((k) => k.lock_key.length <= 200)).toBe(true);
    env.startWorkers(1);
    for (const r of [one, two, other]) expect((await env.waitForRun(r.runId)).state).toBe("succeeded");
    const span = (tag: string) => env.journal.spans.find((s) => s.tag === tag)!;
    expect(span("two").start).toBeGreaterThanOrEqual(span("one").end);
  });

  it("the store refuses an unstorable report on its own, without sinking the reports batched with it", async () => {
    const wf = loadWorkflow("diamond.yaml");
    const ids: string[] = [];
    for (const name of ["first", "poisoned", "fine"]) ids.push((await env.startRun(wf, { name })).runId);
    const queue = new PgWorkQueue(env.store, { workerId: "direct", leaseMs: 30_000 });
    const steps = await queue.claim(3);
    const byRun = (id: string) => steps.find((s) => s.runId === id)!;
    const [first, poisoned, fine] = ids.map(byRun);
    // The first report goes out alone; the two made while it is in flight share the next batch.
    const results = await Promise.allSettled([
      queue.complete(first!, { kind: "succeeded", outputs: { value: "first" }, secretOutputs: [] }),
      queue.complete(poisoned!, { kind: "succeeded", outputs: { value: "x\u0000y" }, secretOutputs: [] }),
      queue.complete(fine!, { kind: "succeeded", outputs: { value: "fine" }, secretOutputs: [] }),
    ]);
    expect(results[0]).toMatchObject({ status: "fulfilled", value: { ok: true } });
    expect(results[1]).toMatchObject({ status: "rejected", reason: expect.any(UnstorableResultError) });
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/Unicode|\\u0000/);
    expect(results[2]).toMatchObject({ status: "fulfilled", value: { ok: true } });
    expect((await getRun(env.store, fine!.runId))!.steps.find((s) => s.stepId === "a")!.state).toBe("succeeded");
    // the refused step is still ours and still running: the worker reports a failure in its place
    expect((await getRun(env.store, poisoned!.runId))!.steps.find((s) => s.stepId === "a")!.state).toBe("running");
    await queue.complete(poisoned!, { kind: "failed", errorClass: "invalid-output", message: "unstorable", retryInMs: null });
    expect((await env.waitForRun(poisoned!.runId)).state).toBe("failed");
    await queue.close();
  });

  it("carries huge and odd params through a run intact, as data", async () => {
    const blob = {
      big: "x".repeat(900_000),
      ["__proto__"]: { polluted: true },
      "with space": "${{ params.blob }}",
      "ключ 🔑": [1, 2.5, -0, null, true, "' ; drop table runs; --"],
    };
    // JSON.parse makes __proto__ an own key, as a YAML or JSON request would
    const params = { blob: JSON.parse(JSON.stringify(blob)) as unknown };
    const workers = env.startWorkers(2);
    const { runId } = await env.startRun(loadWorkflow("odd-params.yaml"), params);
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    const out = rowsOf<{ outputs: { value: Record<string, unknown> } }>(
      await env.store.db.raw("select outputs from steps where run_id = ? and step_id = 'again'", [runId]),
    )[0]!.outputs.value;
    // (keys chosen so that jsonb's own key order equals this one)
    expect(JSON.stringify(out)).toBe(JSON.stringify(params.blob));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(workers.errors).toEqual([]);
  });
});
