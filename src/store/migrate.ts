/**
 * Versioned migrations, listed in code rather than discovered on disk so that they
 * load the same from `src/` under tsx and from `dist/` after a build.
 */
import type { Knex } from "knex";
import * as m001 from "./migrations/001_initial.js";
import * as m002 from "./migrations/002_hot_path.js";
import * as m003 from "./migrations/003_deliveries.js";
import * as m006 from "./migrations/006_dispatches.js";

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const MIGRATIONS: [string, Migration][] = [
  ["001_initial", m001],
  ["002_hot_path", m002],
  ["003_deliveries", m003],
  ["006_dispatches", m006],
];

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => MIGRATIONS.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = MIGRATIONS.find(([n]) => n === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return found[1];
  },
};

const CONFIG: Knex.MigratorConfig = { migrationSource: source, tableName: "clutch_luigi_migrations" };

/**
 * Apply pending migrations; returns the names applied. Safe to call from many
 * processes at once: knex's own migration lock lives in a table it creates on
 * first use, and several processes starting on a fresh database race to create
 * it. So on a shared server the whole step runs under a transaction-scoped
 * advisory lock (held on one pooled connection while knex uses another; the pool
 * has at least two). The embedded database has one process by construction.
 */
export async function migrate(db: Knex, opts: { shared?: boolean } = { shared: isPg(db) }): Promise<string[]> {
  if (!opts.shared) return latest(db);
  return db.transaction(async (trx: Knex.Transaction) => {
    await trx.raw("select pg_advisory_xact_lock(hashtext('clutch-luigi:migrate'))");
    return latest(db);
  });
}

async function latest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(CONFIG)) as [number, string[]];
  return applied;
}

function isPg(db: Knex): boolean {
  return (db.client as { config?: { client?: unknown } }).config?.client === "pg";
}

export async function migrationStatus(db: Knex): Promise<{ applied: string[]; pending: string[] }> {
  const [done, pending] = (await db.migrate.list(CONFIG)) as [{ name: string }[], string[]];
  return { applied: done.map((d) => d.name), pending: pending.map((p) => (typeof p === "string" ? p : String(p))) };
}
