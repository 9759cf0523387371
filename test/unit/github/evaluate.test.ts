import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { evaluatePullRequest, withBlockers } from "../../../src/github/evaluate.js";
import { evaluatePolicy } from "../../../src/policy/index.js";
import { gathered, read } from "./gathered.js";

const registry = defaultRegistry();

describe("evaluatePullRequest", () => {
  it("plans a valid request and approves it", () => {
    const e = evaluatePullRequest(gathered("requests/restart.yaml", read("requests/restart-checkout.yaml")), registry);
    expect(e.verdict.approved).toBe(true);
    expect(e.request).toMatchObject({ path: "requests/restart.yaml", workflow: "restart-service", problems: [] });
    expect(e.request?.plan?.stages).toEqual([["announce"], ["restart"], ["done"]]);
  });

  it("suggests the closest workflow listed on the base branch for a typo", () => {
    const text = read("requests/restart-checkout.yaml").replace("workflow: restart-service", "workflow: restart-servce");
    const g = gathered("requests/restart.yaml", text);
    g.workflowFiles = [];
    const e = evaluatePullRequest(g, registry);
    expect(e.request?.problems).toEqual([{ file: "requests/restart.yaml", line: 3, col: 11, message: 'unknown workflow "restart-servce"; did you mean "restart-service"?' }]);
  });

  it("reports YAML that does not parse, and blocks", () => {
    const e = evaluatePullRequest(gathered("requests/r.yaml", "apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: [oops\n"), registry);
    expect(e.request?.problems[0]).toMatchObject({ file: "requests/r.yaml", line: expect.any(Number), message: expect.stringContaining("malformed YAML") });
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.blocking.map((b) => b.code)).toContain("request-invalid");
  });

  it("refuses a request for a workflow that is itself invalid on the base branch", () => {
    const g = gathered("requests/restart.yaml", read("requests/restart-checkout.yaml"));
    g.workflowFiles = [{ path: "workflows/restart-service.yaml", content: read("ops-repo/workflows/restart-service.yaml").replace("uses: noop", "uses: no-such-action") }];
    const e = evaluatePullRequest(g, registry);
    expect(e.request?.plan).toBeUndefined();
    expect(e.request?.problems).toEqual([expect.objectContaining({ file: "requests/restart.yaml", line: 3, message: 'workflow "restart-service" is itself invalid; fix it before requesting it' })]);
    expect(e.verdict.blocking.map((b) => b.code)).toEqual(["request-invalid"]);
  });

  it("turns every gather problem into a blocker", () => {
    const g = gathered("requests/restart.yaml", read("requests/restart-checkout.yaml"));
    g.problems.push({ code: "too-many-commits", message: "this pull request has 300 commits" });
    const e = evaluatePullRequest(g, registry);
    expect(e.verdict.approved).toBe(false);
    expect(e.verdict.blocking).toEqual([{ code: "too-many-commits", message: "this pull request has 300 commits" }]);
  });
});

describe("withBlockers", () => {
  const facts = gathered("requests/restart.yaml", read("requests/restart-checkout.yaml")).facts;

  it("makes an approved verdict not approved and says why first", () => {
    const v = withBlockers(evaluatePolicy(facts), [{ code: "head-moved", message: "the head moved" }]);
    expect(v.approved).toBe(false);
    expect(v.summary).toBe("Not approved: blocked (head-moved)");
    expect(v.explanation.split("\n").slice(0, 3)).toEqual(["Not approved.", "Blocked: the head moved.", "Approvals alone would suffice: Approved by sam."]);
  });

  it("keeps the policy's own missing approvals and blockers", () => {
    const v0 = evaluatePolicy({ ...facts, reviews: [], labels: ["break-glass"] });
    expect(v0.summary).toBe("Not approved: blocked (break-glass-reason); 1 more approval from @acme/sre; 1 more approval from any reviewer other than the author");
    const v = withBlockers(v0, [{ code: "x", message: "y" }]);
    expect(v.summary).toBe("Not approved: blocked (x, break-glass-reason); 1 more approval from @acme/sre; 1 more approval from any reviewer other than the author");
    expect(v.blocking.map((b) => b.code)).toEqual(["x", "break-glass-reason"]);
    expect(v.missing).toEqual(v0.missing);
  });

  it("does not repeat a verdict the policy could not evaluate", () => {
    const v0 = evaluatePolicy({ ...facts, config: { minApprovals: "two" } });
    expect(v0.blocking.map((b) => b.code)).toEqual(["config-invalid"]);
    const v = withBlockers(v0, [{ code: "x", message: "y" }]);
    expect(v.summary).toBe("Not approved: blocked (x, config-invalid)");
  });

  it("returns the verdict unchanged without blockers", () => {
    const v = evaluatePolicy(facts);
    expect(withBlockers(v, [])).toBe(v);
  });
});
