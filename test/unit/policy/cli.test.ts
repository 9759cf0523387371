import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { command as owners } from "../../../src/cli/commands/owners.js";
import { command as policy } from "../../../src/cli/commands/policy.js";
import { MissingFileError, UsageError, type CliIO, type Command } from "../../../src/cli/command.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/policy/", import.meta.url));

async function run(cmd: Command, argv: string[], cwd = FIXTURES): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd, env: {} };
  const code = await cmd.run(argv, io);
  return { code, stdout, stderr };
}

describe("clutch-luigi owners", () => {
  it("prints one JSON line per path with the deciding line (DESIGN.md §4)", async () => {
    const r = await run(owners, ["--codeowners", "github-docs-example.CODEOWNERS", "src/app.js", "./apps/github/x.rb", "docs/a.md"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      { path: "src/app.js", owners: ["@js-owner"], line: 6 },
      { path: "apps/github/x.rb", owners: [], line: 16 },
      { path: "docs/a.md", owners: ["@doctocat"], line: 12 },
    ]);
  });
  it("prints line null for a path no line matches", async () => {
    const r = await run(owners, ["--codeowners", "github-docs-subdir-owner.CODEOWNERS", "README.md"]);
    expect(JSON.parse(r.stdout)).toEqual({ path: "README.md", owners: [], line: null });
  });
  it("reports CODEOWNERS errors as file:line:col and exits 1", async () => {
    const r = await run(owners, ["--codeowners", "syntax-errors.CODEOWNERS", "ok/x"]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe('syntax-errors.CODEOWNERS:3:1: escaped "#" is not supported in CODEOWNERS; the line would be read as a comment');
    expect(JSON.parse(r.stdout)).toEqual({ path: "ok/x", owners: ["@alice"], line: 2 });
  });
  it("a missing file is the CLI's one 'no such file' error (exit 2 from main, no stack trace)", async () => {
    await expect(run(owners, ["--codeowners", "nope", "a"])).rejects.toThrow(new MissingFileError("nope"));
  });
  it("a CODEOWNERS of 3 MB or more is refused as GitHub refuses it: every path unowned, exit 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cl-owners-"));
    try {
      // Sparse: the size is what matters, and the command must not need to read it.
      const file = join(dir, "CODEOWNERS");
      writeFileSync(file, "* @alice\n");
      truncateSync(file, 3 * 1024 * 1024);
      const r = await run(owners, ["--codeowners", "CODEOWNERS", "a.txt"], dir);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toEqual({ path: "a.txt", owners: [], line: null });
      expect(r.stderr).toBe("CODEOWNERS:1:1: CODEOWNERS is 3145728 bytes; GitHub ignores files of 3 MB or more, so no line of it applies (consolidate entries with wildcard patterns)\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("without --codeowners the file is found where GitHub looks, .github/ first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cl-owners-"));
    try {
      mkdirSync(join(dir, ".github"));
      mkdirSync(join(dir, "docs"));
      writeFileSync(join(dir, "CODEOWNERS"), "* @root\n");
      writeFileSync(join(dir, "docs/CODEOWNERS"), "* @docs\n");
      writeFileSync(join(dir, ".github/CODEOWNERS"), "\n* @dotgithub\n");
      const r = await run(owners, ["x/y.txt"], dir);
      expect(JSON.parse(r.stdout)).toEqual({ path: "x/y.txt", owners: ["@dotgithub"], line: 2 });
      rmSync(join(dir, ".github/CODEOWNERS"));
      expect(JSON.parse((await run(owners, ["x/y.txt"], dir)).stdout).owners).toEqual(["@root"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("a directory given as CODEOWNERS is an input error, exit 2", async () => {
    const r = await run(owners, ["--codeowners", "cli", "a"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("clutch-luigi owners: cli is not a regular file\n");
  });
  it("no paths is a usage error", async () => {
    await expect(run(owners, ["--codeowners", "x"])).rejects.toBeInstanceOf(UsageError);
  });
});

describe("clutch-luigi policy", () => {
  it("the facts example of DESIGN.md §4, verbatim, gives the verdict JSON of §4", async () => {
    const r = await run(policy, ["--facts", "cli/design-example.facts.json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const v = JSON.parse(r.stdout);
    // §4 names these five fields, in this order; further fields follow them.
    expect(Object.keys(v).slice(0, 5)).toEqual(["approved", "approvedBy", "missing", "blocking", "explanation"]);
    expect(v).toMatchObject({ approved: true, approvedBy: ["bob"], missing: [], blocking: [] });
    expect(v.explanation.split("\n")).toEqual([
      "Approved by bob.",
      "✓ CODEOWNERS line 1 (`requests/prod/ @acme/dba`) owns requests/prod/rotate.yaml: 1 approval from @acme/dba; approved by bob.",
      "✓ the repository policy applies to every pull request: 1 approval from any reviewer other than the author; approved by bob.",
      "Note: reviewers' repository permissions were not provided, so write access was not checked.",
    ]);
  });
  it("each missing entry starts with §4's {rule, anyOf, count}; blocking entries are {code, message}", async () => {
    const r = await run(policy, ["--facts", "cli/rotate-approved.facts.json", "--codeowners", "cli/proposed.CODEOWNERS", "--config", "cli/stricter.clutch-luigi.yml"]);
    expect(r.code).toBe(1);
    const v = JSON.parse(r.stdout);
    expect(v.missing.length).toBe(2);
    for (const m of v.missing) {
      expect(Object.keys(m).slice(0, 3)).toEqual(["rule", "anyOf", "count"]);
      expect(typeof m.rule).toBe("string");
      expect(Array.isArray(m.anyOf)).toBe(true);
      expect(Number.isInteger(m.count) && m.count > 0).toBe(true);
    }
    const blocked = await run(policy, ["--facts", "cli/rotate-approved.facts.json", "--org-config", "cli/org-defaults.yml"]);
    const b = JSON.parse(blocked.stdout).blocking;
    expect(b.map((x: object) => Object.keys(x))).toEqual([["code", "message"]]);
  });
  it("prints the verdict for the DESIGN.md example and exits 0 when approved", async () => {
    const r = await run(policy, ["--facts", "cli/rotate-approved.facts.json"]);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({ approved: true, approvedBy: ["bob"], missing: [], blocking: [] });
    expect(v.summary).toBe("Approved by bob");
    expect(v.explanation).toMatch(/CODEOWNERS line 1 \(`requests\/prod\/ @acme\/dba`\) owns requests\/prod\/rotate.yaml/);
  });
  it("--config tries a stricter policy offline: exit 1 with what is missing", async () => {
    const r = await run(policy, ["--facts", "cli/rotate-approved.facts.json", "--config", "cli/stricter.clutch-luigi.yml"]);
    expect(r.code).toBe(1);
    const v = JSON.parse(r.stdout);
    expect(v.missing).toEqual([{ rule: "path:/requests/prod/", anyOf: [], count: 1, paths: ["requests/prod/rotate.yaml"] }]);
    expect(v.summary).toBe("Not approved: 1 more approval from any reviewer other than the author");
  });
  it("--codeowners tries a CODEOWNERS change offline", async () => {
    const r = await run(policy, ["--facts", "cli/rotate-approved.facts.json", "--codeowners", "cli/proposed.CODEOWNERS", "--explain"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/cli\/proposed.CODEOWNERS line 2 \(`requests\/prod\/ @acme\/sre`\) owns requests\/prod\/rotate.yaml: needs 1 approval from @acme\/sre; none yet/);
  });
  it("--org-config merges organisation defaults under the repository's policy", async () => {
    const r = await run(policy, ["--facts", "cli/rotate-approved.facts.json", "--org-config", "cli/org-defaults.yml"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).blocking.map((b: { code: string }) => b.code)).toEqual(["freeze"]);
    const monday = await run(policy, ["--facts", "cli/rotate-approved.facts.json", "--org-config", "cli/org-defaults.yml", "--now", "2026-11-30T12:00:00Z"]);
    expect(monday.code).toBe(0);
  });
  it("--org-config replaces the snapshot's own orgConfig instead of stacking a third layer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cl-policy-"));
    try {
      const facts = JSON.parse(readFileSync(join(FIXTURES, "cli/rotate-approved.facts.json"), "utf8"));
      facts.orgConfig = { minApprovals: 3 };
      writeFileSync(join(dir, "facts.json"), JSON.stringify(facts));
      writeFileSync(join(dir, "org.yml"), "staleApprovals: dismiss\n");
      const withSnapshotOrg = await run(policy, ["--facts", "facts.json"], dir);
      expect(JSON.parse(withSnapshotOrg.stdout).missing).toEqual([{ rule: "minApprovals", anyOf: [], count: 2 }]);
      const replaced = await run(policy, ["--facts", "facts.json", "--org-config", "org.yml"], dir);
      expect(replaced.code, replaced.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("an invalid --org-config is an input error naming that file", async () => {
    const r = await run(policy, ["--facts", "cli/rotate-approved.facts.json", "--org-config", "cli/invalid.clutch-luigi.yml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^clutch-luigi policy: cli\/invalid.clutch-luigi.yml is not a valid policy:\n  minApprovals: must be >= 1/);
  });
  const inputErrors: { name: string; argv: string[]; stderr: RegExp }[] = [
    { name: "an invalid --config", argv: ["--config", "cli/invalid.clutch-luigi.yml"], stderr: /invalid.clutch-luigi.yml is not a valid policy:\n  minApprovals: must be >= 1\n  staleApprovals: must be one of/ },
  ];
  it("a missing --config is the CLI's one 'no such file' error", async () => {
    await expect(run(policy, ["--facts", "cli/rotate-approved.facts.json", "--config", "cli/none.yml"])).rejects.toThrow(new MissingFileError("cli/none.yml"));
  });
  for (const row of inputErrors) {
    it(`${row.name} is an input error, exit 2`, async () => {
      const r = await run(policy, ["--facts", "cli/rotate-approved.facts.json", ...row.argv]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(row.stderr);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
  it("unparseable facts are an input error with a position", async () => {
    const r = await run(policy, ["--facts", "cli/truncated.facts.json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^clutch-luigi policy: cli\/truncated.facts.json: .*line 1/);
  });
  const hostile: { name: string; file: string; stderr: RegExp }[] = [
    { name: "an empty facts file", file: "cli/empty.facts.json", stderr: /^clutch-luigi policy: cli\/empty.facts.json is empty\n$/ },
    { name: "facts that are an array, not an object", file: "cli/array.facts.json", stderr: /cli\/array.facts.json is not a valid facts snapshot:\n  facts: must be object/ },
    { name: "facts nested 5,000 levels deep", file: "cli/deeply-nested.facts.json", stderr: /^clutch-luigi policy: cli\/deeply-nested.facts.json: .+/ },
    { name: "a directory given as the facts file", file: "cli", stderr: /^clutch-luigi policy: cli is not a regular file\n$/ },
  ];
  for (const row of hostile) {
    it(`${row.name} is an input error with a clear message, exit 2`, async () => {
      const r = await run(policy, ["--facts", row.file]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(row.stderr);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
  it("facts missing fields are an input error naming each", async () => {
    const r = await run(policy, ["--facts", "cli/missing-fields.facts.json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must have required property 'author'/);
    expect(r.stderr).toMatch(/reviews\.0\.state: must be equal to one of the allowed values/);
  });
  it("--facts is required", async () => {
    await expect(run(policy, [])).rejects.toBeInstanceOf(UsageError);
  });
});
