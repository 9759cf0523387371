/** Check-run payloads, validated against GitHub's OpenAPI description of the check-runs endpoints. */
import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { evaluatePullRequest, type Evaluation } from "../../../src/github/evaluate.js";
import {
  clip,
  MAX_ANNOTATIONS_PER_CALL,
  MAX_OUTPUT_TEXT,
  MAX_TITLE,
  renderPlanCheck,
  renderPolicyCheck,
  splitAnnotations,
  type CheckRunPayload,
} from "../../../src/github/render.js";
import { githubOpenApi } from "../../support/github/openapi.js";
import { normalizeNullable } from "../../support/github/openapi-nullable.js";
import { gathered, HEAD, read } from "./gathered.js";

const registry = defaultRegistry();
const api = githubOpenApi();
normalizeNullable(api.doc);
const create = api.operation("POST", "/repos/{owner}/{repo}/check-runs");
const update = api.operation("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}");

function schemaProblems(payload: CheckRunPayload): string[] {
  return api.validateRequest(create, { pathParams: { owner: "acme", repo: "ops" }, query: new URLSearchParams(), body: payload });
}

const valid = (): Evaluation => evaluatePullRequest(gathered("requests/restart.yaml", read("requests/restart-checkout.yaml")), registry);

describe("the schema check itself", () => {
  it("rejects a payload GitHub would reject", () => {
    const p = renderPlanCheck(valid());
    expect(schemaProblems({ ...p, conclusion: "approved" as never })).not.toEqual([]);
    expect(schemaProblems({ ...p, output: { ...p.output, annotations: [{ path: "a" } as never] } })).not.toEqual([]);
  });
});

