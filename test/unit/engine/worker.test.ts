import { describe, expect, it } from "vitest";
import { ActionRegistry } from "../../../src/actions/registry.js";
import { ActionError, type Action } from "../../../src/actions/types.js";
import { UnstorableResultError, type ClaimedStep, type RunDefinition, type StepResult, type WorkQueue } from "../../../src/engine/queue.js";
import { plainContextFactory, type LogLine } from "../../../src/engine/context.js";
import { Worker } from "../../../src/engine/worker.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";

/** A queue over plain arrays: hands out the given steps once, records what the worker reports. */
class FakeQueue implements WorkQueue {
  readonly workerId = "fake";
  results: { step: ClaimedStep; result: StepResult }[] = [];
  abort = new Set<string>();
  constructor(private pending: ClaimedStep[], private def: RunDefinition, private outputs: Record<string, Record<string, unknown>> = {}) {}
  async claim(limit: number) {
    return this.pending.splice(0, limit);
  }
  async loadRun() {
    return this.def;
  }
  async loadOutputs(_run: string, ids: string[]) {
    return Object.fromEntries(ids.map((id) => [id, this.outputs[id] ?? {}]));
  }
  async complete(step: ClaimedStep, result: StepResult, claimNext = 0) {
    this.results.push({ step, result });
    return { ok: true, next: this.pending.splice(0, claimNext) };
  }
  async heartbeat() {
    return this.abort;
  }
  async reclaimExpired() {
    return 0;
  }
  async expireRuns() {
    return 0;
  }
  async waitForWork(ms: number) {
    await new Promise((r) => setTimeout(r, Math.min(ms, 10)));
  }
}

const claimed = (stepId: string, extra: Partial<ClaimedStep> = {}): ClaimedStep => ({
  runId: "r1", stepId, phase: "forward", attempt: 1, failures: 0, timerDone: false, idempotencyKey: `r1:${stepId}`, deadline: null, ...extra,
});

function def(steps: WorkflowSpec["steps"]): RunDefinition {
  return {
    runId: "r1",
    workflow: { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "w", steps },
    request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "w", reason: "because", params: { db: "orders" } },
    requestPath: "requests/x.yaml",
    identity: { repository: "acme/ops", requester: { login: "alice", type: "User" }, approvers: [{ login: "bob" }] },
  };
}

