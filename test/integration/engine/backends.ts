/**
 * The two databases every engine/store suite runs against: a fresh database on
 * the real Postgres server, and an in-memory PGlite.
 */
import { createTestDatabase } from "../../support/pg.js";
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
      const db = await createTestDatabase("cl_engine");
      const store = await openStore({ databaseUrl: db.url, encryptionKey: KEY, poolMax: 4 });
      return {
        store,
        url: db.url,
        async cleanup() {
          await store.close();
          await db.drop();
        },
      };
    },
  },
  {
    name: "pglite",
    async open() {
      const store = await openStore({ dataDir: ":memory:", encryptionKey: KEY });
      return { store, url: undefined, cleanup: () => store.close() };
    },
  },
];

/** Real Postgres when it answers, and PGlite always. */
export const BACKENDS: BackendCase[] = ALL_BACKENDS.filter((b) => b.name === "pglite" || PG_UP);
