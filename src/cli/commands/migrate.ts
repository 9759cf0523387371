import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStore, storeOptionsFromEnv } from "../../store/db.js";
import { MIGRATIONS, migrate, migrationStatus } from "../../store/migrate.js";
import { parseCli } from "../args.js";
import { UsageError, type Command } from "../command.js";

export const command: Command = {
  name: "migrate",
  summary: "apply database migrations (DATABASE_URL, or the embedded database)",
  usage: `Usage: clutch-luigi migrate [--status]

Applies pending migrations to the database named by MIGRATION_DATABASE_URL (the
owner role) or else DATABASE_URL, or to the embedded database under
CLUTCH_LUIGI_DATA_DIR (default .clutch-luigi/). docs/deploy.md "Database roles".
Safe to run from several processes at once. --status lists applied and pending
migrations without changing anything.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, { status: { type: "boolean" } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    // The owner role migrates; DATABASE_URL may name the runtime role, which cannot.
    const env = io.env.MIGRATION_DATABASE_URL ? { ...io.env, DATABASE_URL: io.env.MIGRATION_DATABASE_URL } : io.env;
    const options = storeOptionsFromEnv(env, io.cwd);
    // --status changes nothing: with no embedded database yet, there is nothing to open (opening would create one).
    if (values.status && !options.databaseUrl && options.dataDir && options.dataDir !== ":memory:" && !existsSync(join(options.dataDir, "pgdata"))) {
      for (const [name] of MIGRATIONS) io.stdout.write(`pending  ${name}
`);
      return 0;
    }
    const store = await openStore({ ...options, migrate: false });
    try {
      const where = store.backend === "pg" ? "postgres (DATABASE_URL)" : "embedded database";
      if (values.status) {
        const { applied, pending } = await migrationStatus(store.db);
        for (const name of applied) io.stdout.write(`applied  ${name}\n`);
        for (const name of pending) io.stdout.write(`pending  ${name}\n`);
        return 0;
      }
      const applied = await migrate(store.db, { shared: store.backend === "pg" });
      io.stdout.write(applied.length === 0 ? `${where}: up to date\n` : applied.map((n) => `${where}: applied ${n}\n`).join(""));
      return 0;
    } finally {
      await store.close();
    }
  },
};
