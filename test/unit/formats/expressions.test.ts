import { describe, expect, it } from "vitest";
import {
  ExpressionError,
  findExpressions,
  parseTemplate,
  referencedSteps,
  substitute,
  type ExpressionScope,
} from "../../../src/formats/expressions.js";

const scope: ExpressionScope = {
  params: { db: "orders", count: 3, tags: ["a", "b"], hostile: "'; DROP TABLE x; --", nested: { k: "v" } },
  steps: { pw: { outputs: { value: "s3cret" } } },
  request: { reason: "OPS-1", path: "requests/x.yaml" },
};

describe("expressions", () => {
  it("parses references with dots and indexes", () => {
    const parts = parseTemplate("db:${{ params.db }}/${{params.tags[1]}}/${{ params.nested['k'] }}");
    expect(parts.filter((p) => typeof p !== "string").map((p) => typeof p !== "string" && p.path)).toEqual([
      ["db"],
      ["tags", 1],
      ["nested", "k"],
    ]);
  });

  it.each([
    ["${{ params.db", /unclosed/],
    ["${{ env.HOME }}", /unknown expression root "env"/],
    ["${{ params.db || 'x' }}", /references like params.name, not code/],
    ["${{ steps.pw.value }}", /steps.<id>.outputs.<name>/],
    ["${{ request.secret }}", /unknown request field/],
    ["${{ params }}", /name a parameter/],
    ["${{ params.tags[x] }}", /index must be a number or a quoted key/],
  ])("rejects %s", (text, message) => {
    expect(() => parseTemplate(text)).toThrow(message);
  });

  it("keeps the type of a whole-string expression and stringifies embedded ones", () => {
    expect(substitute({ n: "${{ params.count }}", s: "n=${{ params.count }}", t: "${{ params.tags }}" }, scope)).toEqual({
      n: 3,
      s: "n=3",
      t: ["a", "b"],
    });
  });

  it("substitutes hostile values as inert data, without re-parsing them", () => {
    const withExpr = { ...scope, params: { ...scope.params, sneaky: "${{ steps.pw.outputs.value }}" } };
    expect(substitute(["--role=${{ params.hostile }}", "${{ params.sneaky }}"], withExpr)).toEqual([
      "--role='; DROP TABLE x; --",
      "${{ steps.pw.outputs.value }}",
    ]);
  });

  it("fails loudly on a reference that does not resolve", () => {
    expect(() => substitute("${{ steps.other.outputs.value }}", scope)).toThrow(ExpressionError);
    expect(() => substitute("${{ params.nested.missing }}", scope)).toThrow(/no "missing"/);
  });

  it("does not resolve prototype properties", () => {
    expect(() => substitute("${{ params.constructor }}", scope)).toThrow(/does not resolve/);
  });

  it("finds expressions with their location and the steps they read", () => {
    const value = { a: ["x", "${{ steps.pw.outputs.value }}"], b: { c: "${{ params.db }}" } };
    expect(findExpressions(value).map((f) => f.at)).toEqual([["a", 1], ["b", "c"]]);
    expect([...referencedSteps(value)]).toEqual(["pw"]);
  });
});
