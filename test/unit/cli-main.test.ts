/** The dispatcher reaches every documented command (DESIGN.md §4). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { main } from "../../src/cli/main.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await main(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true }, cwd: ROOT, env: {} });
  return { code, out };
}

describe("clutch-luigi", () => {
  it("lists every command of the contract in --help", async () => {
    const { code, out } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const name of ["validate", "plan", "owners", "policy", "run", "worker", "migrate"]) {
      expect(out).toMatch(new RegExp(`^  ${name} `, "m"));
    }
  });

  it("dispatches owners and policy", async () => {
    const owners = await cli(["owners", "--codeowners", "test/fixtures/policy/github-docs-example.CODEOWNERS", "docs/x.md"]);
    expect(owners.code).toBe(0);
    expect(JSON.parse(owners.out)).toEqual({ path: "docs/x.md", owners: ["@doctocat"], line: 12 });
    const policy = await cli(["policy", "--facts", "test/fixtures/policy/cli/rotate-approved.facts.json"]);
    expect(policy.code).toBe(0);
    expect(JSON.parse(policy.out)).toMatchObject({ approved: true, approvedBy: ["bob"] });
  });
});

describe("clutch-luigi demo", () => {
  it("validates the catalog, plans an example and runs two requests on a fresh embedded database", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cl-demo-test-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    // A folder with things in it is refused before anything runs.
    expect((await cli(["demo", "--dir", ROOT])).code).toBe(2);
    const { code, out } = await cli(["demo", "--dir", dir]);
    expect(out).toContain(`(the runs live in the embedded database under ${path.join(dir, ".clutch-luigi")})`);
    expect(code).toBe(0);
    expect(out).toContain("✓ workflows/rotate-db-credentials.yaml (Workflow)");
    expect(out).toContain("```mermaid");
    expect(out).toMatch(/canary retrying \(connection/);
    expect(out).toMatch(/run [0-9a-f-]{36} succeeded/);
    // The failing run undoes its completed steps, leaves first, and says so.
    const undo = ["us rolled_back", "eu rolled_back", "canary rolled_back"].map((l) => out.indexOf(l));
    expect(undo.every((i) => i > 0)).toBe(true);
    expect(Math.max(undo[0]!, undo[1]!)).toBeLessThan(undo[2]!);
    expect(out).toMatch(/run [0-9a-f-]{36} rolled_back: step verify failed \(http-4xx\)/);
  }, 60_000);
});
