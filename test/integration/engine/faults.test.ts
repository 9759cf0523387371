/**
 * Faults across real processes on a real Postgres server: kill -9 mid-step, every
 * connection cut mid-run, and four workers racing on 200 runs. Exactly-once is
 * counted by the actions (a file), never by the engine's own rows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import { createRun, getRun, listAttempts } from "../../../src/store/runs.js";
import { verifyAuditChain } from "../../../src/store/audit.js";
import type { WorkflowSpec, StepSpec } from "../../../src/formats/types.js";
import { readCounts, spawnWorker, stopWorkers, type CountLine, type WorkerProcess } from "./processes.js";
import { IDENTITY, request, waitForRun } from "./harness.js";
import { PG_UP } from "./backends.js";
import { TcpProxy } from "./tcp-proxy.js";

const wf = (name: string, steps: StepSpec[]): WorkflowSpec => ({ apiVersion: "clutch-luigi/v1", kind: "Workflow", name, steps });

/** s1 → (s2, s3) → s4 → s5: a join, so concurrent completions race to promote s4. */
function diamondChain(name: string, opts: { ms?: number; failLast?: boolean } = {}): WorkflowSpec {
  const w = (extra: Record<string, unknown> = {}) => ({ ms: opts.ms ?? 0, ...extra });
  return wf(name, [
    { id: "s1", uses: "count.step", with: w() },
    { id: "s2", uses: "count.step", needs: ["s1"], with: w() },
    { id: "s3", uses: "count.step", needs: ["s1"], with: w() },
    { id: "s4", uses: "count.step", needs: ["s2", "s3"], with: w() },
    { id: "s5", uses: "count.step", needs: ["s4"], with: w(opts.failLast ? { fail: true } : {}) },
  ]);
}

function doneCounts(lines: CountLine[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) if (l.e === "done") m.set(`${l.run}/${l.step}`, (m.get(`${l.run}/${l.step}`) ?? 0) + 1);
  return m;
}

