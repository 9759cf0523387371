/** docs/example-ops-repo stays valid: its files pass the real validator and its Actions workflow uses only what action.yml declares. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { defaultRegistry } from "../../src/actions/index.js";
import { validatePaths } from "../../src/formats/index.js";
import { loadPolicyConfig } from "../../src/policy/index.js";
import { EXAMPLE_REPO, ROOT } from "./runner-env.js";

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
const workflowFile = path.join(EXAMPLE_REPO, ".github/workflows/clutch-luigi.yml");
const gha = parse(readFileSync(workflowFile, "utf8")) as { on: Record<string, unknown>; jobs: Record<string, { "runs-on": string; steps: Step[] }> };
const action = parse(readFileSync(path.join(ROOT, "action/action.yml"), "utf8")) as { inputs: Record<string, unknown> };
const actionSteps = Object.values(gha.jobs).flatMap((j) => j.steps.filter((s) => s.uses?.includes("/clutch-luigi/action@")));

describe("docs/example-ops-repo", () => {
  it("passes the validator: every request and workflow, no problem", async () => {
    const reports = await validatePaths(["requests/**", "workflows/**"], { registry: defaultRegistry(), cwd: EXAMPLE_REPO });
    expect(reports.map((r) => [r.file, r.kind])).toEqual([
      ["requests/2026/ops-1302-restart-payments.yaml", "Request"],
      ["requests/databases/ops-1234-rotate-orders.yaml", "Request"],
      ["workflows/restart-service.yaml", "Workflow"],
      ["workflows/rotate-db-credentials.yaml", "Workflow"],
    ]);
    expect(reports.flatMap((r) => r.problems)).toEqual([]);
  });

  it("has a valid policy file and a CODEOWNERS at .github/", () => {
    const config = parse(readFileSync(path.join(EXAMPLE_REPO, ".github/clutch-luigi.yml"), "utf8"));
    expect(loadPolicyConfig(config).ok).toBe(true);
    expect(readFileSync(path.join(EXAMPLE_REPO, ".github/CODEOWNERS"), "utf8")).toContain("/workflows/  @acme/platform");
  });

  it("its workflows are the catalog's own, copied without change", () => {
    for (const name of ["restart-service", "rotate-db-credentials"]) {
      const catalog = readFileSync(path.join(ROOT, "workflows", `${name}.yaml`), "utf8").replace(/^# yaml-language-server:.*\n/, "");
      expect(readFileSync(path.join(EXAMPLE_REPO, "workflows", `${name}.yaml`), "utf8")).toBe(catalog);
    }
  });

  it("keeps the Actions workflow out of the catalog folder", () => {
    expect(existsSync(path.join(ROOT, "workflows/clutch-luigi.yml"))).toBe(false);
    expect(existsSync(path.join(EXAMPLE_REPO, "workflows/clutch-luigi.yml"))).toBe(false);
  });

  it("runs on pull_request, validates every PR and simulates the policy on control-plane PRs, with declared inputs only", () => {
    expect(gha.on).toHaveProperty("pull_request");
    for (const job of Object.values(gha.jobs)) {
      expect(job["runs-on"]).toMatch(/ubuntu/);
      expect(job.steps[0]!.uses).toMatch(/^actions\/checkout@v\d+$/);
    }
    for (const s of actionSteps) {
      expect(s.uses).toMatch(/^[\w-]+\/clutch-luigi\/action@v\d+$/);
      for (const key of Object.keys(s.with ?? {})) expect(Object.keys(action.inputs)).toContain(key);
      expect(["validate", "plan", "policy"]).toContain(s.with?.command);
    }
    const commands = actionSteps.map((s) => s.with?.command);
    expect(commands).toEqual(["validate", "plan", "policy"]);
    const policyStep = actionSteps.find((s) => s.with?.command === "policy")!;
    expect(policyStep.with?.config).toBe(".github/clutch-luigi.yml");
    expect(existsSync(path.join(EXAMPLE_REPO, String(policyStep.with?.config)))).toBe(true);
    expect((policyStep as { if?: string }).if).toContain("touched == 'true'");
  });
});
