/**
 * A workflow cannot let a request choose where a secret goes: each destination rule
 * against its own fixture in test/fixtures/formats/bad/, with exact line and column.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { formatProblem } from "../../../src/formats/problems.js";
import { validatePaths } from "../../../src/formats/validate-files.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/formats");

async function problemsOf(file: string): Promise<string[]> {
  const reports = await validatePaths([file], { registry: defaultRegistry(), cwd: FIXTURES, workflowsDir: "repo/workflows" });
  return reports.flatMap((r) => r.problems).map(formatProblem).sort();
}

const URL_MSG = "http.request url must fix its scheme, host and port in the workflow; an expression may fill only the path, query or fragment (or use a named service)";

const CASES: [string, string, string[]][] = [
  ["http.request url host from an expression", "bad/dest-url-host.yaml", [
    `bad/dest-url-host.yaml:15:21: \${{ params.host }}: ${URL_MSG}`,
  ]],
  ["http.request url port from an expression", "bad/dest-url-port.yaml", [
    `bad/dest-url-port.yaml:15:37: \${{ params.host }}: ${URL_MSG}`,
  ]],
  ["http.request url wholly from an expression", "bad/dest-url-whole.yaml", [
    `bad/dest-url-whole.yaml:14:19: \${{ params.host }}: ${URL_MSG}`,
  ]],
  ["http.request url scheme from an expression", "bad/dest-url-scheme.yaml", [
    `bad/dest-url-scheme.yaml:15:13: \${{ params.free }}: ${URL_MSG}`,
  ]],
  ["http.request secretHeaders secret name from an expression", "bad/dest-secret-headers.yaml", [
    "bad/dest-secret-headers.yaml:16:36: ${{ params.free }}: http.request secretHeaders values must be written in the workflow, not taken from an expression",
  ]],
  ["http.request service and audience from expressions", "bad/dest-http-service.yaml", [
    "bad/dest-http-service.yaml:14:23: ${{ params.db }}: http.request service must be written in the workflow, not taken from an expression",
    "bad/dest-http-service.yaml:14:64: ${{ params.free }}: http.request audience must be written in the workflow, not taken from an expression",
  ]],
  ["shell argv from unconstrained params and the request's reason", "bad/dest-shell-argv.yaml", [
    "bad/dest-shell-argv.yaml:17:22: ${{ params.free }}: shell args may take a param only if the workflow constrains it (pattern, enum, const, boolean, or integer with minimum >= 0)",
    "bad/dest-shell-argv.yaml:17:55: ${{ params.host }}: shell args may take a param only if the workflow constrains it (pattern, enum, const, boolean, or integer with minimum >= 0)",
    "bad/dest-shell-argv.yaml:17:77: ${{ request.reason }}: shell args may not carry the request's free-text reason",
    "bad/dest-shell-argv.yaml:18:26: ${{ params.signed }}: shell args may take a param only if the workflow constrains it (pattern, enum, const, boolean, or integer with minimum >= 0)",
  ]],
  ["shell command and secretEnv secret name from expressions", "bad/dest-shell-command.yaml", [
    "bad/dest-shell-command.yaml:15:17: ${{ params.db }}: shell command must be written in the workflow, not taken from an expression",
    "bad/dest-shell-command.yaml:16:28: ${{ params.free }}: shell secretEnv values must be written in the workflow, not taken from an expression",
  ]],
  ["postgres.sql connection from a param without an enum", "bad/dest-postgres-connection.yaml", [
    "bad/dest-postgres-connection.yaml:14:26: ${{ params.free }}: postgres.sql connection may come only from a param with an enum (or const) in the workflow's params",
  ]],
  ["github.* repository, workflow, org and team from params without an enum", "bad/dest-github.yaml", [
    "bad/dest-github.yaml:15:25: ${{ params.free }}: github.workflow-dispatch repository may come only from a param with an enum (or const) in the workflow's params",
    "bad/dest-github.yaml:16:18: ${{ params.node }}: github.workflow-dispatch workflow may come only from a param with an enum (or const) in the workflow's params",
    "bad/dest-github.yaml:20:19: ${{ params.host }}: github.team-membership org may come only from a param with an enum (or const) in the workflow's params",
    "bad/dest-github.yaml:20:47: ${{ params.free }}: github.team-membership team may come only from a param with an enum (or const) in the workflow's params",
  ]],
];

describe("destination rules", () => {
  for (const [name, file, expected] of CASES) {
    it(`refuses ${name}`, async () => {
      expect(await problemsOf(file)).toEqual(expected);
    });
  }

  it("allows expressions in URL paths and queries, constrained argv, step outputs, env values and enum connections", async () => {
    expect(await problemsOf("bad/dest-allowed.yaml")).toEqual([]);
  });
});
