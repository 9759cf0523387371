/**
 * The database an audit command reads: DATABASE_URL, or the embedded database under
 * CLUTCH_LUIGI_DATA_DIR, exactly as `run` and `worker` find it. Auditing only reads:
 * it applies no migrations and creates no database (or key file) where there is none.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStore, storeOptionsFromEnv, type Store } from "../../../store/db.js";
import { hasAuditTables } from "../../../store/audit-query.js";
import type { CliIO } from "../../command.js";

export async function openAuditStore(io: CliIO): Promise<Store> {
  const opts = storeOptionsFromEnv(io.env, io.cwd);
  let store: Store;
  if (opts.databaseUrl) {
    store = await openStore({ databaseUrl: opts.databaseUrl, poolMax: 2, migrate: false });
  } else {
    const dir = opts.dataDir!;
    if (!existsSync(join(dir, "pgdata"))) {
      throw new Error(`no database to audit: DATABASE_URL is not set and there is no embedded database under ${dir} (set CLUTCH_LUIGI_DATA_DIR)`);
    }
    store = await openStore({ dataDir: dir, migrate: false });
  }
  try {
    if (!(await hasAuditTables(store.db))) throw new Error("this database has no audit trail yet (run clutch-luigi migrate)");
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}
