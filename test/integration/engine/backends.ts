/**
 * The two databases every engine/store suite runs against: a fresh database on
 * the real Postgres server, and an in-memory PGlite.
 */
import { createRoleTestDatabase, createTestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { openStore, type Store } from "../../../src/store/db.js";

export interface BackendCase {
  name: "pg" | "pglite";
  open(): Promise<{ store: Store; url: string | undefined; cleanup(): Promise<void> }>;
}

const KEY = Buffer.alloc(32, 7).toString("base64");

// Whether the real server is there; under CI a missing server fails the run instead of
// quietly leaving only the PGlite cases.
export { PG_UP };

const ALL_BACKENDS: BackendCase[] = [
  {
    name: "pg",
    async open() {
      // CLUTCH_LUIGI_TEST_AS_RUNTIME=1: the store connects as the runtime role and
      // migrates as the owner, as a hardened deployment does (docs/deploy.md).
      const asRuntime = process.env.CLUTCH_LUIGI_TEST_AS_RUNTIME === "1";
      const roles = asRuntime ? await createRoleTestDatabase("cl_engine") : null;
      const db = roles ?? (await createTestDatabase("cl_engine"));
      const store = roles
        ? await openStore({ databaseUrl: roles.runtimeUrl, migrationDatabaseUrl: roles.ownerUrl, encryptionKey: KEY, poolMax: 4 })
        : await openStore({ databaseUrl: db.url, encryptionKey: KEY, poolMax: 4 });
      return {
        store,
        url: roles ? roles.runtimeUrl : db.url,
        async cleanup() {
          await store.close();
          await db.drop();
        },
      };
    },
  },
  memoryBackend(KEY),
];

/** An in-memory PGlite; `encryptionKey` null for a store that has none. */
export function memoryBackend(encryptionKey: string | null): BackendCase {
  return {
    name: "pglite",
    async open() {
      const store = await openStore(encryptionKey === null ? { dataDir: ":memory:" } : { dataDir: ":memory:", encryptionKey });
      return { store, url: undefined, cleanup: () => store.close() };
    },
  };
}

/** Real Postgres when it answers, and PGlite always. */
export const BACKENDS: BackendCase[] = ALL_BACKENDS.filter((b) => b.name === "pglite" || PG_UP);