// Needs a real server for several processes; backends.ts fails the run instead when CI requires one.
describe.skipIf(!PG_UP)("faults across worker processes (real Postgres)", () => {
  let db: TestDatabase;
  let store: Store;
  let dir: string;
  let workers: WorkerProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("cl_faults");
    store = await openStore({ databaseUrl: db.url, poolMax: 3 });
    dir = mkdtempSync(join(tmpdir(), "cl-faults-"));
  });
  afterEach(async () => {
    await stopWorkers(workers);
    workers = [];
  });
  afterAll(async () => {
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
    await store.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (file: string, extra: Record<string, string> = {}) => ({ DATABASE_URL: db.url, COUNT_FILE: file, LEASE_MS: "1500", POLL_MS: "200", ...extra });
  const start = (w: WorkflowSpec) => createRun(store, { ...IDENTITY, workflow: w, request: request(w), requestPath: "requests/fault.yaml" });

  it("kill -9 mid-step: another worker resumes, finished steps never rerun, the attempt is recorded interrupted", async () => {
    const file = join(dir, "kill.jsonl");
    workers = [await spawnWorker(env(file)), await spawnWorker(env(file))];
    const w = wf("kill", [
      { id: "before", uses: "count.step", with: { ms: 50 } },
      { id: "victim", uses: "count.step", needs: ["before"], with: { ms: 2_500 } },
      { id: "after", uses: "count.step", needs: ["victim"], with: { ms: 50 } },
    ]);
    const { runId } = await start(w);
    await waitForRun(store, runId, 15_000, (r) => r.steps.find((s) => s.stepId === "victim")?.state === "running");
    const owner = (await store.db.raw("select lease_owner from steps where run_id = ? and step_id = 'victim'", [runId])).rows[0].lease_owner as string;
    const victim = workers.find((p) => owner === `fault:${p.pid}`)!;
    expect(victim).toBeDefined();
    await new Promise((r) => setTimeout(r, 300));
    victim.child.kill("SIGKILL");
    const run = await waitForRun(store, runId, 20_000);
    expect(run.state).toBe("succeeded");

    const lines = readCounts(file).filter((l) => l.run === runId);
    const done = doneCounts(lines);
    expect(Object.fromEntries(done)).toEqual({ [`${runId}/before`]: 1, [`${runId}/victim`]: 1, [`${runId}/after`]: 1 });
    const victimStarts = lines.filter((l) => l.step === "victim" && l.e === "start");
    expect(victimStarts).toHaveLength(2);
    expect(victimStarts[0]!.pid).toBe(victim.pid);
    expect(victimStarts[1]!.pid).not.toBe(victim.pid);
    expect(new Set(victimStarts.map((l) => l.key)).size).toBe(1); // same idempotency key on the retry
    const attempts = (await listAttempts(store, runId)).filter((a) => a.stepId === "victim");
    expect(attempts.map((a) => [a.attempt, a.outcome, a.worker])).toEqual([
      [1, "interrupted", `fault:${victim.pid}`],
      [2, "succeeded", expect.stringMatching(/^fault:/)],
    ]);
    expect(lines.filter((l) => l.step === "before" && l.e === "start")).toHaveLength(1);
  });

  it("every connection cut mid-run: workers reconnect and every run completes, each step once", async () => {
    const file = join(dir, "cut.jsonl");
    workers = [await spawnWorker(env(file, { LEASE_MS: "5000" })), await spawnWorker(env(file, { LEASE_MS: "5000" }))];
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => start(diamondChain(`cut-${i}`, { ms: 60 }))));
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    let cutWorkers = 0;
    let finishedAtFirstCut = -1;
    try {
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 250));
        if (round === 0) {
          finishedAtFirstCut = Number((await admin.query("select count(*) from runs where finished_at is not null")).rows[0].count);
        }
        // every engine connection: the workers' pools and listeners, and this test's own pool
        const res = await admin.query(
          `select count(*) filter (where pg_terminate_backend(pid) and application_name = 'clutch-luigi-listen') as n
           from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and application_name like 'clutch-luigi%'`,
          [db.name],
        );
        cutWorkers += Number(res.rows[0].n);
      }
    } finally {
      await admin.end();
    }
    expect(cutWorkers).toBeGreaterThan(0);
    expect(finishedAtFirstCut).toBeLessThan(runs.length);
    for (const r of runs) expect((await waitForRun(store, r.runId, 30_000)).state).toBe("succeeded");
    const ids = new Set(runs.map((r) => r.runId));
    const done = doneCounts(readCounts(file).filter((l) => ids.has(l.run)));
    expect(done.size).toBe(runs.length * 5);
    expect([...done.values()].every((n) => n === 1)).toBe(true);
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
  });

  it("Postgres down twice mid-run (TCP proxy: every connection reset, port refused 1.5 s): workers reconnect, no step runs twice", async () => {
    const file = join(dir, "outage.jsonl");
    const server = new URL(db.url);
    const proxy = new TcpProxy(server.hostname, Number(server.port || 5432));
    await proxy.start();
    const viaProxy = new URL(db.url);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    try {
      // Leases outlast the outage, so no step may be handed to a second worker: each runs once.
      const wenv = env(file, { DATABASE_URL: viaProxy.toString(), LEASE_MS: "6000" });
      workers = [await spawnWorker(wenv), await spawnWorker(wenv)];
      const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => start(diamondChain(`outage-${i}`, { ms: 80 }))));
      const ids = runs.map((r) => r.runId);
      const counts = async () => rowsOf<{ running: string; finished: string }>(await store.db.raw(
        `select (select count(*) from steps where run_id = any(?) and state = 'running') as running,
                (select count(*) from runs where id = any(?) and finished_at is not null) as finished`, [ids, ids]))[0]!;
      const inFlight: { running: number; finished: number }[] = [];
      for (let outage = 0; outage < 2; outage++) {
        for (let i = 0; i < 200 && Number((await counts()).running) === 0; i++) await new Promise((r) => setTimeout(r, 10));
        const c = await counts();
        inFlight.push({ running: Number(c.running), finished: Number(c.finished) });
        const acceptedBefore = proxy.accepted;
        await proxy.outage(1_500);
        // the workers come back on their own: new connections through the proxy
        for (let i = 0; i < 300 && proxy.accepted === acceptedBefore; i++) await new Promise((r) => setTimeout(r, 10));
        expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
      }
      expect(proxy.cut).toBeGreaterThanOrEqual(4);
      for (const f of inFlight) {
        expect(f.running).toBeGreaterThan(0);
        expect(f.finished).toBeLessThan(runs.length);
      }
      for (const id of ids) expect((await waitForRun(store, id, 30_000)).state).toBe("succeeded");
      const lines = readCounts(file).filter((l) => ids.includes(l.run));
      const done = doneCounts(lines);
      expect(done.size).toBe(runs.length * 5);
      expect([...done.values()].every((n) => n === 1)).toBe(true);
      expect(lines.filter((l) => l.e === "start")).toHaveLength(runs.length * 5);
      expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
      // they did see the server gone: refused while it was down
      expect(workers.some((w) => /ECONNREFUSED/.test(w.stderr()))).toBe(true);
    } finally {
      await stopWorkers(workers);
      workers = [];
      await proxy.close();
    }
  });

  it("a durable timer outlives every worker: all killed -9 while it waits, new ones fire it on time, once", async () => {
    const HOLD_MS = 5_000;
    const file = join(dir, "timer.jsonl");
    workers = [await spawnWorker(env(file)), await spawnWorker(env(file))];
    const first = workers.map((w) => w.pid);
    const { runId } = await start(wf("timer", [
      { id: "grant", uses: "count.step" },
      { id: "hold", uses: "wait", needs: ["grant"], with: { duration: `${HOLD_MS}ms` } },
      { id: "revoke", uses: "count.step", needs: ["hold"] },
    ]));
    await waitForRun(store, runId, 10_000, (r) => r.steps.find((s) => s.stepId === "hold")?.state === "waiting");
    const due = new Date(rowsOf<{ run_at: string }>(await store.db.raw("select run_at from steps where run_id = ? and step_id = 'hold'", [runId]))[0]!.run_at).getTime();
    for (const w of workers) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    // Nothing of the engine is running when the timer falls due.
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 1_000));
    expect((await getRun(store, runId))!.steps.map((s) => s.state)).toEqual(["succeeded", "waiting", "pending"]);
    const restartedAt = Date.now();
    workers = [await spawnWorker(env(file)), await spawnWorker(env(file))];
    const run = await waitForRun(store, runId, 15_000);
    expect(run.state).toBe("succeeded");
    const lines = readCounts(file).filter((l) => l.run === runId);
    expect(Object.fromEntries(doneCounts(lines))).toEqual({ [`${runId}/grant`]: 1, [`${runId}/revoke`]: 1 });
    const revoke = lines.find((l) => l.step === "revoke" && l.e === "start")!;
    expect(first).not.toContain(revoke.pid);
    expect(revoke.t).toBeGreaterThanOrEqual(due);
    // Fired from the stored due time, not re-armed at restart: a re-armed timer could not
    // fire before restartedAt + HOLD_MS. (Not a latency bound: the machine may be loaded.)
    expect(revoke.t - restartedAt).toBeLessThan(HOLD_MS);
  });

  it("a time-bound run's expiry outlives every worker: all killed -9 while the change is in force, new ones undo it, once", async () => {
    const HOLD_MS = 4_000;
    const file = join(dir, "expiry.jsonl");
    workers = [await spawnWorker(env(file)), await spawnWorker(env(file))];
    const first = workers.map((w) => w.pid);
    const { runId } = await start({ ...wf("grant-for-a-while", [{ id: "grant", uses: "count.step" }]), expires: { after: `${HOLD_MS}ms`, max: "1h" } });
    await waitForRun(store, runId, 10_000, (r) => r.state === "succeeded");
    const due = new Date(rowsOf<{ expires_at: string }>(await store.db.raw("select expires_at from run_expiries where run_id = ?", [runId]))[0]!.expires_at).getTime();
    for (const w of workers) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    // Nothing of the engine is running when the expiry falls due.
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 1_000));
    expect((await getRun(store, runId))!.state).toBe("succeeded");
    workers = [await spawnWorker(env(file)), await spawnWorker(env(file))];
    const run = await waitForRun(store, runId, 15_000, (r) => r.state === "rolled_back");
    expect(run.steps.map((s) => s.state)).toEqual(["rolled_back"]);
    const undone = readCounts(file).filter((l) => l.run === runId && l.e === "rollback");
    expect(undone).toHaveLength(1);
    expect(first).not.toContain(undone[0]!.pid);
    expect(undone[0]!.t).toBeGreaterThanOrEqual(due);
    const kinds = rowsOf<{ kind: string }>(await store.db.raw("select kind from audit_events where run_id = ? order by seq", [runId])).map((r) => r.kind);
    expect(kinds.filter((k) => k === "run.expired")).toHaveLength(1);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("4 workers racing on 200 runs: each step exactly once, rollbacks in reverse order", async () => {
    const file = join(dir, "race.jsonl");
    workers = await Promise.all([1, 2, 3, 4].map(() => spawnWorker(env(file, { CONCURRENCY: "8", LEASE_MS: "10000" }))));
    const runs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => start(diamondChain(`race-${i}`, { failLast: i % 4 === 0 }))),
    );
    for (const r of runs) await waitForRun(store, r.runId, 60_000);
    const lines = readCounts(file);
    const done = doneCounts(lines);
    let rolledBack = 0;
    for (const [i, r] of runs.entries()) {
      const status = (await getRun(store, r.runId))!;
      const failing = i % 4 === 0;
      expect(status.state).toBe(failing ? "rolled_back" : "succeeded");
      for (const s of ["s1", "s2", "s3", "s4"]) expect(done.get(`${r.runId}/${s}`)).toBe(1);
      expect(done.get(`${r.runId}/s5`)).toBe(failing ? undefined : 1);
      const starts = lines.filter((l) => l.run === r.runId && l.e === "start");
      expect(starts).toHaveLength(5);
      if (failing) {
        const rb = lines.filter((l) => l.run === r.runId && l.e === "rollback").map((l) => l.step);
        expect(rb).toHaveLength(4);
        expect(rb[0]).toBe("s4");
        expect(rb.slice(1, 3).sort()).toEqual(["s2", "s3"]);
        expect(rb[3]).toBe("s1");
        rolledBack++;
      }
    }
    expect(rolledBack).toBe(50);
    // the work spread over the processes
    expect(new Set(lines.map((l) => l.pid)).size).toBeGreaterThan(1);
  });
});
