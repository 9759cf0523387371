/** The validate and plan commands as a user runs them: exit codes and exact output. */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");

async function cli(argv: string[], cwd = ROOT): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    cwd,
    env: {},
  });
  return { code, out, err };
}

describe("clutch-luigi validate", () => {
  it("accepts the shipped catalog and its example requests", async () => {
    const r = await cli(["validate", "workflows/"]);
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^\d+ files valid/);
  });

  it("exits 1 with file:line:col lines for broken files", async () => {
    const r = await cli(["validate", "bad/cycle.yaml", "bad/unknown-action.yaml"], path.join(ROOT, "test/fixtures/formats"));
    expect(r.code).toBe(1);
    expect(r.out.trim().split("\n")).toEqual([
      "bad/cycle.yaml:7:13: dependency cycle: a -> b -> c -> a",
      'bad/unknown-action.yaml:6:11: unknown action "nop"; did you mean "noop"?',
      'bad/unknown-action.yaml:8:11: unknown action "kubernetes.apply"',
    ]);
  });

  it("exits 2 on usage errors", async () => {
    expect((await cli(["validate"])).code).toBe(2);
    expect((await cli(["validate", "--nope", "x"])).code).toBe(2);
    expect((await cli(["frobnicate"])).code).toBe(2);
    const typo = await cli(["validate", "--workflows", "workflow", "workflows/examples/"]);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/^clutch-luigi validate: --workflows workflow: no such folder\n/);
    const missing = await cli(["plan", "workflows/examples/nope.yaml"]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^clutch-luigi plan: no such file: workflows\/examples\/nope.yaml\n/);
  });
});

describe("clutch-luigi plan", () => {
  it("prints stages, a tree and a Mermaid graph", async () => {
    const r = await cli(["plan", "repo/requests/valid.yaml"], path.join(ROOT, "test/fixtures/formats"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("  1. hello, wait-a-bit\n  2. bye\n");
    expect(r.out).toContain("└── bye  log  (also needs wait-a-bit)");
    expect(r.out).toContain('with {"message":"hello ada"}');
    expect(r.out).toContain("```mermaid\ngraph TD\n");
    expect(r.out).toContain("  s0 --> s2\n  s1 --> s2\n");
  });

  it("prints JSON with params substituted and step outputs left as expressions", async () => {
    const r = await cli(["plan", "--format", "json", "repo/requests/valid.yaml"], path.join(ROOT, "test/fixtures/formats"));
    const plan = JSON.parse(r.out);
    expect(plan.lock).toBe("greet:ada");
    // `pause` is not in the request: the workflow's params schema supplies its default.
    expect(plan.params).toEqual({ name: "ada", pause: "1ms" });
    expect(plan.steps.find((s: { id: string }) => s.id === "pause").with).toEqual({ duration: "1ms" });
    expect(plan.steps.find((s: { id: string }) => s.id === "bye").with.message).toBe(
      "${{ steps.hello.outputs.message }} and goodbye",
    );
  });

  it("refuses an invalid request with its problems", async () => {
    const r = await cli(["plan", "repo/requests/bad-params.yaml"], path.join(ROOT, "test/fixtures/formats"));
    expect(r.code).toBe(1);
    expect(r.out).toContain("repo/requests/bad-params.yaml:7:10: params.times must be <= 3");
  });
});
