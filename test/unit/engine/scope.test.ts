import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../src/engine/graph.js";
import { buildScope, outputsNeeded, resolveInput } from "../../../src/engine/scope.js";

const graph = buildGraph({
  steps: [
    { id: "a", uses: "x" },
    { id: "b", uses: "x", needs: ["a"] },
    { id: "c", uses: "x" },
    { id: "d", uses: "x", needs: ["b"] },
  ],
});
const outputs = { a: { v: 1 }, b: { v: "two" }, c: { v: "secret-of-c" } };

describe("expression scope", () => {
  it("exposes only transitive dependencies", () => {
    const scope = buildScope(graph, "d", {}, {}, outputs);
    expect(Object.keys(scope.steps).sort()).toEqual(["a", "b"]);
  });

  it("resolves values, keeping types for whole-string expressions", () => {
    const input = resolveInput(graph, "d", { n: "${{ steps.a.outputs.v }}", s: "x-${{ steps.b.outputs.v }}", p: "${{ params.db }}", r: "${{ request.runId }}" }, { db: "orders" }, { runId: "r1" }, outputs);
    expect(input).toEqual({ n: 1, s: "x-two", p: "orders", r: "r1" });
  });

  it("refuses a read of a step that is not upstream", () => {
    expect(() => outputsNeeded(graph, "d", { x: "${{ steps.c.outputs.v }}" })).toThrow(/does not depend on "c"/);
    expect(() => resolveInput(graph, "d", { x: "${{ steps.c.outputs.v }}" }, {}, {}, outputs)).toThrow(/add it to needs/);
  });

  it("lets a rollback read its own step's outputs, and only then", () => {
    expect(outputsNeeded(graph, "b", { x: "${{ steps.b.outputs.v }}" }, true)).toEqual(["b"]);
    expect(() => outputsNeeded(graph, "b", { x: "${{ steps.b.outputs.v }}" })).toThrow(/does not depend on "b"/);
  });
});
