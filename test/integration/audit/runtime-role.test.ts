/**
 * The trail against the app's own database role (docs/deploy.md "Database roles"):
 * migrations run as the owner, the app connects as a member of clutch_luigi_runtime,
 * and every way that role could cut the chain is refused by Postgres itself —
 * privileges, ownership, and the append function that alone computes the hashes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { Knex } from "knex";
import { createRoleTestDatabase, type RoleTestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { openStore, type Store } from "../../../src/store/db.js";
import { appendAudit, auditHash, verifyAuditChain } from "../../../src/store/audit.js";
import { chainHead } from "../../../src/store/audit-query.js";
import { migrate, MigrationPrivilegeError } from "../../../src/store/migrate.js";
import { cancelRun, createRun } from "../../../src/store/runs.js";
import type { RequestSpec, WorkflowSpec } from "../../../src/formats/types.js";
import { registry, runScenario } from "./support.js";

const KEY = Buffer.alloc(32, 9).toString("base64");

describe.runIf(PG_UP)("the runtime role cannot cut the audit trail (Postgres)", () => {
  let db: RoleTestDatabase;
  let store: Store;
  let runtime: pg.Client;

  beforeAll(async () => {
    db = await createRoleTestDatabase();
    // The app's own start-up: runtime URL for the store, owner URL for migrations.
    store = await openStore({ databaseUrl: db.runtimeUrl, migrationDatabaseUrl: db.ownerUrl, encryptionKey: KEY, poolMax: 4 });
    await store.db.transaction((trx: Knex.Transaction) =>
      appendAudit(trx, [
        { kind: "run.created", runId: "11111111-2222-4333-8444-555555555555", actor: "alice", data: { workflow: "w" } },
        { kind: "run.started", runId: "11111111-2222-4333-8444-555555555555", actor: "alice" },
      ]),
    );
    runtime = new pg.Client({ connectionString: db.runtimeUrl });
    await runtime.connect();
  });
  afterAll(async () => {
    await runtime?.end();
    await store?.close();
    await db?.drop();
  });

  /** The statement as the runtime role; resolves to the Postgres error it raised. */
  async function refused(sql: string, params: unknown[] = []): Promise<{ code: string; message: string }> {
    try {
      await runtime.query(sql, params);
    } catch (e) {
      const err = e as { code: string; message: string };
      return { code: err.code, message: err.message };
    }
    throw new Error(`the runtime role was allowed: ${sql}`);
  }

  async function rowsNow(): Promise<number> {
    return Number((await runtime.query("select count(*)::int as n from audit_events")).rows[0].n);
  }

  it("connects as a non-owner, non-superuser member of clutch_luigi_runtime", async () => {
    const r = await runtime.query(
      `select current_user as who, rolsuper, pg_has_role(current_user, 'clutch_luigi_runtime', 'member') as member,
              (select tableowner from pg_tables where tablename = 'audit_events') as owner
       from pg_roles where rolname = current_user`,
    );
    expect(r.rows[0]).toEqual({ who: db.runtime, rolsuper: false, member: true, owner: db.owner });
  });

  it("TRUNCATE is refused (no privilege)", async () => {
    expect(await refused("truncate audit_events")).toEqual({ code: "42501", message: "permission denied for table audit_events" });
    expect(await refused("truncate audit_head")).toEqual({ code: "42501", message: "permission denied for table audit_head" });
    expect(await rowsNow()).toBe(2);
  });

  it("TRUNCATE is refused by the statement trigger even for the owner", async () => {
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    try {
      await expect(owner.query("truncate audit_events")).rejects.toMatchObject({ code: "42501", message: "audit_events is append-only: TRUNCATE is refused" });
      await expect(owner.query("truncate audit_head")).rejects.toMatchObject({ code: "42501", message: "audit_head is append-only: TRUNCATE is refused" });
    } finally {
      await owner.end();
    }
    expect(await rowsNow()).toBe(2);
  });

  it("DELETE is refused", async () => {
    expect(await refused("delete from audit_events where seq = 2")).toEqual({ code: "42501", message: "permission denied for table audit_events" });
    expect(await rowsNow()).toBe(2);
  });

  it("UPDATE of a row or of the chain head is refused", async () => {
    expect(await refused("update audit_events set actor = 'mallory' where seq = 1")).toEqual({ code: "42501", message: "permission denied for table audit_events" });
    expect(await refused("update audit_head set seq = 0, hash = '' where id = 1")).toEqual({ code: "42501", message: "permission denied for table audit_head" });
  });

  it("ALTER TABLE … DISABLE TRIGGER is refused", async () => {
    for (const sql of [
      "alter table audit_events disable trigger audit_events_no_update",
      "alter table audit_events disable trigger all",
      "alter table audit_events disable trigger audit_events_no_truncate",
    ]) {
      expect(await refused(sql)).toEqual({ code: "42501", message: "must be owner of table audit_events" });
    }
  });

  it("dropping the triggers or the table is refused", async () => {
    expect(await refused("drop trigger audit_events_no_update on audit_events")).toEqual({ code: "42501", message: "must be owner of relation audit_events" });
    expect(await refused("drop trigger audit_events_no_truncate on audit_events")).toEqual({ code: "42501", message: "must be owner of relation audit_events" });
    expect(await refused("drop table audit_events")).toEqual({ code: "42501", message: "must be owner of table audit_events" });
    expect(await refused("alter table audit_events owner to current_user")).toEqual({ code: "42501", message: "must be owner of table audit_events" });
  });

  it("bypassing triggers with session_replication_role is refused", async () => {
    expect(await refused("set session_replication_role = replica")).toEqual({ code: "42501", message: 'permission denied to set parameter "session_replication_role"' });
  });

  it("a direct INSERT with a forged, correctly linked hash is refused", async () => {
    const head = await chainHead(store.db);
    const body = JSON.stringify({ seq: head.seq + 1, at: "2026-12-01T00:00:00.000000Z", kind: "run.succeeded", run_id: null, step_id: null, actor: "mallory", data: {} });
    expect(
      await refused(
        "insert into audit_events (seq, at, kind, actor, data, prev_hash, hash, body) values ($1, now(), 'run.succeeded', 'mallory', '{}', $2, $3, $4)",
        [head.seq + 1, head.hash, auditHash(head.hash, body), body],
      ),
    ).toEqual({ code: "42501", message: "permission denied for table audit_events" });
    expect(await rowsNow()).toBe(2);
  });

  it("cl_audit refuses events that name hash, prev_hash, seq, at or body", async () => {
    for (const key of ["hash", "prev_hash", "seq", "at", "body"]) {
      const events = JSON.stringify([{ kind: "run.succeeded", actor: "mallory", [key]: key === "seq" ? 1 : "f".repeat(64) }]);
      expect(await refused("select cl_audit($1::jsonb)", [events])).toEqual({
        code: "42501",
        message: `cl_audit: "${key}" is not the caller's to set (only kind, run_id, step_id, actor, data)`,
      });
    }
    // One forged event spoils the whole call: the honest one beside it is not appended either.
    const mixed = JSON.stringify([{ kind: "ok", actor: "a" }, { kind: "x", actor: "m", hash: "00" }]);
    expect((await refused("select cl_audit($1::jsonb)", [mixed])).code).toBe("42501");
    expect(await rowsNow()).toBe(2);
  });

  it("cl_audit refuses malformed events with a clear error", async () => {
    for (const [events, message] of [
      ['{"kind":"x","actor":"a"}', "cl_audit takes a JSON array of events"],
      ['["x"]', "cl_audit: every event is a JSON object"],
      ['[{"actor":"a"}]', "cl_audit: kind and actor are required strings"],
      ['[{"kind":"x","actor":7}]', "cl_audit: kind and actor are required strings"],
      ['[{"kind":"x","actor":"a","data":[1]}]', "cl_audit: data is a JSON object"],
    ] as const) {
      expect(await refused("select cl_audit($1::jsonb)", [events])).toEqual({ code: "22023", message });
    }
  });

  it("the append function cannot be replaced, made invoker, or shadowed through search_path", async () => {
    expect(await refused("alter function cl_audit(jsonb) security invoker")).toEqual({ code: "42501", message: "must be owner of function cl_audit" });
    expect(await refused("create or replace function cl_audit(events jsonb) returns void language sql as 'select'")).toEqual({
      code: "42501",
      message: "permission denied for schema public",
    });
    expect(await refused("create table public.audit_head (id int)")).toEqual({ code: "42501", message: "permission denied for schema public" });
    expect(await refused("create schema evil")).toMatchObject({ code: "42501" });
    // The search_path is pinned on the function, not taken from the caller.
    const cfg = await runtime.query("select proconfig, prosecdef from pg_proc where proname = 'cl_audit'");
    expect(cfg.rows[0]).toEqual({ proconfig: ["search_path=pg_catalog, public"], prosecdef: true });
  });

  it("a runtime role cannot apply migrations, and says what to do", async () => {
    const rt = await openStore({ databaseUrl: db.runtimeUrl, migrate: false });
    try {
      await expect(rt.db.raw("delete from clutch_luigi_migrations where name = '005_audit_roles'")).rejects.toMatchObject({ code: "42501" });
      // Up to date: opening as the runtime role needs no lock and no write.
      expect(await migrate(rt.db, { shared: true })).toEqual([]);
    } finally {
      await rt.close();
    }
    // A database with a pending migration: the runtime role gets MigrationPrivilegeError.
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    try {
      await owner.query("begin");
      await owner.query("delete from clutch_luigi_migrations where name = '003_deliveries'");
      await owner.query("drop table webhook_deliveries");
      await owner.query("commit");
    } finally {
      await owner.end();
    }
    const err = await openStore({ databaseUrl: db.runtimeUrl, encryptionKey: KEY }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationPrivilegeError);
    expect((err as MigrationPrivilegeError).pending).toEqual(["003_deliveries"]);
    // The owner's URL applies it, and the runtime role gets the new table by default privileges.
    const again = await openStore({ databaseUrl: db.runtimeUrl, migrationDatabaseUrl: db.ownerUrl, encryptionKey: KEY });
    try {
      await again.db.raw("insert into webhook_deliveries (id, event) values ('d-1', 'push')");
      expect(rowsNowOf(await again.db.raw("select count(*)::int as n from webhook_deliveries"))).toBe(1);
    } finally {
      await again.close();
    }
  });

  it("the engine works as the runtime role: runs, retries, failures with rollback, locks, cancel, and an intact chain", async () => {
    const before = await chainHead(store.db);
    const scenario = await runScenario(store);
    expect(scenario.deploy.state).toBe("succeeded");
    expect(scenario.rotate.state).toBe("rolled_back");
    const locked: WorkflowSpec = {
      apiVersion: "clutch-luigi/v1",
      kind: "Workflow",
      name: "locked",
      lock: "db:orders",
      steps: [{ id: "wait", uses: "noop", after: "1h" }],
    } as WorkflowSpec;
    const req = { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "locked", reason: "r", params: {} } as RequestSpec;
    const base = { workflow: locked, request: req, requestPath: "requests/l.yaml", repository: "acme/ops", requester: { login: "alice", type: "User" as const }, approvers: [], registry: registry() };
    const first = await createRun(store, base);
    const second = await createRun(store, base);
    expect([first.state, second.state]).toEqual(["running", "waiting"]);
    expect(await cancelRun(store, first.runId, "alice")).toBeTruthy();
    const verdict = await verifyAuditChain(store.db);
    expect(verdict.problems).toEqual([]);
    expect(verdict.headSeq).toBeGreaterThan(before.seq + 10);
  });
});

function rowsNowOf(r: unknown): number {
  return Number((r as { rows: { n: number }[] }).rows[0]!.n);
}
