/**
 * Versioned migrations, listed in code rather than discovered on disk so that they
 * load the same from `src/` under tsx and from `dist/` after a build.
 */
import type { Knex } from "knex";
import { rowsOf } from "./db.js";
import * as m001 from "./migrations/001_initial.js";
import * as m002 from "./migrations/002_hot_path.js";
import * as m003 from "./migrations/003_deliveries.js";
import * as m004 from "./migrations/004_run_key.js";
import * as m005 from "./migrations/005_audit_roles.js";
import * as m006 from "./migrations/006_dispatches.js";
import * as m007 from "./migrations/007_installation.js";
import * as m008 from "./migrations/008_metrics_indexes.js";
import * as m009 from "./migrations/009_run_reports.js";
import * as m010 from "./migrations/010_delivery_queue.js";
import * as m011 from "./migrations/011_check_runs.js";
import * as m012 from "./migrations/012_expiries.js";
import * as m013 from "./migrations/013_follow_ups.js";
import * as m014 from "./migrations/014_dispatch_callbacks.js";
import * as m015 from "./migrations/015_transitions.js";
import * as m016 from "./migrations/016_create_run.js";
import * as m017 from "./migrations/017_claim_successors.js";
import * as m018 from "./migrations/018_generic_plans.js";
import * as m019 from "./migrations/019_claim_by_run.js";
import * as m020 from "./migrations/020_run_lock_late.js";
import * as m021 from "./migrations/021_promote_without_joins.js";
import * as m022 from "./migrations/022_success_groups.js";

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

export const MIGRATIONS: [string, Migration][] = [
  ["001_initial", m001],
  ["002_hot_path", m002],
  ["003_deliveries", m003],
  ["004_run_key", m004],
  ["005_audit_roles", m005],
  ["006_dispatches", m006],
  ["007_installation", m007],
  ["008_metrics_indexes", m008],
  ["009_run_reports", m009],
  ["010_delivery_queue", m010],
  ["011_check_runs", m011],
  ["012_expiries", m012],
  ["013_follow_ups", m013],
  ["014_dispatch_callbacks", m014],
  ["015_transitions", m015],
  ["016_create_run", m016],
  ["017_claim_successors", m017],
  ["018_generic_plans", m018],
  ["019_claim_by_run", m019],
  ["020_run_lock_late", m020],
  ["021_promote_without_joins", m021],
  ["022_success_groups", m022],
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

const MIGRATIONS_TABLE = "clutch_luigi_migrations";
const CONFIG: Knex.MigratorConfig = { migrationSource: source, tableName: MIGRATIONS_TABLE };

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
  // An up-to-date database needs no lock and no write: the runtime role, which may
  // only read the migration tables, opens its store this way.
  const pending = await pendingOrNull(db);
  if (pending?.length === 0) return [];
  if (pending && !(await mayMigrate(db))) throw new MigrationPrivilegeError(pending);
  return db.transaction(async (trx: Knex.Transaction) => {
    await trx.raw("select pg_advisory_xact_lock(hashtext('clutch-luigi:migrate'))");
    return latest(db);
  });
}

/** Whether this role can take knex's migration lock and create objects: the owner can, the runtime role cannot. */
async function mayMigrate(db: Knex): Promise<boolean> {
  const r = (await db.raw(
    `select has_table_privilege('${CONFIG.tableName}_lock', 'UPDATE') and has_schema_privilege(current_schema(), 'CREATE') as ok`,
  )) as { rows: { ok: boolean }[] };
  return r.rows[0]?.ok === true;
}

/** Migrations are pending and this connection's role may not apply them (it is the runtime role). */
export class MigrationPrivilegeError extends Error {
  constructor(readonly pending: string[]) {
    super(
      `database migrations are pending (${pending.join(", ")}) and this role may not apply them: ` +
        "run clutch-luigi migrate as the owner role (MIGRATION_DATABASE_URL), see docs/deploy.md",
    );
    this.name = "MigrationPrivilegeError";
  }
}

/**
 * Pending names, read without knex's migrator (which creates its tables when they
 * are missing, and several processes opening a fresh database would race to). Null
 * when the bookkeeping tables are not there yet.
 */
async function pendingOrNull(db: Knex): Promise<string[] | null> {
  const t = CONFIG.tableName!;
  const exists = (await db.raw("select to_regclass(?) is not null and to_regclass(?) is not null as ok", [t, `${t}_lock`])) as { rows: { ok: boolean }[] };
  if (exists.rows[0]?.ok !== true) return null;
  const done = new Set(((await db.raw(`select name from ${t}`)) as { rows: { name: string }[] }).rows.map((r) => r.name));
  return MIGRATIONS.map(([name]) => name).filter((name) => !done.has(name));
}

async function latest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(CONFIG)) as [number, string[]];
  return applied;
}

function isPg(db: Knex): boolean {
  return (db.client as { config?: { client?: unknown } }).config?.client === "pg";
}

/**
 * Applied and pending migrations, changing nothing: knex's own `list` creates its
 * bookkeeping tables on first use, so a fresh database is read, not written.
 */
export async function migrationStatus(db: Knex): Promise<{ applied: string[]; pending: string[] }> {
  const all = MIGRATIONS.map(([name]) => name);
  const exists = rowsOf<{ t: string | null }>(await db.raw("select to_regclass(?)::text as t", [MIGRATIONS_TABLE]))[0]?.t;
  if (!exists) return { applied: [], pending: all };
  const applied = rowsOf<{ name: string }>(await db.raw(`select name from ${MIGRATIONS_TABLE} order by id`)).map((r) => r.name);
  const done = new Set(applied);
  return { applied, pending: all.filter((n) => !done.has(n)) };
}
