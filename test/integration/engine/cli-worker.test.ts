/**
 * `clutch-luigi worker` as users start it: flags, a run picked up from the shared
 * server, a clean stop on the signal.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedKeysEnv } from "../../support/shared-keys.js";
import { main } from "../../../src/cli/main.js";
import type { CliIO } from "../../../src/cli/command.js";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { openStore, type Store } from "../../../src/store/db.js";
import { createRun } from "../../../src/store/runs.js";
import { defaultRegistry } from "../../../src/actions/index.js";
import { PG_UP } from "./backends.js";
import { FIXTURES, IDENTITY, request, waitForRun } from "./harness.js";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkflowSpec } from "../../../src/formats/types.js";

function io(env: NodeJS.ProcessEnv, signal?: AbortSignal): CliIO & { err: () => string } {
  let err = "";
  return {
    stdout: { write: () => true, isTTY: false },
    stderr: { write: (c: string) => (err += c) },
    cwd: FIXTURES,
    env,
    ...(signal ? { signal } : {}),
    err: () => err,
  };
}

describe("clutch-luigi worker", () => {
  it("refuses bad flags with exit 2 before touching any database", async () => {
    const env = { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
    for (const argv of [["worker", "--concurrency", "0"], ["worker", "--lease", "soon"], ["worker", "--poll", "-1s"], ["worker", "extra"], ["worker", "--lease", "60d"], ["worker", "--poll", "1ms"]]) {
      const t = io(env);
      expect(await main(argv, t)).toBe(2);
      expect(t.err()).not.toMatch(/ECONNREFUSED/);
    }
    const t = io(env);
    expect(await main(["worker", "--lease", "60d"], t)).toBe(2);
    expect(t.err()).toContain('--lease takes a duration from 1s to 24h, got "60d"');
  });

  describe.skipIf(!PG_UP)("on a shared server", () => {
    let db: TestDatabase;
    let store: Store;
    beforeAll(async () => {
      db = await createTestDatabase("cl_cli_worker");
      store = await openStore({ databaseUrl: db.url, poolMax: 2 });
    });
    afterAll(async () => {
      await store.close();
      await db.drop();
    });

    it("refuses to start without the keys every process on the database must share", async () => {
      const t = io({ DATABASE_URL: db.url });
      expect(await main(["worker"], t)).toBe(1);
      expect(t.err()).toMatch(/DATABASE_URL is set, so this process shares its database with others, but the signing key .* and the encryption key \(CLUTCH_LUIGI_ENCRYPTION_KEY\) are not configured/);
    });

    it("runs what it finds and stops cleanly on its signal", async () => {
      const workflow = parse(readFileSync(join(FIXTURES, "cli-repo", "workflows", "hello.yaml"), "utf8")) as WorkflowSpec;
      const { runId } = await createRun(store, { ...IDENTITY, workflow, request: request(workflow, { name: "fleet" }), requestPath: "requests/hello.yaml", registry: defaultRegistry() });
      const ctl = new AbortController();
      const t = io({ DATABASE_URL: db.url, ...(await sharedKeysEnv()) }, ctl.signal);
      const running = main(["worker", "--concurrency", "2", "--poll", "100ms", "--lease", "5s"], t);
      expect((await waitForRun(store, runId, 20_000)).state).toBe("succeeded");
      ctl.abort();
      expect(await running).toBe(0);
      expect(t.err()).toMatch(/^worker \S+: postgres, concurrency 2\n/);
      expect(t.err()).toMatch(/worker \S+: stopped\n$/);
    });
  });
});
