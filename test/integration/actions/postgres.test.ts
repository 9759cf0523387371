import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresRotatePassword } from "../../../src/actions/builtin/postgres-rotate-password.js";
import { postgresSql } from "../../../src/actions/builtin/postgres-sql.js";
import { scramVerifierMatches } from "../../../src/actions/builtin/scram.js";
import { compileSchema } from "../../../src/formats/schema-check.js";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { failure, HOSTILE_VALUES, testContext } from "./context-helper.js";
import { startScratchPostgres, type ScratchPostgres } from "./scratch-postgres.js";

let db: TestDatabase;
let scratch: ScratchPostgres;
let config = "";
const env: Record<string, string> = {};

beforeAll(async () => {
  if (!PG_UP) return;
  db = await createTestDatabase("cl_actions");
  scratch = await startScratchPostgres();
  const url = new URL(db.url);
  env.SCRATCH_ADMIN_PASSWORD = scratch.password;
  config = `
secrets:
  scratch-admin: { env: SCRATCH_ADMIN_PASSWORD }
connections:
  postgres:
    local: { host: ${url.hostname}, port: ${url.port || 5432}, database: ${db.name}, user: ${url.username || "postgres"} }
    scratch: { host: 127.0.0.1, port: ${scratch.port}, database: postgres, user: postgres, passwordSecret: scratch-admin }
    nowhere: { host: 127.0.0.1, port: 1, database: x, user: x, connectTimeoutMs: 2000 }
`;
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query("create table notes (id serial primary key, body text not null)");
  await c.query("insert into notes (body) values ('first'), ('second'), ('third')");
  await c.end();
});
afterAll(async () => {
  await db?.drop();
  await scratch?.stop();
});

const ctx = async () => (await testContext({ config, env })).ctx;

