/** What a person typing at the command line expects: a version, a suggestion for a typo, one answer for a missing file. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd: ROOT, env: {} });
  return { code, out, err };
}

describe("clutch-luigi for a person", () => {
  it("prints the package's version for --version, -V and version", async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V", "version"]) {
      expect(await cli([flag])).toEqual({ code: 0, out: `clutch-luigi ${version}\n`, err: "" });
    }
  });

  it("suggests the command a typo was meant to be", async () => {
    const r = await cli(["valdiate", "workflows"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe('clutch-luigi: unknown command "valdiate"; did you mean "validate"?\n');
  });

  it("lists the commands when a word is nothing like one", async () => {
    const r = await cli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe('clutch-luigi: unknown command "frobnicate"\n');
    expect(r.out).toMatch(/^Usage: clutch-luigi <command>/);
  });

  it("does not take an inherited property for a command", async () => {
    const r = await cli(["constructor"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^clutch-luigi: unknown command "constructor"/);
  });

  it.each([
    ["validate", ["validate", "requests/nope.yaml"]],
    ["plan", ["plan", "requests/nope.yaml"]],
    ["run", ["run", "requests/nope.yaml"]],
    ["policy", ["policy", "--facts", "requests/nope.yaml"]],
  ])("%s answers a missing file with one message and exit status 2", async (name, argv) => {
    const r = await cli(argv);
    expect(r).toEqual({ code: 2, out: "", err: `clutch-luigi ${name}: no such file: requests/nope.yaml\n` });
  });

  it("prints the policy config's JSON Schema for editors", async () => {
    const r = await cli(["schema", "config"]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.out) as { $id: string; properties: Record<string, unknown> };
    expect(schema.$id).toMatch(/clutch-luigi\.schema\.json$/);
    expect(Object.keys(schema.properties)).toContain("staleApprovals");
  });

  it("validate still expands a glob that matches nothing into a problem, not a missing file", async () => {
    const r = await cli(["validate", "--quiet", "requests/**/*.nothing.yaml"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no such file, or no YAML files there/);
  });
});
