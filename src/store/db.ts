/**
 * Opening the database. `DATABASE_URL` set → a real Postgres server shared by any
 * number of workers; unset → an embedded PGlite under the data folder, so a fresh
 * machine can `clutch-luigi run` with nothing installed. Same SQL on both.
 */
import knexFactory, { type Knex } from "knex";
import ClientPgLite from "knex-pglite";
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { makeDataDir } from "../server-config/data-dir.js";
import { resolve } from "node:path";
import { loadCipher, type OutputCipher } from "./cipher.js";
import { migrate } from "./migrate.js";
import { CHECK_TRANSITIONS_SETTING } from "./state-sql.js";

export type Backend = "pg" | "pglite";

export interface StoreOptions {
  /** A postgres:// URL. Absent → embedded PGlite. */
  databaseUrl?: string;
  /**
   * The owner role's URL, for migrations only (MIGRATION_DATABASE_URL). Absent →
   * migrations run on `databaseUrl` (one role for both; see docs/deploy.md).
   */
  migrationDatabaseUrl?: string;
  /** Where PGlite keeps its files and the generated encryption key; `:memory:` for a throwaway database. */
  dataDir?: string;
  /** Connections in the pg pool (ignored by PGlite, which has exactly one). */
  poolMax?: number;
  /** 32-byte key (base64 or hex) for secret outputs; see cipher.ts for the fallbacks. */
  encryptionKey?: string;
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  /**
   * Refuse any state change not in the engine's transition tables (a trigger; see
   * migration 015). Default: CLUTCH_LUIGI_CHECK_TRANSITIONS=on, which the test suite sets.
   */
  checkTransitions?: boolean;
}

export interface Store {
  db: Knex;
  backend: Backend;
  databaseUrl: string | undefined;
  /** Null when no key is available: secret outputs are then not stored at all. */
  cipher: OutputCipher | null;
  close(): Promise<void>;
}

export function storeOptionsFromEnv(env: NodeJS.ProcessEnv, cwd = process.cwd()): StoreOptions {
  return {
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.DATABASE_URL && env.MIGRATION_DATABASE_URL ? { migrationDatabaseUrl: env.MIGRATION_DATABASE_URL } : {}),
    dataDir: resolve(cwd, env.CLUTCH_LUIGI_DATA_DIR ?? ".clutch-luigi"),
    ...(env.CLUTCH_LUIGI_ENCRYPTION_KEY ? { encryptionKey: env.CLUTCH_LUIGI_ENCRYPTION_KEY } : {}),
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Hold the embedded database's folder for this store. PGlite has no lock of its
 * own, and two instances writing one folder corrupt it; `run` also treats every
 * lease it finds there as left by a dead process, which is only true if no other
 * process has the folder open. Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  const file = resolve(dir, "embedded.lock");
  const token = `${process.pid} ${Math.random().toString(36).slice(2)}`;
  for (let tries = 0; ; tries++) {
    try {
      writeFileSync(file, token + "\n", { flag: "wx", mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || tries > 0) throw e;
      let holder = NaN;
      try {
        holder = Number(readFileSync(file, "utf8").split(" ")[0]);
      } catch {
        // removed meanwhile: try again
      }
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new Error(
          `the embedded database in ${dir} is in use by ${holder === process.pid ? "this process" : `process ${holder}`}: ` +
            `it serves one process at a time (set DATABASE_URL to share a Postgres server; if no such process is running, delete ${file})`,
        );
      }
      unlinkSync(file); // left by a process that is gone
    }
  }
  return () => {
    try {
      if (readFileSync(file, "utf8").trim() === token) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}

export async function openStore(opts: StoreOptions = {}): Promise<Store> {
  let db: Knex;
  let backend: Backend;
  let release = (): void => undefined;
  // Before anything is opened: a bad key must not leave a database or a lock behind.
  // A key is generated only for the embedded database. With a shared server, a key made
  // up on one machine would seal outputs that workers on every other machine cannot
  // open; without CLUTCH_LUIGI_ENCRYPTION_KEY, secret outputs are then not stored at all.
  const generatedKeyDir = !opts.databaseUrl && opts.dataDir && opts.dataDir !== ":memory:" ? opts.dataDir : undefined;
  const cipher = loadCipher({ key: opts.encryptionKey, dataDir: generatedKeyDir });
  const checkTransitions = opts.checkTransitions ?? process.env.CLUTCH_LUIGI_CHECK_TRANSITIONS === "on";
  if (opts.databaseUrl) {
    backend = "pg";
    db = knexFactory({
      client: "pg",
      // keepAlive: a connection whose peer vanished without a word is noticed, not kept for ever.
      connection: {
        connectionString: opts.databaseUrl,
        application_name: "clutch-luigi",
        keepAlive: true,
        ...(checkTransitions ? { options: `-c ${CHECK_TRANSITIONS_SETTING}=on` } : {}),
      },
      pool: {
        min: 0,
        // Two at least: migrate() holds one for its lock while knex migrates on another.
        max: Math.max(2, opts.poolMax ?? 4),
        // A connection killed by the server must not be handed out again.
        afterCreate: (conn: { on(e: string, f: (err: unknown) => void): void }, done: (err: Error | null, conn: unknown) => void) => {
          conn.on("error", () => undefined);
          done(null, conn);
        },
      },
      acquireConnectionTimeout: 10_000,
    });
  } else {
    backend = "pglite";
    const dir = opts.dataDir ?? ".clutch-luigi";
    let connection: Record<string, string> = {};
    if (dir !== ":memory:") {
      makeDataDir(dir);
      release = lockDataDir(dir);
      connection = { filename: resolve(dir, "pgdata") };
    }
    db = knexFactory({ client: ClientPgLite, dialect: "postgres", connection });
    // One connection for the store's life: a session setting holds for all of it.
    if (checkTransitions) await db.raw(`set ${CHECK_TRANSITIONS_SETTING} = on`);
  }
  const store: Store = {
    db,
    backend,
    databaseUrl: opts.databaseUrl,
    cipher,
    close: async () => {
      try {
        await db.destroy();
      } finally {
        release();
      }
    },
  };
  try {
    if ((opts.migrate ?? true) && opts.databaseUrl && opts.migrationDatabaseUrl) await migrateAsOwner(opts.migrationDatabaseUrl);
    else if (opts.migrate ?? true) await migrate(db, { shared: backend === "pg" });
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** Migrations through a short-lived pool of the owner role; the store itself keeps the runtime role. */
export async function migrateAsOwner(url: string): Promise<string[]> {
  const owner = await openStore({ databaseUrl: url, poolMax: 2, migrate: false });
  try {
    return await migrate(owner.db, { shared: true });
  } finally {
    await owner.close();
  }
}

/** Resolves when the database answers a query (`/healthz`); throws when it does not. */
export async function pingDatabase(db: Knex): Promise<void> {
  await db.raw("select 1");
}

/** Rows of a `knex.raw` result on either driver. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const r = result as { rows?: T[] };
  return r.rows ?? [];
}
