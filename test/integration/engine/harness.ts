/**
 * Test actions that count their own executions (the engine's rows are not trusted
 * to prove exactly-once), plus helpers to run workers and wait for runs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { ActionError, type Action } from "../../../src/actions/types.js";
import { ActionRegistry } from "../../../src/actions/registry.js";
import { builtinActions } from "../../../src/actions/index.js";
import type { WorkflowSpec, RequestSpec } from "../../../src/formats/types.js";
import { Worker } from "../../../src/engine/worker.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { createRun, getRun, type RunStatus } from "../../../src/store/runs.js";
import type { Store } from "../../../src/store/db.js";
import { isFinalRunState } from "../../../src/engine/states.js";

export const FIXTURES = new URL("../../fixtures/engine/", import.meta.url).pathname;

export function loadWorkflow(name: string): WorkflowSpec {
  return parse(readFileSync(join(FIXTURES, name), "utf8")) as WorkflowSpec;
}

export interface Journal {
  /** `run:<step>` / `rollback:<step>` entries in the order they happened. */
  events: string[];
  /** Concurrent executions observed per lock group. */
  spans: { tag: string; start: number; end: number }[];
}

// any: a list of actions with different input/output types (Action is invariant in them).
export function testActions(journal: Journal): Action<any, any>[] {
  const record: Action<{ tag: string; value?: string }, { tag: string; value: string | null }> = {
    name: "test.record",
    description: "Records that it ran; rollback records too.",
    input: { type: "object" },
    output: { type: "object" },
    async run(input) {
      journal.events.push(`run:${input.tag}`);
      return { tag: input.tag, value: input.value ?? null };
    },
    async rollback(input, output) {
      journal.events.push(`rollback:${input.tag}:${output.tag}`);
    },
  };
  const flaky: Action<{ tag: string; code: string; failTimes: number }, { attempts: number }> = {
    name: "test.flaky",
    description: "Fails the first failTimes attempts with the given class.",
    input: { type: "object" },
    output: { type: "object" },
    async run(input, ctx) {
      journal.events.push(`run:${input.tag}#${ctx.identity.attempt}`);
      if (ctx.identity.attempt <= input.failTimes) throw new ActionError(input.code, `flaky attempt ${ctx.identity.attempt}`);
      return { attempts: ctx.identity.attempt };
    },
  };
  const stubborn: Action<{ ms: number }, Record<string, never>> = {
    name: "test.stubborn",
    description: "Ignores its abort signal.",
    input: { type: "object" },
    output: { type: "object" },
    run(input) {
      return new Promise((resolve) => setTimeout(() => resolve({}), input.ms));
    },
  };
  const hold: Action<{ tag: string; ms: number }, { tag: string }> = {
    name: "test.hold",
    description: "Holds for ms honouring the signal, recording its span.",
    input: { type: "object" },
    output: { type: "object" },
    run(input, ctx) {
      const start = Date.now();
      journal.events.push(`run:${input.tag}`);
      return new Promise((resolve, reject) => {
        // A signal aborted after the step finished (a heartbeat racing its report) must not record a second span.
        const onAbort = (): void => {
          clearTimeout(t);
          journal.spans.push({ tag: input.tag, start, end: Date.now() });
          reject(new ActionError("aborted", `aborted: ${String(ctx.signal.reason)}`));
        };
        const t = setTimeout(() => {
          ctx.signal.removeEventListener("abort", onAbort);
          journal.spans.push({ tag: input.tag, start, end: Date.now() });
          resolve({ tag: input.tag });
        }, input.ms);
        ctx.signal.addEventListener("abort", onAbort, { once: true });
      });
    },
    async rollback(input) {
      journal.events.push(`rollback:${input.tag}`);
    },
  };
  const checked: Action<{ tag: string; done: boolean }, { from: string }> = {
    name: "test.checked",
    description: "Its check() reports done when input.done.",
    input: { type: "object" },
    output: { type: "object" },
    async check(input) {
      return input.done ? { from: "check" } : undefined;
    },
    async run(input) {
      journal.events.push(`run:${input.tag}`);
      return { from: "run" };
    },
  };
  const secret: Action<Record<string, never>, { value: string; hint: string }> = {
    name: "test.secret",
    description: "Generates a secret output.",
    input: { type: "object" },
    output: { type: "object" },
    secretOutputs: ["value"],
    async run(_input, ctx) {
      const value = `s3cr3t-${Math.random().toString(36).slice(2)}`;
      ctx.markSecret(value);
      journal.events.push("run:secret");
      return { value, hint: "generated" };
    },
  };
  const wait: Action<{ ms: number }, Record<string, never>> = {
    name: "test.wait",
    description: "A durable timer.",
    input: { type: "object" },
    output: { type: "object" },
    delayMs: (input) => input.ms,
    async run() {
      throw new Error("the engine must not run a delayMs action");
    },
  };
  const shakyUndo: Action<{ tag: string; code: string; failTimes: number }, { tag: string }> = {
    name: "test.shaky-undo",
    description: "Runs fine; its rollback fails the first failTimes attempts.",
    input: { type: "object" },
    output: { type: "object" },
    async run(input) {
      journal.events.push(`run:${input.tag}`);
      return { tag: input.tag };
    },
    async rollback(input, _output, ctx) {
      journal.events.push(`rollback:${input.tag}#${ctx.identity.attempt}`);
      if (ctx.identity.attempt <= input.failTimes) throw new ActionError(input.code, `undo refused (attempt ${ctx.identity.attempt})`);
    },
  };
  /** Returns (or throws) what no well-behaved action would: the store must survive it. */
  const hostile: Action<{ tag: string; mode: string }, unknown> = {
    name: "test.hostile",
    description: "Returns outputs or errors Postgres cannot hold as they are.",
    input: { type: "object" },
    output: { type: "object" },
    async run(input) {
      journal.events.push(`run:${input.tag}`);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      switch (input.mode) {
        case "nul-output": return { text: "before\u0000after" };
        case "lone-surrogate": return { text: "broken \ud83d half" };
        case "cycle": return cyclic;
        case "not-an-object": return "just a string";
        case "huge-output": return { blob: "x".repeat(5 * 1024 * 1024) };
        case "deep-output": {
          let v: unknown = "leaf";
          for (let i = 0; i < 200; i++) v = { v };
          return v;
        }
        // a NUL in the message, and an emoji cut in half by the message limit
        case "nul-error": throw new ActionError("refused", `bad\u0000byte ${"y".repeat(1_990)}😀 tail`);
        default: return { ok: true };
      }
    },
  };
  return [record, flaky, stubborn, hold, checked, secret, wait, shakyUndo, hostile];
}

