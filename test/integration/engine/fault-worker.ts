/**
 * A worker process for the cross-process fault tests. Its actions append one line
 * per event to COUNT_FILE (O_APPEND, so lines from several processes never mix):
 * the proof of exactly-once comes from the actions, not from the engine's rows.
 */
import { appendFileSync } from "node:fs";
import { ActionRegistry } from "../../../src/actions/registry.js";
import { builtinActions } from "../../../src/actions/index.js";
import { ActionError, type Action } from "../../../src/actions/types.js";
import { openStore } from "../../../src/store/db.js";
import { runWorker } from "../../../src/store/workers.js";

const file = process.env.COUNT_FILE!;
const note = (e: string, ctx: { identity: { runId: string; stepId: string; idempotencyKey: string; attempt: number } }, extra: Record<string, unknown> = {}): void => {
  const { runId, stepId, idempotencyKey, attempt } = ctx.identity;
  appendFileSync(file, JSON.stringify({ e, run: runId, step: stepId, key: idempotencyKey, attempt, pid: process.pid, t: Date.now(), ...extra }) + "\n");
};

const hold = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new ActionError("aborted", "aborted"));
    }, { once: true });
  });

const counted: Action<{ ms?: number; fail?: boolean }, { pid: number }> = {
  name: "count.step",
  description: "Counts its executions in a file.",
  input: { type: "object" },
  output: { type: "object" },
  async run(input, ctx) {
    note("start", ctx);
    await hold(input.ms ?? 0, ctx.signal);
    if (input.fail) {
      note("failed", ctx);
      throw new ActionError("refused", "failing on purpose");
    }
    note("done", ctx);
    return { pid: process.pid };
  },
  async rollback(_input, _output, ctx) {
    note("rollback", ctx);
  },
};

const store = await openStore({ databaseUrl: process.env.DATABASE_URL!, poolMax: 3 });
const ctl = new AbortController();
process.once("SIGTERM", () => ctl.abort());
process.stdout.write(`ready ${process.pid}\n`);
await runWorker(store, {
  registry: new ActionRegistry([...builtinActions(), counted]),
  concurrency: Number(process.env.CONCURRENCY ?? 4),
  leaseMs: Number(process.env.LEASE_MS ?? 2_000),
  pollMs: Number(process.env.POLL_MS ?? 200),
  workerId: `fault:${process.pid}`,
  signal: ctl.signal,
  onError: (e) => process.stderr.write(`${(e as Error).message}\n`),
});
await store.close();
