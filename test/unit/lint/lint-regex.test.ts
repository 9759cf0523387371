import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const root = new URL("../../..", import.meta.url).pathname;
const fixture = (name: string): string => `test/fixtures/lint-regex/${name}`;

/** Runs the lint as `npm run lint:regex` does; returns its exit code and output. */
function lint(...files: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync("node", ["test/lint/lint-regex.mjs", ...files], { cwd: root, encoding: "utf8" }) };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { code: err.status, out: err.stdout };
  }
}

describe("lint:regex", () => {
  it("rejects /^(a+)+$/ at its line and column in the TypeScript", () => {
    const { code, out } = lint(fixture("nested-quantifier.ts"));
    expect(code).toBe(1);
    expect(out).toMatch(/^test\/fixtures\/lint-regex\/nested-quantifier\.ts:2:31: .*exponential.*\(regexp\/no-super-linear-backtracking\)$/m);
  });

  it("rejects the empty-file check that froze the server", () => {
    const { code, out } = lint(fixture("blank-check.ts"));
    expect(code).toBe(1);
    expect(out).toContain("blank-check.ts:2:");
  });

  it("rejects a quadratic move such as /\\s*\\n\\s*/g", () => {
    const { code, out } = lint(fixture("quadratic-move.ts"));
    expect(code).toBe(1);
    expect(out).toContain("(regexp/no-super-linear-move)");
  });

  it("rejects new RegExp of a non-literal unless the line above justifies it", () => {
    const { code, out } = lint(fixture("dynamic.ts"));
    expect(code).toBe(1);
    expect(out).toContain("dynamic.ts:3:10: RegExp built from a non-literal pattern");
    expect(out).not.toContain("dynamic.ts:7:");
  });

  it("accepts linear patterns in typed code", () => {
    expect(lint(fixture("safe.ts"))).toEqual({ code: 0, out: "lint:regex: 1 file, 0 findings\n" });
  });

  it("finds nothing in src/", () => {
    const { code, out } = lint();
    expect(out).toMatch(/lint:regex: \d+ files, 0 findings/);
    expect(code).toBe(0);
  });
});
