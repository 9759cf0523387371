/**
 * Local state a person creates by running the CLI in an ops repository: the data folder
 * must never end up in a commit, and asking for the migration status must create nothing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import { MIGRATIONS } from "../../../src/store/migrate.js";
import { openStore } from "../../../src/store/db.js";
import { createTestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";

function io(cwd: string, env: NodeJS.ProcessEnv) {
  let out = "";
  let err = "";
  return { stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) }, cwd, env, out: () => out, err: () => err };
}
const allPending = MIGRATIONS.map(([n]) => `pending  ${n}\n`).join("");

describe("the local data folder", () => {
  let repo: string;
  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), "cl-ops-repo-"));
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it("ignores itself, so `git add -A` in an ops repository never stages its keys or database", async () => {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: repo } });
    git("init", "-q");
    const store = await openStore({ dataDir: join(repo, ".clutch-luigi") });
    await store.close();
    expect(readdirSync(join(repo, ".clutch-luigi"))).toEqual(expect.arrayContaining([".gitignore", "encryption.key", "pgdata"]));
    git("add", "-A");
    expect(git("status", "--porcelain", "--ignored")).toBe("!! .clutch-luigi/\n");
    expect(git("diff", "--cached", "--name-only")).toBe("");
  });

  it("migrate --status on a fresh embedded database lists every migration as pending and creates no folder", async () => {
    const dataDir = join(repo, "state");
    const c = io(repo, { CLUTCH_LUIGI_DATA_DIR: dataDir });
    expect(await main(["migrate", "--status"], c)).toBe(0);
    expect(c.out()).toBe(allPending);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe.skipIf(!PG_UP)("migrate --status on a shared server", () => {
  it("creates no table in a fresh database", async () => {
    const db = await createTestDatabase("cl_status");
    try {
      const c = io(tmpdir(), { DATABASE_URL: db.url });
      expect(await main(["migrate", "--status"], c)).toBe(0);
      expect(c.out()).toBe(allPending);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const tables = await client.query("select tablename from pg_tables where schemaname = 'public'");
        expect(tables.rows).toEqual([]);
      } finally {
        await client.end();
      }
    } finally {
      await db.drop();
    }
  });
});
