/**
 * Versioned migrations, listed in code rather than discovered on disk so that they
 * load the same from `src/` under tsx and from `dist/` after a build.
 */
import type { Knex } from "knex";
import * as m001 from "./migrations/001_initial.js";
import * as m002 from "./migrations/002_hot_path.js";

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const MIGRATIONS: [string, Migration][] = [
  ["001_initial", m001],
  ["002_hot_path", m002],
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

/** Apply pending migrations; returns the names applied. Safe to call from many processes at once. */
export async function migrate(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(CONFIG)) as [number, string[]];
  return applied;
}

export async function migrationStatus(db: Knex): Promise<{ applied: string[]; pending: string[] }> {
  const [done, pending] = (await db.migrate.list(CONFIG)) as [{ name: string }[], string[]];
  return { applied: done.map((d) => d.name), pending: pending.map((p) => (typeof p === "string" ? p : String(p))) };
}
