import { expect, it } from "vitest";
import { describeEngine } from "./fixture.js";
import { loadWorkflow, stepStates } from "./harness.js";
import { cancelRun, createRun, getRun, listAttempts } from "../../../src/store/runs.js";
import { listAuditEvents } from "../../../src/store/audit.js";
import { rowsOf } from "../../../src/store/db.js";
import { MAX_INTERRUPTIONS, PgWorkQueue } from "../../../src/store/queue.js";

describeEngine("engine semantics on $name", (env) => {
  it("runs a diamond once per step, feeding outputs through expressions", async () => {
    const wf = loadWorkflow("diamond.yaml");
    const { runId } = await env.startRun(wf, { name: "orders" });
    env.startWorkers(2);
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("succeeded");
    expect([...env.journal.events].sort()).toEqual(["run:a", "run:b", "run:c", "run:d"]);
    expect(env.journal.events[0]).toBe("run:a");
    expect(env.journal.events[3]).toBe("run:d");
    const d = rowsOf<{ outputs: { value: string } }>(await env.store.db.raw("select outputs from steps where run_id = ? and step_id = 'd'", [runId]))[0]!;
    expect(d.outputs.value).toBe("b-of-orders");
    const kinds = (await listAuditEvents(env.store.db, { runId })).map((e) => `${e.kind}${e.step_id ? ":" + e.step_id : ""}`);
    expect(kinds[0]).toBe("run.created");
    expect(kinds).toContain("step.succeeded:d");
    expect(kinds.at(-1)).toBe("run.succeeded");
  });

  it("refuses a step whose input, once resolved, fails its action's schema", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("bad-runtime-input.yaml"));
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("failed");
    const second = run.steps.find((s) => s.stepId === "second");
    // Not retried: `invalid-input` is not among the retry classes, and the input would not change.
    expect(second).toMatchObject({ state: "failed", errorClass: "invalid-input", attempt: 1 });
    expect(second?.error).toMatch(/sleep refused its input: with.duration is not a duration/);
  });

  it("is idempotent on the caller's key", async () => {
    const wf = loadWorkflow("diamond.yaml");
    const first = await env.startRun(wf, { name: "x" }, { idempotencyKey: "acme/ops#7@abc" });
    const again = await env.startRun(wf, { name: "x" }, { idempotencyKey: "acme/ops#7@abc" });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ runId: first.runId, created: false });
  });

  it("creates one run when the same key arrives several times at once (replayed webhooks)", async () => {
    const wf = loadWorkflow("diamond.yaml");
    const all = await Promise.all(Array.from({ length: 5 }, () => env.startRun(wf, { name: "y" }, { idempotencyKey: "acme/ops#8@def" })));
    expect(all.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(all.map((r) => r.runId)).size).toBe(1);
    const n = rowsOf<{ n: string }>(await env.store.db.raw("select count(*) as n from runs where idempotency_key = 'acme/ops#8@def'"))[0]!.n;
    expect(Number(n)).toBe(1);
  });

  it("retries only the named error classes, recording every attempt", async () => {
    env.startWorkers(1);
    const ok = await env.startRun(loadWorkflow("retry.yaml"));
    expect((await env.waitForRun(ok.runId)).state).toBe("succeeded");
    expect((await listAttempts(env.store, ok.runId)).map((a) => [a.attempt, a.outcome, a.errorClass])).toEqual([
      [1, "failed", "connection"],
      [2, "failed", "connection"],
      [3, "succeeded", null],
    ]);
    const bad = await env.startRun(loadWorkflow("retry-wrong-class.yaml"));
    const run = await env.waitForRun(bad.runId);
    expect(run.state).toBe("failed");
    expect(run.steps[0]).toMatchObject({ state: "failed", errorClass: "http-4xx", attempt: 1 });
    expect((await listAttempts(env.store, bad.runId)).length).toBe(1);
  });

  it("rolls completed steps back in reverse dependency order when a step fails for good", async () => {
    env.startWorkers(2);
    const { runId } = await env.startRun(loadWorkflow("rollback-chain.yaml"));
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("rolled_back");
    expect(stepStates(run)).toEqual({
      a: "rolled_back", b: "rolled_back", side: "rolled_back", c: "rolled_back", boom: "failed", never: "cancelled",
    });
    const rb = env.journal.events.filter((e) => e.startsWith("rollback:") || e.startsWith("run:undo"));
    const at = (s: string): number => rb.indexOf(s);
    expect(rb).toHaveLength(4);
    expect(at("rollback:c:c")).toBeLessThan(at("rollback:b:b"));
    expect(at("rollback:b:b")).toBeLessThan(at("rollback:a:a"));
    // the workflow's own rollback, with an expression over the step's outputs
    expect(at("run:undo-side-side")).toBeLessThan(at("rollback:a:a"));
    expect(env.journal.events).not.toContain("run:never");
    const attempts = await listAttempts(env.store, runId);
    expect(attempts.filter((a) => a.phase === "rollback").every((a) => a.outcome === "rolled_back")).toBe(true);
    expect(run.error).toMatch(/boom failed \(http-4xx\): refused/);
  });

  it("retries a rollback under the step's retry policy", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("rollback-retry.yaml"));
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("rolled_back");
    expect(stepStates(run)).toEqual({ a: "rolled_back", b: "rolled_back", boom: "failed" });
    expect(env.journal.events.filter((e) => e.startsWith("rollback:"))).toEqual(["rollback:b#1", "rollback:b#2", "rollback:a:a"]);
    const rb = (await listAttempts(env.store, runId)).filter((a) => a.phase === "rollback" && a.stepId === "b");
    expect(rb.map((a) => [a.attempt, a.outcome, a.errorClass])).toEqual([[1, "failed", "connection"], [2, "rolled_back", null]]);
  });

  it("stops at a rollback that fails for good, leaving what it depends on in place", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("rollback-fails.yaml"));
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("rollback_failed");
    expect(stepStates(run)).toEqual({ a: "succeeded", b: "rollback_failed", boom: "failed" });
    expect(run.steps.find((s) => s.stepId === "b")).toMatchObject({ errorClass: "refused" });
    expect(env.journal.events.filter((e) => e.startsWith("rollback:"))).toEqual(["rollback:b#1"]);
  });

  it("abandons an action that ignores its timeout and records it as timed out", async () => {
    env.startWorkers(1);
    const started = Date.now();
    const { runId } = await env.startRun(loadWorkflow("timeout.yaml"));
    const run = await env.waitForRun(runId);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(run.state).toBe("failed");
    expect(run.steps[0]).toMatchObject({ state: "failed", errorClass: "timeout" });
  });

  it("retries an attempt that timed out when timeout is a retry class, recording each", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("retry-timeout.yaml"));
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("failed");
    expect(run.steps[0]).toMatchObject({ state: "failed", errorClass: "timeout", attempt: 2 });
    expect((await listAttempts(env.store, runId)).map((a) => [a.attempt, a.outcome, a.errorClass, a.error])).toEqual([
      [1, "failed", "timeout", "step timed out after 100ms"],
      [2, "failed", "timeout", "step timed out after 100ms"],
    ]);
  });

  it("skips a step whose check says the work is done, and its outputs still flow", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("checked.yaml"));
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("succeeded");
    expect(stepStates(run)).toEqual({ already: "skipped", todo: "succeeded", after: "succeeded" });
    expect(env.journal.events.sort()).toEqual(["run:after", "run:todo"]);
    const after = rowsOf<{ outputs: { value: string } }>(await env.store.db.raw("select outputs from steps where run_id = ? and step_id = 'after'", [runId]))[0]!;
    expect(after.outputs.value).toBe("check");
  });

  it("keeps durable timers across a full worker restart", async () => {
    const workers = env.startWorkers(1);
    const started = Date.now();
    const { runId } = await env.startRun(loadWorkflow("timer.yaml"));
    await env.waitForRun(runId, 5_000, (r) => r.steps.find((s) => s.stepId === "hold")?.state === "waiting");
    await workers.stop();
    expect(env.journal.events).not.toContain("run:revoke");
    await new Promise((r) => setTimeout(r, 1_300));
    env.startWorkers(1);
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("succeeded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_200);
    expect(env.journal.events.filter((e) => e === "run:revoke")).toHaveLength(1);
    expect(env.journal.events.indexOf("run:grant")).toBeLessThan(env.journal.events.indexOf("run:later"));
  });

  it("never overlaps runs holding the same lock; the later one waits", async () => {
    const wf = loadWorkflow("locked.yaml");
    const one = await env.startRun(wf, { database: "orders", tag: "one" });
    const two = await env.startRun(wf, { database: "orders", tag: "two" });
    const other = await env.startRun(wf, { database: "billing", tag: "other" });
    expect([one.state, two.state, other.state]).toEqual(["running", "waiting", "running"]);
    env.startWorkers(1, { concurrency: 4 });
    for (const r of [one, two, other]) expect((await env.waitForRun(r.runId)).state).toBe("succeeded");
    const span = (tag: string) => env.journal.spans.find((s) => s.tag === tag)!;
    expect(span("two").start).toBeGreaterThanOrEqual(span("one").end);
    expect(span("other").start).toBeLessThan(span("one").end);
    const kinds = (await listAuditEvents(env.store.db, { runId: two.runId })).map((e) => e.kind);
    expect(kinds.slice(0, 3)).toEqual(["run.created", "run.waiting", "lock.acquired"]);
  });

  it("cancels: aborts the running step, rolls back the completed one", async () => {
    env.startWorkers(1, { leaseMs: 300 });
    const { runId } = await env.startRun(loadWorkflow("cancel.yaml"));
    await env.waitForRun(runId, 5_000, (r) => r.steps.find((s) => s.stepId === "long")?.state === "running");
    await cancelRun(env.store, runId, "carol");
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("cancelled");
    expect(stepStates(run)).toEqual({ first: "rolled_back", long: "cancelled", after: "cancelled" });
    expect(env.journal.events).toContain("rollback:first:first");
    expect(env.journal.spans.find((s) => s.tag === "long")!.end - env.journal.spans.find((s) => s.tag === "long")!.start).toBeLessThan(5_000);
  });

  it("fails a run past its deadline and rolls back", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("run-timeout.yaml"));
    const run = await env.waitForRun(runId);
    expect(run.state).toBe("rolled_back");
    expect(stepStates(run)).toMatchObject({ done: "rolled_back", slow: "failed" });
    expect(run.steps.find((s) => s.stepId === "slow")!.errorClass).toBe("timeout");
  });

  it("stores secret outputs only encrypted, yet hands them to dependents, whose echoes are sealed too", async () => {
    env.startWorkers(1);
    const { runId } = await env.startRun(loadWorkflow("secret.yaml"));
    expect((await env.waitForRun(runId)).state).toBe("succeeded");
    const rows = rowsOf<{ step_id: string; outputs: Record<string, unknown>; secret_outputs: string | null }>(
      await env.store.db.raw("select step_id, outputs, secret_outputs from steps where run_id = ? order by ord", [runId]),
    );
    const pw = rows.find((r) => r.step_id === "password")!;
    expect(pw.outputs).toEqual({ hint: "generated" });
    expect(pw.secret_outputs).toMatch(/^v1\./);
    // `use` returned the secret it was given: that output is secret now as well
    const used = rows.find((r) => r.step_id === "use")!;
    expect(used.outputs).toEqual({ tag: "use" });
    expect(used.secret_outputs).toMatch(/^v1\./);
    const seen = new Set<string>();
    const outputs = await new PgWorkQueue(env.store).loadOutputs(runId, ["password", "use"], seen);
    const value = String(outputs.password!.value);
    expect(value).toMatch(/^s3cr3t-/);
    expect(outputs.use!.value).toBe(value);
    expect(seen.has(value)).toBe(true);
    const everything = JSON.stringify(rowsOf(await env.store.db.raw("select * from steps where run_id = ?", [runId])))
      + JSON.stringify(await listAuditEvents(env.store.db, { runId }))
      + JSON.stringify(rowsOf(await env.store.db.raw("select * from attempts where run_id = ?", [runId])));
    expect(everything).not.toContain(value);
  });

  it("hands an abandoned step back with the same key, and fails a step that keeps killing its workers", async () => {
    const { runId } = await env.startRun(loadWorkflow("diamond.yaml"), { name: "n" });
    const keys = new Set<string>();
    for (let i = 1; i <= MAX_INTERRUPTIONS; i++) {
      const doomed = new PgWorkQueue(env.store, { workerId: `doomed-${i}`, leaseMs: 1 });
      const [step] = await doomed.claim(1);
      expect(step).toMatchObject({ stepId: "a", attempt: i });
      keys.add(step!.idempotencyKey);
      await new Promise((r) => setTimeout(r, 5));
      expect(await new PgWorkQueue(env.store).reclaimExpired()).toBe(1);
    }
    expect([...keys]).toEqual([`${runId}:a`]);
    const run = (await getRun(env.store, runId))!;
    expect(run.state).toBe("failed");
    expect(run.steps[0]).toMatchObject({ state: "failed", errorClass: "interrupted" });
    const attempts = await listAttempts(env.store, runId);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.worker])).toEqual(
      Array.from({ length: MAX_INTERRUPTIONS }, (_, i) => [i + 1, "interrupted", `doomed-${i + 1}`]),
    );
  });

  it("gives up an undo that keeps killing its workers: rollback_failed after the same cap", async () => {
    const { runId } = await env.startRun(loadWorkflow("undo-crash.yaml"));
    const setup = new PgWorkQueue(env.store, { workerId: "setup", leaseMs: 30_000 });
    const [grant] = await setup.claim(1);
    await setup.complete(grant!, { kind: "succeeded", outputs: { tag: "grant" }, secretOutputs: [] });
    const [boom] = await setup.claim(1);
    expect(boom!.stepId).toBe("boom");
    await setup.complete(boom!, { kind: "failed", errorClass: "refused", message: "no", retryInMs: null });
    expect(stepStates((await getRun(env.store, runId))!)).toEqual({ grant: "rolling_back", boom: "failed" });
    for (let i = 1; i <= MAX_INTERRUPTIONS; i++) {
      const doomed = new PgWorkQueue(env.store, { workerId: `undo-doomed-${i}`, leaseMs: 1 });
      const [step] = await doomed.claim(1);
      expect(step).toMatchObject({ stepId: "grant", phase: "rollback", attempt: i });
      await new Promise((r) => setTimeout(r, 5));
      expect(await new PgWorkQueue(env.store).reclaimExpired()).toBe(1);
    }
    const run = (await getRun(env.store, runId))!;
    expect(run.state).toBe("rollback_failed");
    expect(run.steps.find((s) => s.stepId === "grant")).toMatchObject({ state: "rollback_failed", errorClass: "interrupted" });
    const rb = (await listAttempts(env.store, runId)).filter((a) => a.phase === "rollback");
    expect(rb.map((a) => [a.attempt, a.outcome])).toEqual(Array.from({ length: MAX_INTERRUPTIONS }, (_, i) => [i + 1, "interrupted"]));
    expect(await new PgWorkQueue(env.store).claim(5)).toEqual([]);
  });

  it("refuses a workflow with a broken DAG before creating anything", async () => {
    const wf = loadWorkflow("diamond.yaml");
    const broken = { ...wf, steps: [...wf.steps, { id: "x", uses: "noop", needs: ["nope"] }] };
    await expect(createRun(env.store, { ...{ repository: "a/b", requester: { login: "a", type: "User" }, approvers: [] }, workflow: broken, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "diamond", reason: "r" }, requestPath: "r.yaml" })).rejects.toThrow(/unknown step "nope"/);
    expect(await getRun(env.store, "00000000-0000-0000-0000-000000000000")).toBeNull();
  });
});
