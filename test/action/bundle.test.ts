/** The committed bundle is what `npm run build:action` makes of the current sources, and action.yml declares what the code reads. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BUNDLE, ROOT } from "./runner-env.js";

describe("action/dist/index.js", () => {
  it("is byte-for-byte a fresh build of action/src", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cl-build-"));
    try {
      const fresh = path.join(dir, "index.js");
      execFileSync(process.execPath, [path.join(ROOT, "action/build.mjs"), fresh], { cwd: ROOT });
      const committed = readFileSync(BUNDLE);
      const built = readFileSync(fresh);
      // On failure: run `npm run build:action` and commit action/dist/index.js.
      expect(built.equals(committed), "action/dist/index.js is stale: run npm run build:action").toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is built twice the same way (no timestamps or paths of the machine)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cl-build-"));
    try {
      for (const n of ["a.js", "b.js"]) execFileSync(process.execPath, [path.join(ROOT, "action/build.mjs"), path.join(dir, n)], { cwd: ROOT });
      const a = readFileSync(path.join(dir, "a.js"));
      expect(a.equals(readFileSync(path.join(dir, "b.js")))).toBe(true);
      expect(a.toString("utf8")).not.toContain(ROOT);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("action/action.yml", () => {
  const action = parse(readFileSync(path.join(ROOT, "action/action.yml"), "utf8")) as {
    inputs: Record<string, { default?: string }>;
    outputs: Record<string, unknown>;
    runs: { using: string; main: string };
  };

  it("runs the committed bundle on node20 or newer", () => {
    expect(Number(/^node(\d+)$/.exec(action.runs.using)?.[1])).toBeGreaterThanOrEqual(20);
    expect(path.resolve(ROOT, "action", action.runs.main)).toBe(BUNDLE);
  });

  it("declares exactly the inputs the code reads, with the documented defaults", () => {
    const src = ["main.ts", "context.ts", "files-commands.ts", "policy.ts"].map((f) => readFileSync(path.join(ROOT, "action/src", f), "utf8")).join("\n");
    const read = [...src.matchAll(/getInput\([^,]+, "([a-z-]+)"\)/g)].map((m) => m[1]!);
    expect(new Set(read)).toEqual(new Set(Object.keys(action.inputs)));
    expect(Object.keys(action.inputs).sort()).toEqual(["command", "config", "facts", "paths", "token", "workflows"]);
    expect(action.inputs.paths!.default).toBe("requests/** workflows/**");
    expect(action.inputs.token!.default).toBe("${{ github.token }}");
    expect(action.inputs.command!.default).toBe("validate");
  });

  it("declares every output the code sets", () => {
    const src = ["files-commands.ts", "policy.ts"].map((f) => readFileSync(path.join(ROOT, "action/src", f), "utf8")).join("\n");
    const set = [...src.matchAll(/setOutput\("([a-z-]+)"/g)].map((m) => m[1]!);
    expect(new Set(set)).toEqual(new Set(Object.keys(action.outputs)));
    for (const o of ["problems", "approved", "verdict"]) expect(action.outputs).toHaveProperty(o);
  });
});
