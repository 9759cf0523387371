import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { command as owners } from "../../../src/cli/commands/owners.js";
import { command as policy } from "../../../src/cli/commands/policy.js";
import { UsageError, type CliIO, type Command } from "../../../src/cli/command.js";

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
  it("a missing file is an input error, exit 2, no stack trace", async () => {
    const r = await run(owners, ["--codeowners", "nope", "a"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("clutch-luigi owners: cannot read nope: ENOENT\n");
  });
  it("no paths is a usage error", async () => {
    await expect(run(owners, ["--codeowners", "x"])).rejects.toBeInstanceOf(UsageError);
  });
});

describe("clutch-luigi policy", () => {
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
  const inputErrors: { name: string; argv: string[]; stderr: RegExp }[] = [
    { name: "an invalid --config", argv: ["--config", "cli/invalid.clutch-luigi.yml"], stderr: /invalid.clutch-luigi.yml is not a valid policy:\n  minApprovals: must be >= 1\n  staleApprovals: must be one of/ },
    { name: "a missing file", argv: ["--config", "cli/none.yml"], stderr: /cannot read cli\/none.yml: ENOENT/ },
  ];
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
