/**
 * The embedded database across a full restart: the store is closed (as when the
 * `clutch-luigi run` process exits) and opened again from its folder on disk. A
 * durable timer must fire at its stored time, once — not be lost, not re-armed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import { getRun } from "../../../src/store/runs.js";
import { verifyAuditChain } from "../../../src/store/audit.js";
import { loadWorkflow, startRun, startWorkers, testRegistry, waitForRun, type Journal, type Workers } from "./harness.js";

describe("embedded database restart", () => {
  let dir: string;
  let store: Store | null = null;
  let workers: Workers | null = null;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cl-restart-"));
  });
  afterEach(async () => {
    await workers?.stop();
    await store?.close();
    workers = null;
    store = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it("fires a durable timer at its stored time after the database was closed and reopened", async () => {
    const journal: Journal = { events: [], spans: [] };
    const registry = testRegistry(journal);
    store = await openStore({ dataDir: dir });
    workers = startWorkers(store, registry, 1);
    // A hold long enough that "fired at once" and "re-armed for its whole duration"
    // cannot be confused on a loaded machine.
    const HOLD_MS = 4_000;
    const wf = loadWorkflow("timer.yaml");
    wf.steps.find((s) => s.id === "hold")!.with = { ms: HOLD_MS };
    const { runId } = await startRun(store, wf, registry);
    await waitForRun(store, runId, 5_000, (r) => r.steps.find((s) => s.stepId === "hold")?.state === "waiting");
    const due = new Date(rowsOf<{ run_at: string }>(await store.db.raw("select run_at from steps where run_id = ? and step_id = 'hold'", [runId]))[0]!.run_at).getTime();
    await workers.stop();
    workers = null;
    await store.close();
    store = null;

    // Everything is down when the timer falls due.
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 500));
    expect(journal.events).not.toContain("run:revoke");

    store = await openStore({ dataDir: dir });
    expect((await getRun(store, runId))!.steps.find((s) => s.stepId === "hold")!.state).toBe("waiting");
    const reopenedAt = Date.now();
    workers = startWorkers(store, registry, 1);
    const run = await waitForRun(store, runId);
    expect(run.state).toBe("succeeded");
    expect(journal.events.filter((e) => e === "run:revoke")).toHaveLength(1);
    expect(journal.events.filter((e) => e === "run:grant")).toHaveLength(1);
    // due already: it fires at once rather than waiting its whole hold again
    expect(Date.now() - reopenedAt).toBeLessThan(HOLD_MS);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("serves one process at a time: a second open is refused clearly, a lock left by a dead process is taken over", async () => {
    store = await openStore({ dataDir: dir });
    await expect(openStore({ dataDir: dir })).rejects.toThrow(/embedded database in .* is in use by this process: it serves one process at a time \(set DATABASE_URL/);
    await store.close();
    store = null;
    expect(existsSync(join(dir, "embedded.lock"))).toBe(false);
    // a crashed process leaves its lock behind; no process has that pid now
    writeFileSync(join(dir, "embedded.lock"), "99999999 crashed\n");
    store = await openStore({ dataDir: dir });
    expect(await getRun(store, "00000000-0000-0000-0000-000000000000")).toBeNull();
  });
});
