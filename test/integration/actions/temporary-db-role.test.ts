/**
 * The catalog's temporary-db-role on the real local Postgres: the DBA's functions
 * (workflows/sql/temporary-db-role.sql) installed, a login granted a read role by
 * the workflow, able to read while the grant is in force, and unable to once the
 * expiry has undone it; a login that already had the role keeps it.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, rowsOf, type Store } from "../../../src/store/db.js";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { catalogWorkflow, runThroughExpiry } from "./time-bound-run.js";

const ROOT = join(import.meta.dirname, "../../..");
let engineDb: TestDatabase;
let target: TestDatabase;
let store: Store;

async function sql<T>(q: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: target.url });
  await c.connect();
  try {
    return (await c.query(q, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Whether `login` may read the orders table now (as that role, in a fresh session). */
async function canRead(login: string): Promise<boolean | string> {
  try {
    await sql(`set role ${login}; select count(*) from shop.orders`);
    return true;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

beforeAll(async () => {
  if (!PG_UP) return;
  engineDb = await createTestDatabase("cl_dbrole_engine");
  target = await createTestDatabase("cl_dbrole_target");
  store = await openStore({ databaseUrl: engineDb.url, encryptionKey: Buffer.alloc(32, 3).toString("base64"), poolMax: 4 });
  const suffix = target.name.replace(/[^a-z0-9_]/g, "").slice(-12);
  process.env.CL_DBROLE_SUFFIX = suffix;
  await sql(`create schema shop; create table shop.orders (id int); insert into shop.orders values (1), (2)`);
  // Roles are cluster-wide: names carry the database's suffix so parallel runs never meet.
  for (const role of ["orders_read"]) await sql(`drop role if exists ${role}_${suffix}; create role ${role}_${suffix} nologin`);
  await sql(`grant usage on schema shop to orders_read_${suffix}; grant select on shop.orders to orders_read_${suffix}`);
  for (const login of ["dana", "erin"]) await sql(`drop role if exists ${login}_${suffix}; create role ${login}_${suffix} login`);
  await sql(`grant orders_read_${suffix} to erin_${suffix}`);
  const install = (await readFile(join(ROOT, "workflows/sql/temporary-db-role.sql"), "utf8")).replaceAll("'orders_read', 'payments_read', 'analytics_read'", `'orders_read_${suffix}'`);
  await sql(install);
});

afterAll(async () => {
  await store?.close();
  const suffix = process.env.CL_DBROLE_SUFFIX;
  if (target && suffix) {
    await target.drop();
    const admin = new pg.Client({ connectionString: engineDb.url });
    await admin.connect();
    for (const r of [`dana_${suffix}`, `erin_${suffix}`, `orders_read_${suffix}`]) await admin.query(`drop role if exists ${r}`).catch(() => undefined);
    await admin.end();
  }
  await engineDb?.drop();
});

const serverConfig = () => {
  const url = new URL(target.url);
  return `connections:\n  postgres:\n    orders: { host: ${url.hostname}, port: ${url.port || 5432}, database: ${target.name}, user: ${url.username || "postgres"} }\n`;
};
// The test's roles carry a suffix; the catalog's enums name the DBA's real ones.
const runIt = async (params: Record<string, unknown>, during: () => Promise<void>) => runThroughExpiry(store, serverConfig(), await catalogWorkflow("temporary-db-role", ["role", "login"]), params, during);

describe.skipIf(!PG_UP)("temporary-db-role (workflows/temporary-db-role.yaml) on the real Postgres", () => {
  it("grants the role, the login reads while it is in force, and cannot once the expiry revoked it", async () => {
    const s = process.env.CL_DBROLE_SUFFIX!;
    expect(await canRead(`dana_${s}`)).toBe("42501");
    let during: boolean | string = "not checked";
    const run = await runIt({ login: `dana_${s}`, role: `orders_read_${s}`, duration: "1500ms" }, async () => {
      during = await canRead(`dana_${s}`);
    });
    expect(during).toBe(true);
    expect(run.state).toBe("rolled_back");
    expect(run.steps.map((x) => [x.stepId, x.state])).toEqual([["grant", "rolled_back"]]);
    expect(await canRead(`dana_${s}`)).toBe("42501");
  });

  it("a login that already had the role keeps it after the expiry", async () => {
    const s = process.env.CL_DBROLE_SUFFIX!;
    const run = await runIt({ login: `erin_${s}`, role: `orders_read_${s}`, duration: "1500ms" }, async () => {});
    expect(run.state).toBe("rolled_back"); // the undo ran, and did nothing: the grant recorded it granted nothing
    const outputs = rowsOf<{ outputs: { rows: { granted: boolean }[] } }>(await store.db.raw("select outputs from steps where run_id = ? and step_id = 'grant'", [run.runId]))[0]!.outputs;
    expect(outputs.rows[0]!.granted).toBe(false);
    expect(await canRead(`erin_${s}`)).toBe(true);
  });

  it("the functions refuse a role the DBA did not list, and quote names", async () => {
    const s = process.env.CL_DBROLE_SUFFIX!;
    await expect(sql("select clutch_luigi.grant_role($1, $2)", ["pg_read_all_data", `dana_${s}`])).rejects.toMatchObject({ code: "42501" });
    await expect(sql("select clutch_luigi.grant_role($1, $2)", [`orders_read_${s}`, `dana_${s}"; drop table shop.orders; --`])).rejects.toMatchObject({ code: "42704" });
    expect((await sql<{ n: string }>("select count(*) as n from shop.orders"))[0]!.n).toBe("2");
  });
});