export function testRegistry(journal: Journal): ActionRegistry {
  return new ActionRegistry([...builtinActions(), ...testActions(journal)]);
}

export function request(workflow: WorkflowSpec, params: Record<string, unknown> = {}): RequestSpec {
  return { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: workflow.name, reason: "test", params };
}

export const IDENTITY = {
  repository: "acme/ops",
  pullRequest: 7,
  commit: "6dcb09b5",
  requester: { login: "alice", type: "User" },
  approvers: [{ login: "bob", reviewId: 80 }],
};

export async function startRun(store: Store, workflow: WorkflowSpec, registry: ActionRegistry, params: Record<string, unknown> = {}, extra: { idempotencyKey?: string; maxParallel?: number } = {}) {
  return createRun(store, { ...IDENTITY, workflow, request: request(workflow, params), requestPath: "requests/test.yaml", registry, ...extra });
}

export interface Workers {
  stop(): Promise<void>;
  errors: unknown[];
}

export function startWorkers(store: Store, registry: ActionRegistry, n = 1, opts: { concurrency?: number; leaseMs?: number; pollMs?: number } = {}): Workers {
  const ctl = new AbortController();
  const errors: unknown[] = [];
  const queues: PgWorkQueue[] = [];
  const loops = Array.from({ length: n }, () => {
    const queue = new PgWorkQueue(store, { leaseMs: opts.leaseMs ?? 2_000 });
    queues.push(queue);
    const worker = new Worker({
      queue,
      registry,
      concurrency: opts.concurrency ?? 4,
      leaseMs: opts.leaseMs ?? 2_000,
      pollMs: opts.pollMs ?? 50,
      onError: (e) => errors.push(e),
    });
    return worker.run(ctl.signal);
  });
  return {
    errors,
    async stop() {
      ctl.abort();
      await Promise.all(loops);
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}

export async function waitForRun(store: Store, runId: string, timeoutMs = 15_000, until?: (r: RunStatus) => boolean): Promise<RunStatus> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(store, runId);
    if (!run) throw new Error(`no run ${runId}`);
    if (until ? until(run) : isFinalRunState(run.state)) return run;
    if (Date.now() > end) throw new Error(`run ${runId} still ${run.state} after ${timeoutMs}ms: ${JSON.stringify(run.steps.map((s) => [s.stepId, s.state]))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function stepStates(run: RunStatus): Record<string, string> {
  return Object.fromEntries(run.steps.map((s) => [s.stepId, s.state]));
}
