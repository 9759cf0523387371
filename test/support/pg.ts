/**
 * Real-Postgres test databases. Each call makes a fresh database on the server named
 * by TEST_DATABASE_URL (default: the local server on 127.0.0.1:5432) so test files
 * can run in parallel without seeing each other's rows.
 */
import pg from "pg";
import { randomBytes } from "node:crypto";

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(prefix = "cl_test"): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      try {
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface RoleTestDatabase extends TestDatabase {
  /** The owner role: owns the database and applies the migrations. */
  ownerUrl: string;
  /** A login role in `clutch_luigi_runtime`: what the server and workers connect as. */
  runtimeUrl: string;
  owner: string;
  runtime: string;
}

function urlAs(base: string, user: string): string {
  const u = new URL(base);
  u.username = user;
  u.password = "";
  return u.toString();
}

/**
 * A fresh database with the two roles of docs/deploy.md "Database roles": an owner
 * (no superuser, CREATEROLE so migration 005 can make the runtime group) and a
 * runtime login that is a member of `clutch_luigi_runtime`. Roles are per server,
 * so their names are as unique as the database's; `drop` removes them too.
 */
export async function createRoleTestDatabase(prefix = "cl_roles"): Promise<RoleTestDatabase> {
  const base = await createTestDatabase(prefix);
  const tag = base.name.slice(prefix.length + 1);
  const owner = `cl_own_${tag}`;
  const runtime = `cl_rt_${tag}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create role "${owner}" login createrole`);
    await admin.query(`alter database "${base.name}" owner to "${owner}"`);
    // Made here as the deploy SQL makes it; several test files race to do so.
    await admin.query(`do $$ begin
        if not exists (select from pg_roles where rolname = 'clutch_luigi_runtime') then
          create role clutch_luigi_runtime nologin;
        end if;
      exception when duplicate_object or unique_violation then null;
      end $$`);
    await admin.query(`create role "${runtime}" login in role clutch_luigi_runtime`);
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ connectionString: base.url });
  await db.connect();
  try {
    await db.query(`alter schema public owner to "${owner}"`);
  } finally {
    await db.end();
  }
  return {
    ...base,
    owner,
    runtime,
    ownerUrl: urlAs(base.url, owner),
    runtimeUrl: urlAs(base.url, runtime),
    async drop() {
      await base.drop();
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      try {
        await c.query(`drop role if exists "${runtime}"`);
        await c.query(`drop role if exists "${owner}"`);
      } finally {
        await c.end();
      }
    },
  };
}
