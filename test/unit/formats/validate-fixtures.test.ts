/**
 * Every error class validation knows, each against a real file in
 * test/fixtures/formats/, asserting the exact line and column of the offending node.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { formatProblem } from "../../../src/formats/problems.js";
import { parseSource } from "../../../src/formats/source.js";
import { validatePaths } from "../../../src/formats/validate-files.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/formats");

async function problemsOf(file: string): Promise<string[]> {
  const reports = await validatePaths([file], {
    registry: defaultRegistry(),
    cwd: FIXTURES,
    workflowsDir: "repo/workflows",
  });
  return reports.flatMap((r) => r.problems).map(formatProblem).sort();
}

/** [fixture, expected `file:line:col: message` lines (each a prefix of the real line)] */
const CASES: [string, string[]][] = [
  ["bad/unknown-keys.yaml", [
    'bad/unknown-keys.yaml:4:1: unknown key "descripton" in document; did you mean "description"?',
    'bad/unknown-keys.yaml:8:5: unknown key "neds" in steps.0; did you mean "needs"?',
  ]],
  ["bad/wrong-types.yaml", [
    "bad/wrong-types.yaml:4:10: timeout must be string",
    "bad/wrong-types.yaml:8:12: steps.0.needs must be array",
    "bad/wrong-types.yaml:9:24: steps.0.retry.attempts must be integer",
  ]],
  ["bad/duplicate-ids.yaml", ['bad/duplicate-ids.yaml:9:9: duplicate step id "build"']],
  ["bad/missing-needs.yaml", [
    'bad/missing-needs.yaml:9:22: step "deploy" needs unknown step "prepair"; did you mean "prepare"?',
    'bad/missing-needs.yaml:9:31: step "deploy" needs unknown step "verify"',
    'bad/missing-needs.yaml:12:22: step "loop" needs itself',
  ]],
  ["bad/cycle.yaml", ["bad/cycle.yaml:7:13: dependency cycle: a -> b -> c -> a"]],
  ["bad/unknown-action.yaml", [
    'bad/unknown-action.yaml:6:11: unknown action "nop"; did you mean "noop"?',
    'bad/unknown-action.yaml:8:11: unknown action "kubernetes.apply"',
  ]],
  ["bad/bad-with.yaml", [
    'bad/bad-with.yaml:12:17: sleep: with.duration is not a duration',
    'bad/bad-with.yaml:15:22: log: with.message must be string',
    'bad/bad-with.yaml:15:33: log: with.level must be one of: "info", "warn", "error"',
    'bad/bad-with.yaml:8:7: log: missing required key "message" in with',
    'bad/bad-with.yaml:8:7: log: unknown key "mesage" in with; did you mean "message"?',
  ]],
  // Each expression is located inside its string, also on its own line of a block scalar.
  ["bad/undeclared-dependency.yaml", [
    'bad/undeclared-dependency.yaml:14:23: ${{ steps.first.outputs.message }}: step "second" reads step "first", which it does not depend on',
    'bad/undeclared-dependency.yaml:19:17: ${{ steps.first.outputs.message }}: step "third" reads step "first", which it does not depend on',
    'bad/undeclared-dependency.yaml:24:17: ${{ steps.third.outputs.nope }}: action log has no output "nope"',
    'bad/undeclared-dependency.yaml:24:49: ${{ params.whom }} reads undeclared parameter "whom"; did you mean "who"?',
    'bad/undeclared-dependency.yaml:24:68: ${{ steps.ghost.outputs.x }} reads unknown step "ghost"',
    'bad/undeclared-dependency.yaml:28:17: invalid expression: unknown expression root "env"',
    'bad/undeclared-dependency.yaml:35:13: ${{ steps.fifth.outputs.message }}: step "sixth" reads step "fifth", which it does not depend on',
  ]],
  ["bad/retry-and-name.yaml", [
    'bad/retry-and-name.yaml:3:7: workflow name "something-else" must match its file name "retry-and-name"',
    'bad/retry-and-name.yaml:9:21: unknown error class "timout"; did you mean "timeout"?',
  ]],
  // http.request's outputs are whatever its `outputs:` mapping names, plus `status`.
  ["bad/http-outputs.yaml", [
    'bad/http-outputs.yaml:20:51: ${{ steps.create.outputs.restartID }}: action http.request has no output "restartID" (outputs: status, restartId)',
  ]],
  ["bad/malformed.yaml", ["bad/malformed.yaml:8:3: malformed YAML:"]],
  ["bad/duplicate-keys.yaml", ["bad/duplicate-keys.yaml:6:1: duplicate key"]],
  ["bad/alias.yaml", ["bad/alias.yaml:6:9: YAML alias *why is not allowed"]],
  ["bad/alias-bomb.yaml", ["bad/alias-bomb.yaml:6:10: YAML alias *x0 is not allowed: write the value out in full (81 more aliases in this file)"]],
  ["bad/too-deep.yaml", ["bad/too-deep.yaml:6:71: YAML nested more than 64 levels deep"]],
  // Where the parser's stack runs out depends on the stack size; the line does not.
  ["bad/parser-exhaustion.yaml", ["bad/parser-exhaustion.yaml:6:"]],
  ["bad/latin1.yaml", ["bad/latin1.yaml:4:13: invalid UTF-8 byte 0xe9"]],
  // Columns count characters, as editors do, not bytes: "€" is three bytes, one column.
  ["bad/latin1-after-utf8.yaml", ["bad/latin1-after-utf8.yaml:4:29: invalid UTF-8 byte 0xe9"]],
  ["bad/nul.yaml", ["bad/nul.yaml:4:29: NUL byte in file; YAML files must be text"]],
  ["bad/crlf.yaml", ['bad/crlf.yaml:7:3: unknown key "colour" in params']],
  ["bad/list.yaml", ["bad/list.yaml:1:1: the document is a list"]],
  ["bad/scalar.yaml", ["bad/scalar.yaml:1:1: the document is a scalar"]],
  ["bad/empty.yaml", ["bad/empty.yaml:1:1: file is empty"]],
  ["bad/comment-only.yaml", ["bad/comment-only.yaml:1:1: file is empty"]],
  ["bad/two-documents.yaml", ["bad/two-documents.yaml:3:1: more than one YAML document"]],
  ["bad/unknown-kind.yaml", ['bad/unknown-kind.yaml:2:7: unknown kind "Pipeline"']],
  ["repo/requests/unknown-workflow.yaml", ['repo/requests/unknown-workflow.yaml:4:11: unknown workflow "gret"; did you mean "greet"?']],
  ["repo/requests/bad-params.yaml", [
    "repo/requests/bad-params.yaml:6:9: params.name does not match the pattern ^[a-z]+$",
    "repo/requests/bad-params.yaml:7:10: params.times must be <= 3",
    'repo/requests/bad-params.yaml:8:3: unknown key "colour" in params',
  ]],
  ["repo/requests/unknown-key.yaml", [
    'repo/requests/unknown-key.yaml:1:1: missing required key "name" in params',
    'repo/requests/unknown-key.yaml:5:1: unknown key "parmas" in document; did you mean "params"?',
  ]],
  // The params schema allows any string, but the step it feeds needs a duration.
  ["repo/requests/bad-resolved-input.yaml", [
    'repo/requests/bad-resolved-input.yaml:7:10: step "pause" (sleep) would get invalid input: with.duration is not a duration',
  ]],
  // Only the workflow's own step-output expressions wait for run time; a param's text is data.
  ["repo/requests/expression-in-param.yaml", [
    'repo/requests/expression-in-param.yaml:7:10: step "pause" (sleep) would get invalid input: with.duration is not a duration',
  ]],
];