// any: actions of differing input/output types in one list (Action is invariant in them).
async function drain(queue: FakeQueue, actions: Action<any, any>[], n: number, lines: LogLine[] = []): Promise<FakeQueue["results"]> {
  const ctl = new AbortController();
  const worker = new Worker({ queue, registry: new ActionRegistry(actions), pollMs: 5, leaseMs: 300, random: () => 0.5, contextFactory: plainContextFactory({ lines }) });
  const loop = worker.run(ctl.signal);
  const end = Date.now() + 5_000;
  while (queue.results.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  ctl.abort();
  await loop;
  return queue.results;
}

const echo: Action<Record<string, unknown>, Record<string, unknown>> = {
  name: "echo", description: "", input: {}, output: {},
  async run(input, ctx) {
    ctx.log.info(`ran ${ctx.identity.stepId} for ${ctx.identity.requester.login}`);
    return { ...input, key: ctx.identity.idempotencyKey };
  },
};

describe("Worker", () => {
  it("loads a run once for the slots that claim its first steps together", async () => {
    class CountingQueue extends FakeQueue {
      loads = 0;
      override async loadRun() {
        this.loads++;
        await new Promise((r) => setTimeout(r, 20));
        return super.loadRun();
      }
    }
    const steps = ["a", "b", "c", "d"].map((id) => ({ id, uses: "echo" }));
    const q = new CountingQueue(steps.map((s) => claimed(s.id)), def(steps));
    const results = await drain(q, [echo], 4);
    expect(results.map((r) => r.result.kind)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(q.loads).toBe(1);
  });

  it("substitutes inputs from dependencies and reports success", async () => {
    const q = new FakeQueue([claimed("b")], def([{ id: "a", uses: "echo" }, { id: "b", uses: "echo", needs: ["a"], with: { x: "${{ steps.a.outputs.y }}", db: "${{ params.db }}" } }, { id: "c", uses: "echo", needs: ["b"] }]), { a: { y: 42 } });
    const lines: LogLine[] = [];
    const [r] = await drain(q, [echo], 1, lines);
    expect(r!.result).toEqual({ kind: "succeeded", outputs: { x: 42, db: "orders", key: "r1:b" }, secretOutputs: [] });
    expect(lines).toEqual([{ level: "info", message: "ran b for alice" }]);
  });

  it("parks a delayMs action instead of running it, and completes it once its timer fired", async () => {
    const wait: Action<{ ms: number }, Record<string, never>> = { name: "wait", description: "", input: {}, output: {}, delayMs: (i) => i.ms, run: () => Promise.reject(new Error("must not run")) };
    const q = new FakeQueue([claimed("w"), claimed("w2", { timerDone: true })], def([{ id: "w", uses: "wait", with: { ms: 4000 } }, { id: "w2", uses: "wait", with: { ms: 4000 } }]));
    const results = await drain(q, [wait], 2);
    expect(results.map((r) => r.result)).toEqual([{ kind: "park", delayMs: 4000 }, { kind: "succeeded", outputs: {}, secretOutputs: [] }]);
  });

  it("classifies failures and asks for a retry only for classes in retry.on", async () => {
    const boom: Action = { name: "boom", description: "", input: {}, output: {}, run: () => Promise.reject(new ActionError("connection", "reset by peer")) };
    const q = new FakeQueue([claimed("r"), claimed("n")], def([
      { id: "r", uses: "boom", retry: { attempts: 3, backoff: "100ms", on: ["connection"] } },
      { id: "n", uses: "boom", retry: { attempts: 3, on: ["timeout"] } },
    ]));
    const results = await drain(q, [boom], 2);
    const by = Object.fromEntries(results.map((r) => [r.step.stepId, r.result]));
    expect(by.r).toEqual({ kind: "failed", errorClass: "connection", message: "reset by peer", retryInMs: 100 });
    expect(by.n).toEqual({ kind: "failed", errorClass: "connection", message: "reset by peer", retryInMs: null });
  });

  it("abandons an action that ignores the signal at its timeout", async () => {
    const stuck: Action = { name: "stuck", description: "", input: {}, output: {}, run: () => new Promise(() => undefined) };
    const q = new FakeQueue([claimed("s")], def([{ id: "s", uses: "stuck", timeout: "50ms" }]));
    const [r] = await drain(q, [stuck], 1);
    expect(r!.result).toMatchObject({ kind: "failed", errorClass: "timeout", retryInMs: null });
  });

  it("aborts a step the heartbeat says was cancelled", async () => {
    const hold: Action = { name: "hold", description: "", input: {}, output: {}, run: (_i, ctx) => new Promise((_, rej) => ctx.signal.addEventListener("abort", () => rej(new Error("stopped")))) };
    const q = new FakeQueue([claimed("h")], def([{ id: "h", uses: "hold", retry: { attempts: 5, on: ["cancelled", "error"] } }]));
    q.abort.add("r1/h");
    const [r] = await drain(q, [hold], 1);
    expect(r!.result).toMatchObject({ kind: "failed", errorClass: "cancelled", retryInMs: null });
  });

  it("redacts values marked secret from error messages and flags secret outputs", async () => {
    const leaky: Action = { name: "leaky", description: "", input: {}, output: {}, async run(_i, ctx) { ctx.markSecret("hunter2"); throw new Error("login failed for password hunter2"); } };
    const gen: Action = { name: "gen", description: "", input: {}, output: {}, async run(_i, ctx) { ctx.markSecret("pw-1"); return { value: "pw-1", id: 3 }; } };
    const q = new FakeQueue([claimed("l"), claimed("g")], def([{ id: "l", uses: "leaky" }, { id: "g", uses: "gen" }]));
    const results = await drain(q, [leaky, gen], 2);
    const by = Object.fromEntries(results.map((r) => [r.step.stepId, r.result]));
    expect(by.l).toMatchObject({ kind: "failed", message: "login failed for password ***" });
    expect(by.g).toEqual({ kind: "succeeded", outputs: { value: "pw-1", id: 3 }, secretOutputs: ["value"] });
  });

  it("fails a step whose action is unknown with a clear message", async () => {
    const q = new FakeQueue([claimed("x")], def([{ id: "x", uses: "nope" }]));
    const [r] = await drain(q, [], 1);
    expect(r!.result).toMatchObject({ kind: "failed", message: 'unknown action "nope"', retryInMs: null });
  });

  it("asks for a rollback retry only under the step's retry policy", async () => {
    const undo: Action = { name: "undo", description: "", input: {}, output: {}, run: () => Promise.reject(new ActionError("connection", "reset")) };
    const q = new FakeQueue([claimed("r", { phase: "rollback" }), claimed("n", { phase: "rollback", attempt: 3 })], def([
      { id: "r", uses: "echo", retry: { attempts: 3, backoff: "100ms", on: ["connection"] }, rollback: { uses: "undo" } },
      { id: "n", uses: "echo", retry: { attempts: 3, backoff: "100ms", on: ["connection"] }, rollback: { uses: "undo" } },
    ]));
    const results = await drain(q, [echo, undo], 2);
    const by = Object.fromEntries(results.map((r) => [r.step.stepId, r.result]));
    expect(by.r).toEqual({ kind: "rollback_failed", errorClass: "connection", message: "reset", retryInMs: 100 });
    expect(by.n).toEqual({ kind: "rollback_failed", errorClass: "connection", message: "reset", retryInMs: null });
  });

  it("runs a rollback from the workflow's rollback: with the step's own outputs", async () => {
    const seen: unknown[] = [];
    const undo: Action = { name: "undo", description: "", input: {}, output: {}, async run(input) { seen.push(input); return {}; } };
    const q = new FakeQueue([claimed("a", { phase: "rollback" })], def([{ id: "a", uses: "echo", rollback: { uses: "undo", with: { id: "${{ steps.a.outputs.id }}" } } }]), { a: { id: "res-9" } });
    const [r] = await drain(q, [echo, undo], 1);
    expect(r!.result).toEqual({ kind: "rolled_back" });
    expect(seen).toEqual([{ id: "res-9" }]);
  });

  it("reports a failure in place of a result the store refuses, instead of retrying it until the lease runs out", async () => {
    class RefusingQueue extends FakeQueue {
      refusals = 0;
      override async complete(step: ClaimedStep, result: StepResult, claimNext = 0) {
        if (result.kind === "succeeded") {
          this.refusals++;
          throw new UnstorableResultError("unsupported Unicode escape sequence");
        }
        return super.complete(step, result, claimNext);
      }
    }
    const q = new RefusingQueue([claimed("a")], def([{ id: "a", uses: "echo", retry: { attempts: 5, on: ["invalid-output", "error"] } }]));
    const [r] = await drain(q, [echo], 1);
    expect(q.refusals).toBe(1);
    expect(r!.result).toEqual({
      kind: "failed", errorClass: "invalid-output", retryInMs: null,
      message: "the store refused to record this step's result: unsupported Unicode escape sequence",
    });
  });

  describe("a database outage while a step's inputs load", () => {
    class FlakyStoreQueue extends FakeQueue {
      reads = 0;
      constructor(pending: ClaimedStep[], d: RunDefinition, private readonly failReads: number, private readonly failure: Error) {
        super(pending, d, { a: { y: 1 } });
      }
      override async loadOutputs(run: string, ids: string[]) {
        if (this.reads++ < this.failReads) throw this.failure;
        return super.loadOutputs(run, ids);
      }
      isTransient(err: unknown) {
        return (err as Error).message.includes("ECONNRESET");
      }
    }
    const steps = def([{ id: "a", uses: "echo" }, { id: "b", uses: "echo", needs: ["a"], with: { x: "${{ steps.a.outputs.y }}" } }]);
    const counting = (runs: string[]): Action => ({ ...echo, async run(input, ctx) { runs.push(ctx.identity.stepId); return echo.run(input, ctx); } });

    it("is waited out: the step runs once and succeeds", async () => {
      const runs: string[] = [];
      const q = new FlakyStoreQueue([claimed("b")], steps, 2, new Error("read ECONNRESET"));
      const [r] = await drain(q, [counting(runs)], 1);
      expect(r!.result).toMatchObject({ kind: "succeeded", outputs: { x: 1 } });
      expect(q.reads).toBe(3);
      expect(runs).toEqual(["b"]);
    });

    it("that outlasts the lease hands the step back as interrupted, never failed", async () => {
      const runs: string[] = [];
      const q = new FlakyStoreQueue([claimed("b")], steps, 1_000, new Error("read ECONNRESET"));
      const [r] = await drain(q, [counting(runs)], 1);
      expect(r!.result).toMatchObject({ kind: "interrupted", message: expect.stringMatching(/database was unreachable.*ECONNRESET/) });
      expect(runs).toEqual([]);
    });

    it("is not confused with a refusal, which fails the step at once", async () => {
      const q = new FlakyStoreQueue([claimed("b")], steps, 1_000, new Error("step \"a\" has encrypted outputs but no encryption key is configured"));
      const [r] = await drain(q, [echo], 1);
      expect(r!.result).toMatchObject({ kind: "failed", message: expect.stringMatching(/no encryption key/), retryInMs: null });
      expect(q.reads).toBe(1);
    });
  });

  it("never aborts the signal of an action that has already returned, while its report is on the way", async () => {
    class SlowReportQueue extends FakeQueue {
      beats = 0;
      override async complete(step: ClaimedStep, result: StepResult, claimNext = 0) {
        await new Promise((r) => setTimeout(r, 400)); // three heartbeats happen meanwhile
        return super.complete(step, result, claimNext);
      }
      override async heartbeat() {
        this.beats++;
        return new Set(["r1/q"]); // as if the lease were gone: what a heartbeat racing the report's commit sees
      }
    }
    let abortedAfterReturn = false;
    const quick: Action = {
      name: "quick", description: "", input: {}, output: {},
      async run(_i, ctx) {
        ctx.signal.addEventListener("abort", () => (abortedAfterReturn = true));
        return { ok: true };
      },
    };
    const q = new SlowReportQueue([claimed("q")], def([{ id: "q", uses: "quick" }]));
    const [r] = await drain(q, [quick], 1);
    expect(r!.result).toMatchObject({ kind: "succeeded" });
    expect(q.beats).toBeGreaterThan(0);
    expect(abortedAfterReturn).toBe(false);
  });

  it("keeps timeouts longer than Node's timer limit (~24.8 days) from firing at once", async () => {
    const brief: Action = { name: "brief", description: "", input: {}, output: {}, run: (_i, ctx) => new Promise((resolve, reject) => {
      const t = setTimeout(() => resolve({ done: true }), 50);
      ctx.signal.addEventListener("abort", () => { clearTimeout(t); reject(new Error(String(ctx.signal.reason))); });
    }) };
    const month = 30 * 86_400_000;
    const q = new FakeQueue(
      [claimed("a", { deadline: new Date(Date.now() + month) }), claimed("b")],
      def([{ id: "a", uses: "brief" }, { id: "b", uses: "brief", timeout: "30d" }]),
    );
    const results = await drain(q, [brief], 2);
    expect(results.map((r) => [r.step.stepId, r.result.kind])).toEqual([["a", "succeeded"], ["b", "succeeded"]]);
  });

  it("treats a check() that returns null as not done, and runs the step", async () => {
    let ran = 0;
    const sloppy: Action = { name: "sloppy", description: "", input: {}, output: {}, check: async () => null as unknown as undefined, async run() { ran++; return { ran: true }; } };
    const q = new FakeQueue([claimed("s")], def([{ id: "s", uses: "sloppy" }]));
    const [r] = await drain(q, [sloppy], 1);
    expect(r!.result).toEqual({ kind: "succeeded", outputs: { ran: true }, secretOutputs: [] });
    expect(ran).toBe(1);
  });
});

describe("Worker stopping", () => {
  /** Claims take a while and idle waits last the whole poll unless aborted, as on Postgres. */
  class SlowClaimQueue extends FakeQueue {
    claims = 0;
    override async claim(limit: number) {
      this.claims++;
      await new Promise((r) => setTimeout(r, 50));
      return super.claim(limit);
    }
    override async waitForWork(ms: number, signal?: AbortSignal) {
      await new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const t = setTimeout(resolve, ms);
        signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }

  it("returns at once when stopped while claiming, not after its poll interval", async () => {
    const q = new SlowClaimQueue([], def([{ id: "a", uses: "echo" }]));
    const ctl = new AbortController();
    const worker = new Worker({ queue: q, registry: new ActionRegistry([echo]), pollMs: 60_000, leaseMs: 300 });
    const loop = worker.run(ctl.signal);
    while (q.claims === 0) await new Promise((r) => setTimeout(r, 5));
    ctl.abort(); // mid-claim: the loop goes on to its idle wait with the signal already aborted
    const started = Date.now();
    await loop;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