async function canLogIn(role: string, password: string): Promise<boolean | string> {
  const c = new pg.Client({ host: "127.0.0.1", port: scratch.port, database: "postgres", user: role, password });
  c.on("error", () => undefined);
  try {
    await c.connect();
    await c.query("select 1");
    return true;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host: "127.0.0.1", port: scratch.port, database: "postgres", user: "postgres", password: scratch.password });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe.skipIf(!PG_UP)("postgres.sql", () => {
  it("stores hostile values as data through bind parameters", async () => {
    const c = await ctx();
    const values = [...HOSTILE_VALUES, "'); drop table notes; --"];
    for (const v of values) await postgresSql.run({ connection: "local", sql: "insert into notes (body) values ($1)", params: [v] }, c);
    const out = await postgresSql.run({ connection: "local", sql: "select body from notes where id > 3 order by id" }, c);
    expect(out.rows.map((r) => r.body)).toEqual(values);
    const inj = await postgresSql.run({ connection: "local", sql: "select * from notes where body = $1", params: ["' OR 1=1 --"] }, c);
    expect(inj.rowCount).toBe(1);
    expect(inj.rows[0]?.body).toBe("' OR 1=1 --");
  });

  it("refuses NUL bytes in a parameter with a Postgres error class, not a crash", async () => {
    const err = await failure(postgresSql.run({ connection: "local", sql: "select $1::text as v", params: ["a\0b"] }, await ctx()));
    expect(err.code).toBe("sqlstate-22021");
  });

  it("runs exactly one statement: text after a ';' cannot ride along", async () => {
    const c = await ctx();
    const err = await failure(postgresSql.run({ connection: "local", sql: "select 1; drop table notes" }, c));
    expect(err.code).toBe("sqlstate-42601");
    const still = await postgresSql.run({ connection: "local", sql: "select count(*)::int as n from notes" }, c);
    expect(still.rows[0]?.n).toBeGreaterThanOrEqual(3);
  });

  it("enforces readOnly and rolls a failed statement back", async () => {
    const c = await ctx();
    expect((await failure(postgresSql.run({ connection: "local", sql: "delete from notes", readOnly: true }, c))).code).toBe("sqlstate-25006");
    const n = await postgresSql.run({ connection: "local", sql: "select count(*)::int as n from notes" }, c);
    expect(n.rows[0]?.n).toBeGreaterThanOrEqual(3);
  });

  it("bounds returned rows but reports the full count", async () => {
    const out = await postgresSql.run({ connection: "local", sql: "select g from generate_series(1, 500) g", maxRows: 5 }, await ctx());
    expect(out.rowCount).toBe(500);
    expect(out.rows).toHaveLength(5);
  });

  it("classifies unknown connections and unreachable servers", async () => {
    const c = await ctx();
    expect((await failure(postgresSql.run({ connection: "nope", sql: "select 1" }, c))).code).toBe("invalid-input");
    expect((await failure(postgresSql.run({ connection: "nowhere", sql: "select 1" }, c))).code).toBe("connection");
  });

  it("aborts a running statement when the step is aborted", async () => {
    const t = await testContext({ config, env });
    const started = Date.now();
    const pending = failure(postgresSql.run({ connection: "local", sql: "select pg_sleep(20)" }, t.ctx));
    setTimeout(() => t.abort.abort(new Error("timeout")), 300);
    expect((await pending).code).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("has a schema that refuses expressions inside the SQL text", () => {
    const v = compileSchema(postgresSql.input);
    expect(v({ connection: "local", sql: "select $1", params: ["${{ params.x }}"] })).toBe(true);
    expect(v({ connection: "local", sql: "select * from t where a = '${{ params.x }}'" })).toBe(false);
    expect(v({ connection: "local", sql: "select 1", params: [{ nested: true }] })).toBe(false);
  });
});

describe.skipIf(!PG_UP)("postgres.rotate-password (against a cluster that enforces passwords)", () => {
  beforeAll(async () => {
    await admin(async (c) => {
      await c.query(`create role app_rw login password 'old-password-0001'`);
      await c.query(`create role "app-ro" login password 'old-password-0002'`);
    });
  });

  it("the old password stops working and the new one works", async () => {
    expect(await canLogIn("app_rw", "old-password-0001")).toBe(true);
    const t = await testContext({ config, env });
    const out = await postgresRotatePassword.run({ connection: "scratch", role: "app_rw", password: "new-Password-7781" }, t.ctx);
    expect(out.role).toBe("app_rw");
    expect(await canLogIn("app_rw", "old-password-0001")).toBe("28P01");
    expect(await canLogIn("app_rw", "new-Password-7781")).toBe(true);
    // What the server stored is a SCRAM verifier of the new password, never the password.
    const stored = await admin(async (c) => (await c.query("select rolpassword from pg_authid where rolname = 'app_rw'")).rows[0].rolpassword as string);
    expect(stored).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(scramVerifierMatches(stored, "new-Password-7781")).toBe(true);
    expect(scramVerifierMatches(stored, "old-password-0001")).toBe(false);
    const logged = JSON.stringify(t.logs);
    expect(logged).not.toContain("new-Password-7781");
    expect(logged).not.toContain(scratch.password);
  });

  it("takes passwords with quotes, backslashes and SQL as data", async () => {
    const nasty = `it's "a" \\ pass'; drop role postgres; --\nline2`;
    await postgresRotatePassword.run({ connection: "scratch", role: "app_rw", password: nasty }, await ctx());
    expect(await canLogIn("app_rw", nasty)).toBe(true);
    expect(await admin(async (c) => (await c.query("select count(*)::int as n from pg_roles where rolname = 'postgres'")).rows[0].n)).toBe(1);
  });

  it("quotes role names that need it", async () => {
    await postgresRotatePassword.run({ connection: "scratch", role: "app-ro", password: "another-secret-42" }, await ctx());
    expect(await canLogIn("app-ro", "another-secret-42")).toBe(true);
  });

  it("refuses hostile role names and unknown roles", async () => {
    const c = await ctx();
    const v = compileSchema(postgresRotatePassword.input);
    const hostile = `x"; drop role postgres; --`;
    expect(v({ connection: "scratch", role: hostile, password: "long-enough-pass" })).toBe(false);
    expect((await failure(postgresRotatePassword.run({ connection: "scratch", role: hostile, password: "long-enough-pass" }, c))).code).toBe("invalid-input");
    expect((await failure(postgresRotatePassword.run({ connection: "scratch", role: "ghost", password: "long-enough-pass" }, c))).code).toBe("role-missing");
    expect(v({ connection: "scratch", role: "app_rw", password: "short" })).toBe(false);
  });

  it("fails with the server's refusal (final, not retryable) when the admin secret is wrong, without printing it", async () => {
    const t = await testContext({ config, env: { SCRATCH_ADMIN_PASSWORD: "wrong-admin-password" } });
    const err = await failure(postgresRotatePassword.run({ connection: "scratch", role: "app_rw", password: "whatever-password-1" }, t.ctx));
    expect(err.code).toBe("sqlstate-28P01");
    expect(err.message).not.toContain("wrong-admin-password");
    expect(err.message).toMatch(/password authentication failed/);
  });
});
