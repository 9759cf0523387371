/**
 * Issue 5, "bad input": request params such as `; rm -rf /`, `$(id)`, `' OR 1=1 --`,
 * newlines and NUL bytes must reach `shell`, `postgres.sql` and `http.request` as
 * inert data. Each value travels the way a request's params do: a workflow's `with`
 * template is substituted with the engine's own `substitute`, checked with the
 * engine's run-time input check, then handed to the action against a real peer
 * (a process, Postgres, an HTTP service verifying the step token).
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../../../src/actions/builtin/http-request.js";
import { postgresSql } from "../../../src/actions/builtin/postgres-sql.js";
import { shell } from "../../../src/actions/builtin/shell.js";
import { defaultRegistry } from "../../../src/actions/index.js";
import { ActionError, type Action, type StepContext } from "../../../src/actions/types.js";
import { jwksHandler } from "../../../src/api/jwks.js";
import { assertActionInput } from "../../../src/engine/input-check.js";
import { checkWorkflow } from "../../../src/formats/check-workflow.js";
import { substitute } from "../../../src/formats/expressions.js";
import { parseSource } from "../../../src/formats/source.js";
import { createTestDatabase, type TestDatabase } from "../../support/pg.js";
import { PG_UP } from "../../support/pg-suite.js";
import { startJwtVerifyingServer, type JwtVerifyingServer } from "../../support/jwt-verifier.js";
import { testContext, testSigner } from "./context-helper.js";

const fixtures = join(import.meta.dirname, "../../fixtures/actions");
const canaryDir = await mkdtemp(join(tmpdir(), "cl-hostile-"));
const CANARY = join(canaryDir, "pwned");

/** The issue's list, plus the shell and SQL classics that would create CANARY or drop a table if interpreted. */
const HOSTILE = [
  "; rm -rf /",
  "$(id)",
  "`id`",
  "' OR 1=1 --",
  "first line\nsecond line\r\nthird",
  "nul\0byte",
  `$(touch ${CANARY})`,
  `; touch ${CANARY}`,
  `x && touch ${CANARY} || touch ${CANARY}`,
  "'); drop table hostile_values; --",
  "${HOME} %s %n \\ \" '",
];
const hasNul = (v: string): boolean => v.includes("\0");

/** What the engine does with a step's `with` for a request whose params are `{ v }`. */
function resolved(action: Pick<Action, "name" | "input">, template: Record<string, unknown>, v: string): Record<string, unknown> {
  const input = substitute(template, { params: { v }, request: {}, steps: {} }) as Record<string, unknown>;
  // The input check reads only the name and the schema.
  assertActionInput(action as Action, input);
  return input;
}

async function outcome<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: ActionError }> {
  try {
    return { value: await fn() };
  } catch (e) {
    if (e instanceof ActionError) return { error: e };
    throw e;
  }
}

describe("hostile params through shell", () => {
  const config = `shell:\n  allow:\n    print-args: { path: ${fixtures}/print-args.sh }\n`;
  const template = { command: "print-args", args: ["${{ params.v }}", "--name=${{ params.v }}"], env: { PARAM: "${{ params.v }}" } };

  for (const v of HOSTILE) {
    it(`${JSON.stringify(v)} arrives as one argv entry and one variable, byte for byte`, async () => {
      const { ctx } = await testContext({ config });
      const r = await outcome(() => shell.run(resolved(shell, template, v) as never, ctx));
      if (hasNul(v)) {
        // execve cannot carry a NUL: refused with a clear error naming the field, nothing started.
        expect(r.error?.code).toBe("invalid-input");
        expect(r.error?.message).toMatch(/^shell refused its input: with\.args\.0 /);
      } else {
        expect(r.error).toBeUndefined();
        expect(r.value).toMatchObject({ exitCode: 0, stdout: `[${v}]\n[--name=${v}]\nPARAM=[${v}]\n` });
      }
      expect(existsSync(CANARY)).toBe(false);
    });
  }

  it("refuses a NUL the schema check was not asked about, inside the action too", async () => {
    const { ctx } = await testContext({ config });
    await expect(shell.run({ command: "print-args", args: ["ok", "a\0b"] }, ctx)).rejects.toMatchObject({ code: "invalid-input", message: "args[1] contains a NUL byte" });
  });
});

