/**
 * `clutch-luigi cancel RUN_ID`: the same cancel as the button and the API, with the
 * database's credentials as its authority; the audit row names --as or the OS user.
 * On the embedded database and on Postgres.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { listAuditEvents } from "../../../src/store/audit.js";
import { openStore } from "../../../src/store/db.js";
import { createRun, getRun } from "../../../src/store/runs.js";
import { createTestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";

const wf: WorkflowSpec = { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "cli-cancel", steps: [{ id: "pause", uses: "wait", with: { duration: "1h" } }] };

const cases: { name: string; setup(): Promise<{ env: NodeJS.ProcessEnv; cleanup(): Promise<void> }> }[] = [
  {
    name: "the embedded database",
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), "cl-cancel-"));
      return { env: { CLUTCH_LUIGI_DATA_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  ...(PG_UP
    ? [
        {
          name: "Postgres",
          async setup() {
            const db = await createTestDatabase("cl_cli_cancel");
            return { env: { DATABASE_URL: db.url }, cleanup: () => db.drop() };
          },
        },
      ]
    : []),
];

describe.each(cases)("clutch-luigi cancel on $name", (c) => {
  let env: NodeJS.ProcessEnv;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ env, cleanup } = await c.setup());
  });
  afterAll(async () => cleanup());

  /** A run left active (no worker runs it), created and the database closed again, as the CLI will open it itself. */
  async function activeRun(): Promise<string> {
    const store = await openStore({ ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : { dataDir: env.CLUTCH_LUIGI_DATA_DIR! }) });
    try {
      return (await createRun(store, { repository: "acme/ops", requester: { login: "alice", type: "User" }, approvers: [], workflow: wf, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: wf.name, reason: "t" }, requestPath: "r.yaml" })).runId;
    } finally {
      await store.close();
    }
  }
  async function inspect<T>(f: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
    const store = await openStore({ ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : { dataDir: env.CLUTCH_LUIGI_DATA_DIR! }), migrate: false });
    try {
      return await f(store);
    } finally {
      await store.close();
    }
  }
  async function cli(argv: string[], extra: NodeJS.ProcessEnv = {}) {
    let out = "";
    let err = "";
    const code = await main(["cancel", ...argv], { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd: tmpdir(), env: { ...env, USER: "tester", ...extra } });
    return { code, out, err };
  }

  it("cancels an active run and records the OS user, host and reason; a second cancel exits 1", async () => {
    const runId = await activeRun();
    expect(await cli([runId, "--reason", "OPS-5 wrong window"])).toEqual({ code: 0, out: `run ${runId}: cancelled\n`, err: "" });
    const row = await inspect(async (s) => ({ state: (await getRun(s, runId))!.state, audit: (await listAuditEvents(s.db, { runId })).find((e) => e.kind === "run.cancel_requested") }));
    expect(row.state).toBe("cancelled");
    expect(row.audit).toMatchObject({ actor: "tester", data: { via: "cli", osUser: "tester", host: expect.any(String), reason: "OPS-5 wrong window" } });
    const again = await cli([runId]);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`run ${runId} is cancelled; there is nothing to cancel`);
  });

  it("--as names the actor; the OS user stays beside it", async () => {
    const runId = await activeRun();
    expect((await cli([runId, "--as", "pat@oncall"])).code).toBe(0);
    expect(await inspect(async (s) => (await listAuditEvents(s.db, { runId })).find((e) => e.kind === "run.cancel_requested"))).toMatchObject({ actor: "pat@oncall", data: { osUser: "tester" } });
  });

  it("refuses what is not a cancel: no run id, a malformed one, control characters, an unknown run", async () => {
    expect((await cli([])).code).toBe(2);
    expect((await cli(["../../etc"])).code).toBe(2);
    const runId = await activeRun();
    expect((await cli([runId, "--reason", "ok\u001b]0;pwned\u0007"])).code).toBe(2);
    expect((await cli([runId, "--as", "\u202eevil"])).code).toBe(2);
    expect((await cli([runId, "--bogus"])).code).toBe(2);
    const unknown = await cli(["00000000-0000-4000-8000-000000000000"]);
    expect(unknown).toMatchObject({ code: 1, err: expect.stringContaining("no run 00000000-0000-4000-8000-000000000000") });
    expect(await inspect(async (s) => (await getRun(s, runId))!.state)).toBe("running");
  });
});
