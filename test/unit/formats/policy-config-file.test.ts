/** `clutch-luigi validate .github/clutch-luigi.yml`: the policy file checked with positions and suggestions. */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/formats/policy");

async function validate(file: string): Promise<{ code: number; out: string }> {
  let out = "";
  const sink = { write: (s: string) => ((out += s), true) };
  const code = await main(["validate", file], { stdout: sink, stderr: sink, cwd: FIXTURES, env: {} });
  return { code, out };
}

describe("validate on the repository policy file", () => {
  it("accepts a valid one", async () => {
    expect(await validate("good/.github/clutch-luigi.yml")).toEqual({ code: 0, out: "1 file valid\n" });
  });

  it("names a misspelt key with a suggestion, at its line, before the rules the schema cannot say", async () => {
    const r = await validate("bad/.github/clutch-luigi.yml");
    expect(r.code).toBe(1);
    expect(r.out).toContain('bad/.github/clutch-luigi.yml:3:1: unknown key "vetoTeam" in document; did you mean "vetoTeams"?');
  });

  it("then a time zone that does not exist, at its column", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(path.join(tmpdir(), "cl-policy-"));
    writeFileSync(path.join(dir, "clutch-luigi.yml"), 'freeze:\n  - { from: "2026-12-24", to: "2026-12-27", timeZone: Mars/Olympus }\n');
    let out = "";
    const sink = { write: (s: string) => ((out += s), true) };
    expect(await main(["validate", "clutch-luigi.yml"], { stdout: sink, stderr: sink, cwd: dir, env: {} })).toBe(1);
    expect(out).toContain('clutch-luigi.yml:2:55: freeze.0.timeZone: unknown time zone "Mars/Olympus"');
  });
});