describe("clutch-luigi/plan", () => {
  it("shows the plan as text and Mermaid on success, in a valid payload", () => {
    const p = renderPlanCheck(valid());
    expect(schemaProblems(p)).toEqual([]);
    expect(p).toMatchObject({ name: "clutch-luigi/plan", head_sha: HEAD, status: "completed", conclusion: "success" });
    expect(p.output.title).toBe("Plan: restart-service — OPS-1234 checkout pods leak memory");
    expect(p.output.summary).toContain("```mermaid\ngraph TD\n");
    expect(p.output.summary).toContain("s0 --> s1");
    expect(p.output.text).toMatch(/^```text\nPlan for requests\/restart.yaml\n/);
    expect(p.output.text).toContain('with {"message":"restarting checkout"}');
    expect(p.output.annotations).toBeUndefined();
  });

  it("fails with every problem at its line when the request is invalid", () => {
    const e = evaluatePullRequest(gathered("requests/bad.yaml", read("requests/bad-params.yaml")), registry);
    const p = renderPlanCheck(e);
    expect(schemaProblems(p)).toEqual([]);
    expect(p.conclusion).toBe("failure");
    expect(p.output.title).toBe("requests/bad.yaml: 1 problem");
    expect(p.output.annotations).toEqual([
      { path: "requests/bad.yaml", start_line: 6, end_line: 6, start_column: 12, end_column: 12, annotation_level: "failure", title: "requests/bad.yaml:6:12", message: 'params.service must be one of: "checkout", "search"' },
    ]);
  });

  it("is neutral when the PR adds no request", () => {
    const g = gathered("requests/x.yaml", "");
    g.request = null;
    g.facts.requests = [];
    const p = renderPlanCheck(evaluatePullRequest(g, registry));
    expect(schemaProblems(p)).toEqual([]);
    expect(p.conclusion).toBe("neutral");
  });

  it("keeps user text inside its code fence whatever backticks it holds", () => {
    const text = read("requests/restart-checkout.yaml").replace('"OPS-1234 checkout pods leak memory"', '"OPS-1 ```\\n# injected heading"');
    const p = renderPlanCheck(evaluatePullRequest(gathered("requests/restart.yaml", text), registry));
    expect(p.conclusion).toBe("success");
    expect(p.output.text!.startsWith("````text\n")).toBe(true);
    expect(p.output.text!.endsWith("\n````")).toBe(true);
  });

  it("sends annotations 50 per call: the rest go in updates", () => {
    // 120 problems, one invalid param each, capped to 50 and one "… and 70 more".
    const params = Array.from({ length: 120 }, (_, i) => `  p${i}: ${i}`).join("\n");
    const text = `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: restart-service\nreason: "OPS-9 many"\nparams:\n  service: checkout\n${params}\n`;
    const e = evaluatePullRequest(gathered("requests/many.yaml", text), registry);
    const p = renderPlanCheck(e);
    expect(p.output.annotations).toHaveLength(51);
    const { create: first, updates } = splitAnnotations(p);
    expect(first.output.annotations).toHaveLength(MAX_ANNOTATIONS_PER_CALL);
    expect(updates.map((u) => u.output.annotations!.length)).toEqual([1]);
    expect(schemaProblems(first)).toEqual([]);
    for (const u of updates) {
      expect(api.validateRequest(update, { pathParams: { owner: "acme", repo: "ops", check_run_id: "1" }, query: new URLSearchParams(), body: u })).toEqual([]);
    }
    const lines = [first, ...updates].flatMap((x) => x.output.annotations!.map((a) => a.start_line));
    expect(lines).toEqual(p.output.annotations!.map((a) => a.start_line));
  });
});

describe("clutch-luigi/policy", () => {
  it("succeeds when approved", () => {
    const p = renderPolicyCheck(valid());
    expect(schemaProblems(p)).toEqual([]);
    expect(p.conclusion).toBe("success");
    expect(p.output.title).toBe("Approved by sam");
    expect(p.output.text).toContain("✓ .github/CODEOWNERS line 5 (`/requests/           @acme/sre`)");
  });

  it("asks for action when approvals are missing, naming the CODEOWNERS line", () => {
    const e = evaluatePullRequest(gathered("requests/restart.yaml", read("requests/restart-checkout.yaml"), { approvers: [] }), registry);
    const p = renderPolicyCheck(e, { detailsUrl: "https://github.com/acme/ops/pull/7" });
    expect(p.details_url).toBe("https://github.com/acme/ops/pull/7");
    expect(schemaProblems(p)).toEqual([]);
    expect(p.conclusion).toBe("action_required");
    expect(p.output.summary).toContain("### Missing approvals\n- 1 more from @acme/sre (`codeowners:5`) — .github/CODEOWNERS line 5");
  });

  it("fails when blocked, and escapes HTML from the PR", () => {
    const g = gathered("requests/restart.yaml", read("requests/restart-checkout.yaml"));
    g.facts.labels = ["break-glass"];
    g.facts.body = "Break-glass: <img src=x onerror=alert(1)> now";
    g.problems.push({ code: "too-many-files", message: "this pull request changes 3001 files" });
    const p = renderPolicyCheck(evaluatePullRequest(g, registry));
    expect(schemaProblems(p)).toEqual([]);
    expect(p.conclusion).toBe("failure");
    expect(p.output.title).toBe("BREAK-GLASS: Not approved: blocked (too-many-files) [BREAK-GLASS]");
    expect(p.output.summary).toContain("Reason: &lt;img src=x onerror=alert(1)&gt; now");
    expect(p.output.summary).not.toContain("<img");
    expect(p.output.summary).toContain("- **too-many-files**: this pull request changes 3001 files");
  });

  it("cuts title and long text to GitHub's limits", () => {
    const g = gathered("requests/restart.yaml", read("requests/restart-checkout.yaml"));
    for (let i = 0; i < 2000; i++) g.problems.push({ code: `problem-${i}`, message: "x".repeat(40) });
    const p = renderPolicyCheck(evaluatePullRequest(g, registry));
    expect(p.output.title.length).toBeLessThanOrEqual(MAX_TITLE);
    expect(p.output.title.endsWith("…")).toBe(true);
    expect(p.output.summary.length).toBe(MAX_OUTPUT_TEXT);
    expect(p.output.text!.length).toBe(MAX_OUTPUT_TEXT);
    expect(p.output.summary.endsWith("(cut: GitHub limits this field)")).toBe(true);
    expect(schemaProblems(p)).toEqual([]);
  });
});

describe("clip", () => {
  it("leaves short text alone and never splits a surrogate pair", () => {
    expect(clip("abc", 10)).toBe("abc");
    const cut = clip("😀".repeat(100), 50);
    expect(cut.length).toBeLessThanOrEqual(50);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});
