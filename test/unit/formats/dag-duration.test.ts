import { describe, expect, it } from "vitest";
import { ancestors, findCycle, stages } from "../../../src/formats/dag.js";
import { parseDuration } from "../../../src/formats/duration.js";

describe("dag", () => {
  const diamond = [
    { id: "a" },
    { id: "b", needs: ["a"] },
    { id: "c", needs: ["a"] },
    { id: "d", needs: ["b", "c"] },
  ];

  it("groups independent steps into stages", () => {
    expect(stages(diamond).map((s) => s.map((n) => n.id))).toEqual([["a"], ["b", "c"], ["d"]]);
  });

  it("computes transitive dependencies", () => {
    expect([...ancestors(diamond).get("d")!].sort()).toEqual(["a", "b", "c"]);
    expect([...ancestors(diamond).get("a")!]).toEqual([]);
  });

  it("finds a cycle and prints it in execution order", () => {
    expect(findCycle(diamond)).toBeUndefined();
    expect(findCycle([{ id: "x", needs: ["z"] }, { id: "y", needs: ["x"] }, { id: "z", needs: ["y"] }])).toEqual([
      "x", "y", "z", "x",
    ]);
    expect(findCycle([{ id: "self", needs: ["self"] }])).toEqual(["self", "self"]);
  });
});

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1500],
    ["2d", 172_800_000],
  ])("%s = %i ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["30", "", "5 minutes", "-1s", "1h 30m"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
  });
});
