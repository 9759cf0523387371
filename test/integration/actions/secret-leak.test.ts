/**
 * Plants secrets in a full run through the real engine, store, context factory and
 * actions, then greps every sink this code base has — every row of every table,
 * the step logs, the worker's errors — for them, in plain and encoded forms.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStepContextFactory, type StepContextFactory, type StepLogEntry } from "../../../src/actions/context.js";
import { defaultRegistry } from "../../../src/actions/index.js";
import { SecretResolver } from "../../../src/actions/secrets.js";
import { jwksHandler } from "../../../src/api/jwks.js";
import { parseServerConfig } from "../../../src/server-config/load.js";
import { Worker } from "../../../src/engine/worker.js";
import { openStore, type Store } from "../../../src/store/db.js";
import { PgWorkQueue } from "../../../src/store/queue.js";
import { createRun, getRun } from "../../../src/store/runs.js";
import { isFinalRunState } from "../../../src/engine/states.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { startJwtVerifyingServer, type JwtVerifyingServer } from "../../support/jwt-verifier.js";
import { testSigner } from "./context-helper.js";

const fixtures = join(import.meta.dirname, "../../fixtures/actions");
const PLANTED = `planted-${Math.random().toString(36).slice(2)}-Secret`;
const FILE_PLANTED = `file-${Math.random().toString(36).slice(2)}-Secret`;
const ISSUER = "http://127.0.0.1/leak-test";

let db: TestDatabase;
let store: Store;
let service: JwtVerifyingServer;
let jwksServer: Server;
const signer = await testSigner(ISSUER);
const logs: StepLogEntry[] = [];
const workerErrors: unknown[] = [];

const workflow = (serviceUrl: string): WorkflowSpec => ({
  apiVersion: "clutch-luigi/v1",
  kind: "Workflow",
  name: "leak-drill",
  steps: [
    { id: "password", uses: "secret.generate", with: { length: 24 } },
    { id: "rotate", uses: "postgres.rotate-password", needs: ["password"], with: { connection: "local", role: "leak_drill_role", password: "${{ steps.password.outputs.value }}" } },
    {
      id: "notify",
      uses: "http.request",
      needs: ["password"],
      with: { url: `${serviceUrl}/rotated`, audience: "leak-service", method: "POST", body: { role: "leak_drill_role", password: "${{ steps.password.outputs.value }}" }, outputs: { echoed: "/echo" } },
    },
    {
      id: "show-env",
      uses: "shell",
      needs: ["rotate"],
      with: { command: "print-env", env: { NEW_PASSWORD: "${{ steps.password.outputs.value }}" }, secretEnv: { TOKEN: "planted", FILE_TOKEN: "planted-file" } },
    },
    // A careless workflow that prints the password; its output echoes the message.
    { id: "announce", uses: "log", needs: ["password"], with: { message: "new password is ${{ steps.password.outputs.value }}" } },
    // Fails with the planted secret in its stderr, so the error path and rollback run too.
    { id: "explode", uses: "shell", needs: ["show-env", "announce"], with: { command: "fail-loudly", secretEnv: { TOKEN: "planted" } } },
  ],
});

beforeAll(async () => {
  if (!PG_UP) return;
  db = await createTestDatabase("cl_leak");
  store = await openStore({ databaseUrl: db.url, encryptionKey: Buffer.alloc(32, 9).toString("base64"), poolMax: 4 });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query("do $$ begin if not exists (select from pg_roles where rolname = 'leak_drill_role') then create role leak_drill_role login; end if; end $$");
  await admin.end();
  jwksServer = createServer((req, res) => jwksHandler(signer)(req, res));
  await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
  service = await startJwtVerifyingServer({
    jwksUrl: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`,
    issuer: ISSUER,
    audience: "leak-service",
  });
  // A careless downstream service that echoes what it got, secret included.
  service.respond((r) => ({ status: r.claims ? 200 : 401, body: { echo: r.body } }));
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
  await service?.close();
  jwksServer?.closeAllConnections();
  if (jwksServer) await new Promise((r) => jwksServer.close(r));
});

describe.skipIf(!PG_UP)("a full run with planted secrets", () => {
  it("leaves no secret in any table, log line or worker error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cl-leak-"));
    await writeFile(join(dir, "token"), `${FILE_PLANTED}\n`);
    const url = new URL(db.url);
    const env = { PLANTED_TOKEN: PLANTED };
    const config = parseServerConfig(
      `
secrets:
  planted: { env: PLANTED_TOKEN }
  planted-file: { file: ${join(dir, "token")} }
  db-admin: { env: PLANTED_TOKEN }
connections:
  postgres:
    local: { host: ${url.hostname}, port: ${url.port || 5432}, database: ${db.name}, user: ${url.username || "postgres"}, passwordSecret: db-admin }
shell:
  allow:
    print-env: { path: ${fixtures}/print-env.sh }
    fail-loudly: { path: ${fixtures}/fail-loudly.sh }
`,
      "leak.yaml",
      env,
    );
    const registry = defaultRegistry();
    // The worst case for redaction: every attempt gets a factory of its own, as if each
    // step ran in a different worker process and nothing was remembered in memory.
    const contextFactory: StepContextFactory = (identity, signal, seen) =>
      createStepContextFactory({ signer, config, secrets: new SecretResolver(config.secrets, env), sink: (e: StepLogEntry) => logs.push(e) })(
        identity,
        signal,
        seen,
      );

    const wf = workflow(service.url);
    const { runId } = await createRun(store, {
      repository: "acme/ops",
      requester: { login: "alice", type: "User" },
      approvers: [{ login: "bob", reviewId: 80 }],
      workflow: wf,
      request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: wf.name, reason: "leak drill" },
      requestPath: "requests/leak.yaml",
      registry,
    });
    const ctl = new AbortController();
    const queue = new PgWorkQueue(store, { leaseMs: 5_000 });
    const worker = new Worker({ queue, registry, contextFactory, concurrency: 2, leaseMs: 5_000, pollMs: 50, onError: (e) => workerErrors.push(e) });
    const loop = worker.run(ctl.signal);
    let run = await getRun(store, runId);
    const end = Date.now() + 30_000;
    while (run && !isFinalRunState(run.state) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      run = await getRun(store, runId);
    }
    ctl.abort();
    await loop;
    await queue.close();

    // The run really did the work: it failed at `explode` after the others succeeded.
    const states = Object.fromEntries(run!.steps.map((s) => [s.stepId, s.state]));
    expect(states.explode).toMatch(/failed/);
    expect(service.requests).toHaveLength(1);
    expect(run!.steps.find((s) => s.stepId === "explode")?.error).toMatch(/stderr has/);

    const generated = JSON.parse(service.requests[0]!.body).password as string;
    expect(generated).toMatch(/^[A-Za-z0-9]{24}$/);
    const needles = [PLANTED, FILE_PLANTED, generated].flatMap((s) => [s, Buffer.from(s).toString("base64"), encodeURIComponent(s)]);

    const sinks: Record<string, string> = {};
    const tables = (await store.db.raw("select tablename from pg_tables where schemaname = current_schema()")).rows as { tablename: string }[];
    expect(tables.length).toBeGreaterThan(2);
    for (const { tablename } of tables) {
      const rows = (await store.db.raw(`select t::text as row from "${tablename}" t`)).rows as { row: string }[];
      sinks[`table ${tablename}`] = rows.map((r) => r.row).join("\n");
    }
    sinks.logs = JSON.stringify(logs);
    sinks["worker errors"] = workerErrors.map((e) => String((e as Error)?.stack ?? e)).join("\n");
    // The sinks did receive the secret-bearing data, redacted.
    expect(sinks.logs).toContain("POST http");
    expect(sinks["table steps"]).toContain("stderr has [REDACTED]");
    expect(sinks["table steps"]).toContain("NEW_PASSWORD=[REDACTED]");
    expect(sinks["table steps"]).toContain("TOKEN=[REDACTED]");
    expect(sinks.logs).toContain("new password is [REDACTED]");
    expect(states.announce).toBe("succeeded"); // log has nothing to undo

    const found = Object.entries(sinks).flatMap(([sink, text]) => needles.filter((n) => text.includes(n)).map((n) => `${sink} contains ${n.slice(0, 6)}…`));
    expect(found).toEqual([]);
  });
});
