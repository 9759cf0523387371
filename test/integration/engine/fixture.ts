/**
 * The per-database fixture the engine and store suites share: one describe block per
 * backend, its store opened once and closed after the block (the audit chain checked
 * first: whatever the tests did, it must still verify), a fresh journal and action
 * registry for every test, and workers stopped after every test however it ended.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect } from "vitest";
import type { ActionRegistry } from "../../../src/actions/registry.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { verifyAuditChain } from "../../../src/store/audit.js";
import type { Store } from "../../../src/store/db.js";
import type { RunStatus } from "../../../src/store/runs.js";
import { BACKENDS, type BackendCase } from "./backends.js";
import { startRun, startWorkers, testRegistry, waitForRun, type Journal, type Workers } from "./harness.js";

type WorkerOptions = NonNullable<Parameters<typeof startWorkers>[3]>;
type RunExtra = NonNullable<Parameters<typeof startRun>[4]>;

export interface EngineEnv {
  readonly backend: BackendCase["name"];
  /** Open from the block's beforeAll to its afterAll. */
  readonly store: Store;
  /** This test's: what the test actions did, in order. */
  readonly journal: Journal;
  /** This test's: the builtin actions and the test actions writing to `journal`. */
  readonly registry: ActionRegistry;
  /** Workers on `store` with `registry`; the fixture stops any still running after the test. */
  startWorkers(n?: number, opts?: WorkerOptions): Workers;
  startRun(workflow: WorkflowSpec, params?: Record<string, unknown>, extra?: RunExtra): ReturnType<typeof startRun>;
  waitForRun(runId: string, timeoutMs?: number, until?: (r: RunStatus) => boolean): Promise<RunStatus>;
}

export interface EngineOptions {
  /** Defaults to BACKENDS: real Postgres when it answers, and PGlite. */
  backends?: readonly BackendCase[];
  /** Runs after the test's workers have stopped, the store still open. */
  afterEach?: (env: EngineEnv) => Promise<void>;
}

/** Stands in for an empty list of backends: its suite is skipped, never opened. */
const NONE: BackendCase = {
  name: "pg",
  open: () => Promise.reject(new Error("no backend to open")),
};

/**
 * `title` may name the backend as `$name`, as describe.each does. With no backend
 * left (`backends` filtered down to a server that does not answer) the suite shows
 * as skipped, by name, rather than vanishing.
 */
export function describeEngine(title: string, body: (env: EngineEnv) => void, opts: EngineOptions = {}): void {
  const backends = [...(opts.backends ?? BACKENDS)];
  describe.skipIf(backends.length === 0).each(backends.length === 0 ? [NONE] : backends)(title, (backend) => {
    let opened: Awaited<ReturnType<BackendCase["open"]>> | null = null;
    let perTest: { journal: Journal; registry: ActionRegistry } | null = null;
    const running = new Set<Workers>();

    const need = <T>(v: T | null, what: string): T => {
      if (v === null) throw new Error(`${what} exists only inside a test or hook`);
      return v;
    };
    const env: EngineEnv = {
      backend: backend.name,
      get store() {
        return need(opened, "env.store").store;
      },
      get journal() {
        return need(perTest, "env.journal").journal;
      },
      get registry() {
        return need(perTest, "env.registry").registry;
      },
      startWorkers(n, o) {
        const inner = startWorkers(env.store, env.registry, n, o);
        // Stopped once, whether by the test, the fixture or both.
        let stopping: Promise<void> | null = null;
        const tracked: Workers = {
          errors: inner.errors,
          stop: () => (stopping ??= inner.stop().finally(() => running.delete(tracked))),
        };
        running.add(tracked);
        return tracked;
      },
      startRun: (workflow, params, extra) => startRun(env.store, workflow, env.registry, params, extra),
      waitForRun: (runId, timeoutMs, until) => waitForRun(env.store, runId, timeoutMs, until),
    };

    beforeAll(async () => {
      opened = await backend.open();
    });
    afterAll(async () => {
      if (!opened) return;
      const { store, cleanup } = opened;
      opened = null;
      try {
        const verdict = await verifyAuditChain(store.db);
        expect(verdict.problems).toEqual([]);
        expect(verdict.ok).toBe(true);
      } finally {
        await cleanup();
      }
    });
    beforeEach(() => {
      const journal: Journal = { events: [], spans: [] };
      perTest = { journal, registry: testRegistry(journal) };
    });
    afterEach(async () => {
      await Promise.all([...running].map((w) => w.stop()));
      await opts.afterEach?.(env);
    });

    body(env);
  });
}
