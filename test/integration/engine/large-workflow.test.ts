/**
 * Workflows of real size: 1,000 steps validate, plan in text that grows linearly with
 * the chain, and run to the end; 1,001 are refused with the limit named.
 */
import { expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { buildPlan, parseSource, renderPlanText } from "../../../src/formats/index.js";
import { checkWorkflow } from "../../../src/formats/check-workflow.js";
import { MAX_STEPS } from "../../../src/formats/step-limit.js";
import type { WorkflowSpec } from "../../../src/formats/types.js";
import { createRun } from "../../../src/store/runs.js";
import { memoryBackend } from "./backends.js";
import { describeEngine } from "./fixture.js";
import { IDENTITY, request } from "./harness.js";

function yaml(n: number, chained: boolean): string {
  const lines = ["apiVersion: clutch-luigi/v1", "kind: Workflow", "name: big", "params: { type: object }", "steps:"];
  for (let i = 0; i < n; i++) lines.push(`  - id: s${i}`, "    uses: noop", ...(chained && i > 0 ? [`    needs: [s${i - 1}]`] : []));
  return lines.join("\n") + "\n";
}

function check(text: string) {
  const parsed = parseSource("workflows/big.yaml", text);
  if (!parsed.ok) throw new Error("unparsable");
  return checkWorkflow(parsed.doc, defaultRegistry(), { expectedName: "big" });
}

describeEngine("workflows of 1,000 steps", (env) => {
  it("validate, and a 1,001st step is refused by the schema", () => {
    expect(MAX_STEPS).toBe(1_000);
    expect(check(yaml(1_000, true)).problems).toEqual([]);
    expect(check(yaml(1_001, false)).problems.map((p) => p.message)).toEqual(["steps must NOT have more than 1000 items"]);
  });

  it("plan as text that grows linearly, not with the square of a chain's depth", () => {
    const w = check(yaml(1_000, true)).workflow!;
    const text = renderPlanText(buildPlan("requests/big.yaml", { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "big", reason: "OPS-1" }, w));
    expect(text.length).toBeLessThan(200_000);
    expect(text).toContain("└── s999  noop");
  });

  it("run to the end on one worker", async () => {
    const w = check(yaml(1_000, false)).workflow as WorkflowSpec;
    env.startWorkers(1, { concurrency: 16 });
    const { runId } = await createRun(env.store, { ...IDENTITY, workflow: w, request: request(w), requestPath: "requests/big.yaml", registry: env.registry, maxParallel: 64 });
    const run = await env.waitForRun(runId, 120_000);
    expect(run.state).toBe("succeeded");
    expect(run.steps.filter((s) => s.state === "succeeded")).toHaveLength(1_000);
  }, 180_000);
}, { backends: [memoryBackend(Buffer.alloc(32, 1).toString("base64"))] });