describe("validate reports each error class at the offending node", () => {
  it.each(CASES)("%s", async (file, expected) => {
    const got = await problemsOf(file);
    expect(got).toHaveLength(expected.length);
    expected.sort().forEach((prefix, i) => expect(got[i]!.startsWith(prefix), `${got[i]} should start with ${prefix}`).toBe(true));
  });

  it("accepts the valid fixtures", async () => {
    expect(await problemsOf("repo/workflows")).toEqual([]);
    expect(await problemsOf("repo/requests/valid.yaml")).toEqual([]);
    expect(await problemsOf("repo/requests/valid-bom.yaml")).toEqual([]);
  });

  // A real file, committed: 1 MiB of comment lines compresses to a few KiB in git.
  it("refuses a file over 1 MiB, from disk and from bytes (as the app reads the base branch)", async () => {
    const file = "bad/too-large.yaml";
    const size = statSync(path.join(FIXTURES, file)).size;
    expect(size).toBeGreaterThan(1024 * 1024);
    const expected = `${file}:1:1: file is ${size} bytes; the limit is 1048576 bytes (1 MiB)`;
    expect(await problemsOf(file)).toEqual([expected]);
    const parsed = parseSource(file, readFileSync(path.join(FIXTURES, file)));
    expect(parsed.ok ? [] : parsed.problems.map(formatProblem)).toEqual([expected]);
  });

  it("refuses what is not a regular file instead of blocking on it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cl-fifo-"));
    const fifo = path.join(dir, "pipe.yaml");
    // A FIFO cannot be committed to git; without a writer, opening it would block forever.
    execFileSync("mkfifo", [fifo]);
    const reports = await validatePaths([fifo, "/dev/zero"], { registry: defaultRegistry(), cwd: dir });
    expect(reports.flatMap((r) => r.problems).map((p) => `${p.line}:${p.col}: ${p.message}`)).toEqual([
      "1:1: not a regular file",
      "1:1: not a regular file",
    ]);
  });

  it("refuses a symbolic link found in a folder, which the app (reading git) would not follow", async () => {
    expect(await problemsOf("links/")).toEqual([
      "links/greet.yaml:1:1: symbolic link: Clutch Luigi reads files from git and does not follow links",
    ]);
  });

  it("explains a document too deep for the parser", async () => {
    expect(await problemsOf("bad/parser-exhaustion.yaml")).toEqual([
      expect.stringMatching(/^bad\/parser-exhaustion\.yaml:6:\d+: YAML nested too deeply to parse; the limit is 64 levels$/),
    ]);
  });

  it("rejects an alias bomb before expanding it", async () => {
    const before = process.memoryUsage().heapUsed;
    await problemsOf("bad/alias-bomb.yaml");
    // Expanded, the bomb is 9^10 strings; rejected up front it costs next to nothing.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("names paths that match nothing", async () => {
    const reports = await validatePaths(["nope.yaml", "repo/**/*.yml"], { registry: defaultRegistry(), cwd: FIXTURES });
    expect(reports.map((r) => r.problems[0]!.message)).toEqual([
      "no such file, or no YAML files there",
      "no such file, or no YAML files there",
    ]);
  });

  it("expands {a,b} alternatives in globs", async () => {
    const reports = await validatePaths(["repo/{requests,workflows}/{valid,greet}.yaml"], { registry: defaultRegistry(), cwd: FIXTURES });
    expect(reports.map((r) => r.file).sort()).toEqual(["repo/requests/valid.yaml", "repo/workflows/greet.yaml"]);
  });

  it("expands globs relative to the working directory", async () => {
    const reports = await validatePaths(["repo/**/*.yaml"], { registry: defaultRegistry(), cwd: FIXTURES });
    expect(reports.map((r) => r.file).sort()).toEqual([
      "repo/requests/bad-params.yaml",
      "repo/requests/bad-resolved-input.yaml",
      "repo/requests/expression-in-param.yaml",
      "repo/requests/unknown-key.yaml",
      "repo/requests/unknown-workflow.yaml",
      "repo/requests/valid-bom.yaml",
      "repo/requests/valid.yaml",
      "repo/workflows/greet.yaml",
    ]);
  });
});
