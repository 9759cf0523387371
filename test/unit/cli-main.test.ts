/** The dispatcher reaches every documented command (DESIGN.md §4). */
import path from "node:path";
import { describe, expect, it } from "vitest";
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
