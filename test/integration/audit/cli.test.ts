/** `clutch-luigi audit …` end to end through main(): the database comes from the environment, exactly as for `run`. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import { main } from "../../../src/cli/main.js";
import { openStore } from "../../../src/store/db.js";
import { appendAudit, listAuditEvents } from "../../../src/store/audit.js";
import { createRun } from "../../../src/store/runs.js";
import { executeVerify } from "../../../src/cli/commands/audit/verify.js";
import { createTestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { BACKENDS } from "../engine/backends.js";
import { DEPLOY, registry, testIO } from "./support.js";


async function cli(env: NodeJS.ProcessEnv, ...argv: string[]) {
  const io = testIO(env, tmpdir());
  const code = await main(["audit", ...argv], io);
  return { code, out: io.out(), err: io.err() };
}

async function seed(store: Awaited<ReturnType<typeof openStore>>): Promise<string> {
  const run = await createRun(store, {
    workflow: DEPLOY,
    request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: DEPLOY.name, reason: "e2e", params: {} },
    requestPath: "requests/e2e.yaml",
    repository: "acme/ops",
    requester: { login: "alice", type: "User" },
    approvers: [{ login: "bob", reviewId: 5 }],
    registry: registry(),
  });
  return run.runId;
}

describe("clutch-luigi audit on the embedded database", () => {
  let dataDir: string;
  let runId: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "cl-audit-cli-"));
    env = { CLUTCH_LUIGI_DATA_DIR: dataDir };
    const store = await openStore({ dataDir });
    runId = await seed(store);
    // Only one process may hold the embedded database: the CLI opens it after this closes.
    await store.close();
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("verifies, lists, shows and exports", async () => {
    const v = await cli(env, "verify");
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^\d+ rows, head seq \d+, head hash [0-9a-f]{64}: intact\n$/);
    const l = await cli(env, "list", "--run", runId.slice(0, 8));
    expect(l.code).toBe(0);
    expect(l.out).toMatch(/run\.created\s+\S{8}\s+-\s+alice\s+deploy-api · requests\/e2e\.yaml · acme\/ops · by alice · approved by bob/);
    const s = await cli(env, "show", runId);
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/approved by\s+bob \(review 5\)/);
    expect(s.out).toMatch(/run\s+not finished \(runs table: running\)/);
    const e = await cli(env, "export", "--run", runId);
    expect(e.code).toBe(0);
    expect(e.out.trimEnd().split("\n").length).toBeGreaterThan(2);
    expect(e.err).toMatch(new RegExp(`^run ${runId}: exported \\d+ rows`));
  });

  it("turns bad options into usage errors (exit 2) before opening anything", async () => {
    const cases: [string[], RegExp][] = [
      [[], /which subcommand\?/],
      [["frobnicate"], /unknown subcommand "frobnicate"/],
      [["list", "--since", "2026-11-29T10:00"], /--since: .* a zone/],
      [["list", "--until", "2026-02-30"], /not a real date/],
      [["list", "--since", "2026-11-29", "--until", "2026-11-28"], /--since must be before --until/],
      [["list", "--run", "zzz"], /is not a run id/],
      [["list", "--limit", "0"], /--limit takes a whole number/],
      [["list", "--colour"], /Unknown option '--colour'/],
      [["show"], /which run\?/],
      [["verify", "--anchor", "3:abc"], /--anchor takes SEQ:HASH/],
      [["export", "--format", "xml"], /--format is jsonl or csv/],
    ];
    const empty = mkdtempSync(join(tmpdir(), "cl-audit-none-"));
    try {
      for (const [argv, message] of cases) {
        const r = await cli({ CLUTCH_LUIGI_DATA_DIR: empty }, ...argv);
        expect(r.code, argv.join(" ")).toBe(2);
        expect(r.err, argv.join(" ")).toMatch(message);
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("finds no database rather than creating one", async () => {
    const empty = mkdtempSync(join(tmpdir(), "cl-audit-none-"));
    try {
      const r = await cli({ CLUTCH_LUIGI_DATA_DIR: empty }, "verify");
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/no database to audit: DATABASE_URL is not set and there is no embedded database under/);
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("documents every subcommand in --help", async () => {
    const r = await cli(env, "--help");
    expect(r.code).toBe(0);
    for (const s of ["audit list", "audit show RUN_ID", "audit verify", "audit export"]) expect(r.out).toContain(`clutch-luigi ${s}`);
  });
});

describe.runIf(PG_UP)("clutch-luigi audit on Postgres (DATABASE_URL)", () => {
  it("reads the database DATABASE_URL names, and refuses one with no audit trail without migrating it", async () => {
    const db = await createTestDatabase("cl_audit");
    try {
      const bare = await cli({ DATABASE_URL: db.url }, "verify");
      expect(bare.code).toBe(1);
      expect(bare.err).toMatch(/no audit trail yet \(run clutch-luigi migrate\)/);
      const store = await openStore({ databaseUrl: db.url });
      let runId: string;
      try {
        runId = await seed(store);
      } finally {
        await store.close();
      }
      const cwd = mkdtempSync(join(tmpdir(), "cl-audit-cwd-"));
      try {
        const io = testIO({ DATABASE_URL: db.url }, cwd);
        expect(await main(["audit", "verify"], io)).toBe(0);
        expect(io.out()).toMatch(/: intact\n$/);
        // Reading needs no key: nothing is written where the auditor stands.
        expect(existsSync(join(cwd, ".clutch-luigi"))).toBe(false);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
      const s = await cli({ DATABASE_URL: db.url }, "show", runId);
      expect(s.code).toBe(0);
      expect(s.out).toContain(`Run ${runId}`);
    } finally {
      await db.drop();
    }
  });
});

describe.each(BACKENDS)("audit verify on a live chain ($name)", (backend) => {
  it("reads one snapshot: rows appended while it runs never look like a broken head", async () => {
    const { store, cleanup } = await backend.open();
    try {
      let stop = false;
      let appended = 0;
      const writer = (async () => {
        while (!stop) {
          await store.db.transaction((trx: Knex.Transaction) => appendAudit(trx, [{ kind: "load.tick", actor: "w" }, { kind: "load.tock", actor: "w" }]));
          appended += 2;
        }
      })();
      try {
        for (let i = 0; i < 8; i++) {
          const io = testIO();
          const code = await executeVerify(store, { anchors: [] }, io);
          expect(io.out()).toMatch(/: intact\n$/);
          expect(code).toBe(0);
        }
      } finally {
        stop = true;
        await writer;
      }
      expect(appended).toBeGreaterThan(0);
      expect((await listAuditEvents(store.db, { limit: 100_000 })).length).toBe(appended);
    } finally {
      await cleanup();
    }
  });
});
