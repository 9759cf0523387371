/**
 * The plan renderings for a diamond with a multi-parent step (test/fixtures/formats/plan/),
 * asserted whole: a reviewer reads these, so every line is part of the contract.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { buildPlan, mermaidLabel, renderPlanMermaid, renderPlanText, type Plan } from "../../../src/formats/plan.js";
import { loadRequestForRun } from "../../../src/formats/validate-files.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/formats");
const REQUEST = "plan/requests/release.yaml";

async function releasePlan(): Promise<Plan> {
  const loaded = await loadRequestForRun(REQUEST, { registry: defaultRegistry(), cwd: FIXTURES });
  // Also proves a step may read a transitive dependency (publish reads build via the checks).
  expect(loaded.problems).toEqual([]);
  return buildPlan(REQUEST, loaded.request, loaded.workflow);
}

/**
 * The subset of Mermaid flowchart syntax the renderer may emit: a header, quoted node
 * labels free of raw quotes and line breaks, and plain edges between declared nodes.
 */
function checkMermaidSyntax(text: string): void {
  const lines = text.split("\n");
  expect(lines.pop()).toBe("");
  expect(lines[0]).toBe("graph TD");
  const declared = new Set<string>();
  for (const line of lines.slice(1)) {
    const node = /^ {2}(s\d+)\["([^"\n]*)"\]$/.exec(line);
    const edge = /^ {2}(s\d+) --> (s\d+)$/.exec(line);
    expect(node ?? edge, `not valid Mermaid: ${line}`).not.toBeNull();
    if (node) {
      expect(declared.has(node[1]!)).toBe(false);
      declared.add(node[1]!);
    } else {
      expect(declared.has(edge![1]!) && declared.has(edge![2]!), line).toBe(true);
    }
  }
}

describe("plan of a diamond with a multi-parent step", () => {
  it("groups parallel steps into stages", async () => {
    expect((await releasePlan()).stages).toEqual([["build", "notes"], ["unit-tests", "smoke-tests"], ["publish"], ["announce"]]);
  });

  it("draws the text tree with every dependency visible", async () => {
    expect(renderPlanText(await releasePlan())).toBe(
      [
        "Plan for plan/requests/release.yaml",
        "  workflow  release — A diamond (build feeds two checks that both gate publish) beside an independent branch",
        "  reason    REL-7 ship 1.4.0",
        "  params    version=1.4.0",
        "  lock      release:1.4.0",
        "",
        "Stages (steps in one stage run in parallel):",
        "  1. build, notes",
        "  2. unit-tests, smoke-tests",
        "  3. publish",
        "  4. announce",
        "",
        "Steps:",
        "  build  log  [retry 2× on connection]",
        '  │   with {"message":"build 1.4.0"}',
        "  ├── unit-tests  noop",
        "  │   └── publish  log  [rollback log]  (also needs smoke-tests, notes)",
        '  │       │   with {"message":"publish ${{ steps.build.outputs.message }}"}',
        "  │       └── announce  log",
        '  │               with {"message":"released 1.4.0"}',
        "  └── smoke-tests  sleep  [timeout 1m]",
        '      │   with {"duration":"10ms"}',
        "      └── publish  (see under unit-tests)",
        "  notes  noop",
        "  └── publish  (see under unit-tests)",
        "",
      ].join("\n"),
    );
  });

  it("draws a Mermaid graph TD with one edge per need", async () => {
    const mermaid = renderPlanMermaid(await releasePlan());
    expect(mermaid).toBe(
      [
        "graph TD",
        '  s0["build<br/>log"]',
        '  s1["unit-tests<br/>noop"]',
        '  s2["smoke-tests<br/>sleep"]',
        '  s3["notes<br/>noop"]',
        '  s4["publish<br/>log"]',
        '  s5["announce<br/>log"]',
        "  s0 --> s1",
        "  s0 --> s2",
        "  s1 --> s4",
        "  s2 --> s4",
        "  s3 --> s4",
        "  s4 --> s5",
        "",
      ].join("\n"),
    );
    checkMermaidSyntax(mermaid);
  });
});

describe("plan of a chain with redundant needs (the catalog's rotate-db-credentials)", () => {
  it("draws a chain; needs the chain already implies are named but not repeated as references", async () => {
    const ROOT = path.resolve(import.meta.dirname, "../../..");
    const file = "workflows/examples/rotate-db-credentials.yaml";
    const loaded = await loadRequestForRun(file, { registry: defaultRegistry(), cwd: ROOT });
    expect(loaded.problems).toEqual([]);
    const tree = renderPlanText(buildPlan(file, loaded.request, loaded.workflow)).split("Steps:\n")[1]!;
    expect(tree.split("\n").filter((l) => !l.includes(" with ")).map((l) => l.replace(/  \[.*?\]/, ""))).toEqual([
      "  password  secret.generate",
      "  └── stage  http.request",
      "      └── alter-role  postgres.rotate-password  (also needs password)",
      "          └── promote  http.request  (also needs stage)",
      "",
    ]);
  });
});

describe("plan renderings of hostile text", () => {
  const hostile: Plan = {
    requestPath: "requests/x.yaml",
    workflow: "w",
    reason: "ok\n  lock      forged\u001b]0;pwned\u0007",
    params: { note: "a\u009b31mred" },
    stages: [["end"], ['a"b']],
    steps: [
      { id: "end", uses: "noop", needs: [], stage: 1, with: { text: "x\u009by" } },
      { id: 'a"b', uses: "<script>#quot;`md`", needs: ["end"], stage: 2, with: {} },
    ],
  };

  it("escapes line breaks and terminal control sequences in the text plan", () => {
    const text = renderPlanText(hostile);
    expect(text).toContain("  reason    ok\\n  lock      forged\\u001b]0;pwned\\u0007\n");
    expect(text).toContain("  params    note=a\\u009b31mred\n");
    expect(text).toContain('with {"text":"x\\u009by"}');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it("keeps Mermaid valid whatever the ids and action names hold", () => {
    const mermaid = renderPlanMermaid(hostile);
    checkMermaidSyntax(mermaid);
    // Positional node ids: a step named `end` (a Mermaid keyword) cannot end the graph.
    expect(mermaid).toContain('  s0["end<br/>noop"]\n');
    expect(mermaid).toContain('  s1["a#quot;b<br/>#lt;script#gt;#35;quot;#96;md#96;"]\n');
    expect(mermaidLabel("line\nbreak")).toBe("line break");
  });
});
