/**
 * The timer of a time-bound run: armed in the transaction that makes the run
 * succeed (on the hot path and the slow path alike), listed while in force, moved by
 * an extension up to its maximum and never past it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { rowsOf, type Store } from "../../../src/store/db.js";
import { activeExpiries, activeExpiry, expiryGauges, ExtensionRefused, moveExpiry } from "../../../src/store/expiries.js";
import { createRun, CannotStartRun, getRun } from "../../../src/store/runs.js";
import { rollbackRun } from "../../../src/store/run-control.js";
import { main } from "../../../src/cli/main.js";
import { BACKENDS } from "../engine/backends.js";
import { IDENTITY, request, startWorkers, testRegistry, waitForRun } from "../engine/harness.js";

const timeBound = (lock?: string): WorkflowSpec =>
  ({
    apiVersion: "clutch-luigi/v1",
    kind: "Workflow",
    name: "switch",
    params: { type: "object", properties: { duration: { type: "string" } } },
    expires: { after: "1h", max: "4h", param: "duration" },
    ...(lock ? { lock } : {}),
    steps: [{ id: "on", uses: "log", with: { message: "on" }, rollback: { uses: "log", with: { message: "off" } } }],
  }) as WorkflowSpec;

describe.each(BACKENDS)("time-bound runs on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let url: string | undefined;
  const registry = testRegistry({ events: [], spans: [] });
  beforeAll(async () => {
    ({ store, cleanup, url } = await backend.open());
  });
  afterAll(async () => cleanup());

  async function succeed(workflow: WorkflowSpec, params: Record<string, unknown> = {}): Promise<string> {
    const { runId } = await createRun(store, { ...IDENTITY, workflow, request: request(workflow, params), requestPath: `requests/${Math.random()}.yaml`, registry });
    const workers = startWorkers(store, registry, 1);
    try {
      expect((await waitForRun(store, runId)).state).toBe("succeeded");
    } finally {
      await workers.stop();
    }
    return runId;
  }

  it("arms the timer when the run succeeds, not when it was requested (hot path: no lock)", async () => {
    const before = Date.now();
    const runId = await succeed(timeBound(), { duration: "2h" });
    const e = (await activeExpiry(store.db, runId))!;
    const finished = rowsOf<{ finished_at: string }>(await store.db.raw("select finished_at from runs where id = ?", [runId]))[0]!;
    expect(Math.abs(e.startedAt.getTime() - new Date(finished.finished_at).getTime())).toBeLessThan(1_000);
    expect(e.startedAt.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(e.expiresAt.getTime() - e.startedAt.getTime()).toBe(2 * 3_600_000);
    expect(e.maxAt.getTime() - e.startedAt.getTime()).toBe(4 * 3_600_000);
    const created = rowsOf<{ data: unknown }>(await store.db.raw("select data from audit_events where run_id = ? and kind = 'run.created'", [runId]))[0]!;
    const data = typeof created.data === "string" ? JSON.parse(created.data) : created.data;
    expect(data.expires).toEqual({ afterMs: 7_200_000, maxMs: 14_400_000 });
  });

  it("arms it on the slow path too (a run with a lock)", async () => {
    const runId = await succeed(timeBound(`switch-${backend.name}`));
    const e = (await activeExpiry(store.db, runId))!;
    expect(e.expiresAt.getTime() - e.startedAt.getTime()).toBe(3_600_000);
    expect((await activeExpiries(store.db, { lockKey: `switch-${backend.name}` })).map((x) => x.runId)).toEqual([runId]);
  });

  it("moves the expiry once per extension, up to the maximum from when it started, and refuses past it", async () => {
    const runId = await succeed(timeBound(), { duration: "1h" });
    const moved = await store.db.transaction((trx) => moveExpiry(trx, runId, 3 * 3_600_000));
    expect(moved.extensions).toBe(1);
    expect(moved.to.getTime() - moved.from.getTime()).toBeGreaterThan(1.99 * 3_600_000);
    await expect(store.db.transaction((trx) => moveExpiry(trx, runId, 5 * 3_600_000))).rejects.toThrow(ExtensionRefused);
    await expect(store.db.transaction((trx) => moveExpiry(trx, runId, 5 * 3_600_000))).rejects.toThrow(/would pass its maximum/);
    expect((await activeExpiry(store.db, runId))!.extensions).toBe(1);
  });

  it("refuses to start a run asking for longer than the maximum", async () => {
    const w = timeBound();
    await expect(createRun(store, { ...IDENTITY, workflow: w, request: request(w, { duration: "5h" }), requestPath: "requests/long.yaml", registry })).rejects.toThrow(CannotStartRun);
  });

  it("clutch-luigi runs --active lists them soonest first, with the expiry in UTC and a named zone", async () => {
    if (!url) return; // the embedded in-memory database is not reachable from a CLI process
    let out = "";
    let err = "";
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd: process.cwd(), env: { DATABASE_URL: url } };
    expect(await main(["runs", "--active", "--tz", "Asia/Kolkata"], io)).toBe(0);
    const lines = out.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatch(/^[0-9a-f]{8} {2}switch {2}requests\/.*\.yaml {2}@alice {2}expires \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d{4}-\d\d-\d\d \d\d:\d\d GMT\+5:30\) {2}in \d/);
    expect(out).toContain("extended 1×");
    expect(await main(["runs", "--active", "--tz", "Mars/Olympus"], io)).toBe(2);
    expect(err).toContain('--tz: unknown time zone "Mars/Olympus"');
    expect(await main(["runs"], io)).toBe(2);
  });

  it("undoes the run when its expiry falls due, even if no worker was running at that moment", async () => {
    const w = { ...timeBound(), expires: { after: "1500ms", max: "4h" } } as WorkflowSpec;
    const runId = await succeed(w); // workers stopped once it succeeded
    const due = (await activeExpiry(store.db, runId))!.expiresAt.getTime();
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 300));
    expect((await getRun(store, runId))!.state).toBe("succeeded"); // nothing runs the timer while no worker is up
    const workers = startWorkers(store, registry, 1);
    try {
      const run = await waitForRun(store, runId, 15_000, (r) => r.state === "rolled_back");
      expect(run.steps.map((x) => x.state)).toEqual(["rolled_back"]);
    } finally {
      await workers.stop();
    }
    const kinds = rowsOf<{ kind: string; data: unknown }>(await store.db.raw("select kind, data from audit_events where run_id = ? order by seq", [runId])).map((r) => r.kind);
    expect(kinds.slice(kinds.indexOf("run.succeeded"))).toEqual(["run.succeeded", "run.expired", "run.rolling_back", "step.rolling_back", expect.stringMatching(/^step\.(rollback_started|rolled_back)$/), ...kinds.slice(kinds.indexOf("run.succeeded") + 5)]);
    expect(kinds.at(-1)).toBe("run.rolled_back");
    const row = rowsOf<{ outcome: string; fired_at: string }>(await store.db.raw("select outcome, fired_at from run_expiries where run_id = ?", [runId]))[0]!;
    expect(row.outcome).toBe("expired");
    expect(await activeExpiry(store.db, runId)).toBeNull();
  });

  it("a run rolled back by hand before its expiry is not undone twice", async () => {
    const w = { ...timeBound(), expires: { after: "800ms", max: "4h" } } as WorkflowSpec;
    const runId = await succeed(w);
    const workers = startWorkers(store, registry, 1);
    try {
      await rollbackRun(store, runId, "sam");
      await waitForRun(store, runId, 10_000, (r) => r.state === "rolled_back");
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      await workers.stop();
    }
    const kinds = rowsOf<{ kind: string }>(await store.db.raw("select kind from audit_events where run_id = ? order by seq", [runId])).map((r) => r.kind);
    expect(kinds.filter((k) => k === "run.expired")).toEqual([]);
    expect(kinds.filter((k) => k === "step.rolled_back")).toHaveLength(1);
  });

  it("counts changes in force and the seconds to the next expiry for /metrics", async () => {
    const g = await expiryGauges(store.db);
    expect(g.active).toBeGreaterThanOrEqual(3);
    expect(g.nextSeconds).toBeGreaterThan(3_000);
    expect(g.nextSeconds).toBeLessThanOrEqual(3_600);
  });
});
