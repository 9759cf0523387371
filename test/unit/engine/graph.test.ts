import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../src/engine/graph.js";
import type { StepSpec } from "../../../src/formats/types.js";

const s = (id: string, needs: string[] = [], extra: Partial<StepSpec> = {}): StepSpec => ({ id, uses: "noop", needs, ...extra });

describe("buildGraph", () => {
  it("orders topologically, breaking ties by file order", () => {
    const g = buildGraph({ steps: [s("d", ["b", "c"]), s("c", ["a"]), s("b", ["a"]), s("a"), s("z")] });
    expect(g.order).toEqual(["a", "c", "b", "d", "z"]);
    expect(g.nodes.get("a")!.dependents.sort()).toEqual(["b", "c"]);
    expect([...g.nodes.get("d")!.ancestors].sort()).toEqual(["a", "b", "c"]);
    expect(g.nodes.get("z")!.ancestors.size).toBe(0);
  });

  it("parses durations", () => {
    const g = buildGraph({ timeout: "30m", steps: [s("a", [], { after: "4h", timeout: "30s" })] });
    expect(g.timeoutMs).toBe(1_800_000);
    expect(g.nodes.get("a")).toMatchObject({ afterMs: 14_400_000, timeoutMs: 30_000 });
  });

  it.each([
    [[s("a", ["b"]), s("b", ["a"])], /dependency cycle among steps: a, b/],
    [[s("a", ["a"])], /needs itself/],
    [[s("a", ["ghost"])], /needs unknown step "ghost"/],
    [[s("a"), s("a")], /defined twice/],
    [[s("a", [], { timeout: "30" })], /step "a" timeout: invalid duration/],
  ])("rejects %#", (steps, message) => {
    expect(() => buildGraph({ steps })).toThrow(message);
  });
});