describe.skipIf(!PG_UP)("hostile params through postgres.sql", () => {
  let db: TestDatabase;
  let ctx: StepContext;

  beforeAll(async () => {
    db = await createTestDatabase("cl_hostile");
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query("create table hostile_values (id serial primary key, v text not null)");
    await c.end();
    const url = new URL(db.url);
    const config = `connections:\n  postgres:\n    local: { host: ${url.hostname}, port: ${url.port || 5432}, database: ${db.name}, user: ${url.username || "postgres"} }\n`;
    ctx = (await testContext({ config })).ctx;
  });
  afterAll(async () => db?.drop());

  const insert = { connection: "local", sql: "insert into hostile_values (v) values ($1) returning v", params: ["${{ params.v }}"] };
  const count = { connection: "local", sql: "select count(*)::int as n from hostile_values where v = $1", params: ["${{ params.v }}"] };

  for (const v of HOSTILE) {
    it(`${JSON.stringify(v)} is stored and matched as a value, never run as SQL`, async () => {
      const r = await outcome(() => postgresSql.run(resolved(postgresSql, insert, v) as never, ctx));
      if (hasNul(v)) {
        // Postgres text cannot hold NUL: its own refusal, classified, not a crash.
        expect(r.error?.code).toBe("sqlstate-22021");
        return;
      }
      expect(r.error).toBeUndefined();
      expect(r.value?.rows).toEqual([{ v }]);
      const n = await postgresSql.run(resolved(postgresSql, count, v) as never, ctx);
      expect(n.rows).toEqual([{ n: 1 }]);
      const table = await postgresSql.run({ connection: "local", sql: "select count(*)::int as n from hostile_values" }, ctx);
      expect(table.rows[0]?.n).toBeGreaterThan(0); // the table is still there
    });
  }

  it("a workflow that splices a param into SQL text is refused at validation, with the place named", async () => {
    const file = join(fixtures, "workflows/spliced-values.yaml");
    const parsed = parseSource(file, await readFile(file, "utf8"));
    if (!parsed.ok) throw new Error(parsed.problems.map((p) => p.message).join("\n"));
    const { problems } = checkWorkflow(parsed.doc, defaultRegistry());
    expect(problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      "15: postgres.sql: with.sql must be fixed text: a ${{ … }} expression here would splice data into it; pass values separately (e.g. as parameters)",
    ]);
  });
});

describe("hostile params through http.request", () => {
  const ISSUER = "http://127.0.0.1/hostile";
  let jwks: Server;
  let service: JwtVerifyingServer;
  let config = "";
  let ctx: StepContext;

  beforeAll(async () => {
    const signer = await testSigner(ISSUER);
    const handler = jwksHandler(signer);
    jwks = createServer((req, res) => handler(req, res));
    await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
    service = await startJwtVerifyingServer({ jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`, issuer: ISSUER, audience: "svc" });
    service.respond((r) => ({ status: r.claims ? 200 : 401, body: { received: JSON.parse(r.body || "null") } }));
    config = `connections:\n  http:\n    svc: { baseUrl: "${service.url}/api/", audience: svc }\n`;
    ctx = (await testContext({ config, signer })).ctx;
  });
  afterAll(async () => {
    await service.close();
    jwks.closeAllConnections();
    await new Promise((r) => jwks.close(r));
  });

  const template = {
    service: "svc",
    path: "/items",
    method: "POST",
    query: { q: "${{ params.v }}", also: "v=${{ params.v }}&" },
    body: { value: "${{ params.v }}", nested: ["${{ params.v }}", { deeper: "prefix-${{ params.v }}" }] },
    outputs: { echoed: "/received/value" },
  };

  for (const v of HOSTILE) {
    it(`${JSON.stringify(v)} arrives in the query and the JSON body exactly, under a verified token`, async () => {
      service.requests.length = 0;
      const out = await httpRequest.run(resolved(httpRequest, template, v) as never, ctx);
      expect(out).toEqual({ status: 200, echoed: v });
      const req = service.requests[0]!;
      expect(req.claims?.sub).toBe("alice");
      const url = new URL(req.url, "http://x");
      expect(url.pathname).toBe("/api/items");
      expect([...url.searchParams.entries()]).toEqual([["q", v], ["also", `v=${v}&`]]);
      expect(JSON.parse(req.body)).toEqual({ value: v, nested: [v, { deeper: `prefix-${v}` }] });
    });
  }

  it("refuses a header value with CR, LF or NUL (no request splitting), before any request", async () => {
    service.requests.length = 0;
    for (const v of HOSTILE.filter((x) => /[\r\n\0]/.test(x))) {
      expect(() => resolved(httpRequest, { service: "svc", path: "/h", headers: { "x-value": "${{ params.v }}" } }, v)).toThrow(/with\.headers\.x-value/);
      const direct = await outcome(() => httpRequest.run({ service: "svc", path: "/h", headers: { "x-value": v } }, ctx));
      expect(direct.error?.code).toBe("invalid-input");
    }
    for (const v of HOSTILE.filter((x) => !/[\r\n\0]/.test(x))) {
      await httpRequest.run(resolved(httpRequest, { service: "svc", path: "/h", headers: { "x-value": "${{ params.v }}" } }, v) as never, ctx);
    }
    expect(service.requests.map((r) => r.headers["x-value"])).toEqual(HOSTILE.filter((x) => !/[\r\n\0]/.test(x)));
  });

  it("a param spliced into the path cannot walk the URL or leave the service", async () => {
    service.requests.length = 0;
    const pathTemplate = { service: "svc", path: "/users/${{ params.v }}" };
    for (const v of ["../admin", "..%2Fadmin", "%2e%2e/admin", "x/../../admin", "..\\admin"]) {
      const r = await outcome(() => httpRequest.run(resolved(httpRequest, pathTemplate, v) as never, ctx));
      // `..%2Fadmin` too: a proxy or router that decodes %2F would see `../admin`.
      expect(r.error?.code, v).toBe("unsafe-path");
    }
    await httpRequest.run(resolved(httpRequest, { service: "svc", path: "/${{ params.v }}" }, "/evil.example/x") as never, ctx);
    expect(service.requests.map((r) => r.url)).toEqual(["/api/evil.example/x"]);
    expect(() => resolved(httpRequest, pathTemplate, "a\nb")).toThrow(/with\.path/);
  });
});
