/**
 * `expires:` makes any workflow time-bound: its terms are checked in the workflow,
 * the request's chosen duration is checked against the maximum at plan time, and an
 * `extends:` request must name a time-bound workflow.
 */
import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { buildCatalog, buildPlan, checkRequest, expiryTerms, ExpiryError, parseSource, renderPlanText, type WorkflowSpec } from "../../../src/formats/index.js";
import { checkWorkflow } from "../../../src/formats/check-workflow.js";
import { formatProblem } from "../../../src/formats/problems.js";

const registry = defaultRegistry();

const workflow = (expires: string, rollback = true) => `apiVersion: clutch-luigi/v1
kind: Workflow
name: flag
params:
  type: object
  additionalProperties: false
  required: [flag]
  properties:
    flag: { type: string, enum: [maintenance] }
    duration: { type: string, enum: [15m, 1h, 4h, 2d] }
${expires}
steps:
  - id: on
    uses: log
    with: { message: "on" }
${rollback ? '    rollback: { uses: log, with: { message: "off" } }\n' : ""}`;

function problems(text: string): string[] {
  const parsed = parseSource("workflows/flag.yaml", text);
  if (!parsed.ok) throw new Error("unparsable");
  return checkWorkflow(parsed.doc, registry, { expectedName: "flag" }).problems.map(formatProblem);
}

describe("a workflow's expires:", () => {
  it("is accepted with after ≤ max and a declared param", () => {
    expect(problems(workflow("expires: { after: 1h, max: 4h, param: duration }"))).toEqual([]);
  });
  it.each([
    ["after longer than max", "expires: { after: 8h, max: 4h }", "expires.after (8h) is longer than expires.max (4h)"],
    ["a param that is not declared", "expires: { after: 1h, max: 4h, param: ttl }", 'expires.param names "ttl", which is not one of the workflow\'s params'],
    ["a zero duration", "expires: { after: 0s, max: 4h }", "expires.after must be longer than 0"],
    ["max missing", "expires: { after: 1h }", "max"],
    ["a bad duration (once, from the schema)", "expires: { after: soon, max: 4h }", "workflows/flag.yaml:11:19: expires.after is not a duration"],
  ])("is refused with %s", (_name, line, message) => {
    expect(problems(workflow(line)).join("\n")).toContain(message);
  });
  it("is refused when no step can be undone, since expiry would undo nothing", () => {
    expect(problems(workflow("expires: { after: 1h, max: 4h }", false)).join("\n")).toContain("expires: no step has a rollback, so expiry would undo nothing");
  });
});

describe("a request to a time-bound workflow", () => {
  const parsed = parseSource("workflows/flag.yaml", workflow("expires: { after: 1h, max: 4h, param: duration }"));
  if (!parsed.ok) throw new Error("unparsable");
  const { catalog } = buildCatalog([{ path: "workflows/flag.yaml", content: workflow("expires: { after: 1h, max: 4h, param: duration }") }], registry);
  const check = (body: string) => {
    const doc = parseSource("requests/flag.yaml", `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: flag\nreason: "OPS-9 maintenance window"\n${body}`);
    if (!doc.ok) throw new Error("unparsable");
    return checkRequest(doc.doc, catalog, registry);
  };

  it("may choose a duration up to max; without one it gets the workflow's default", () => {
    expect(check("params: { flag: maintenance, duration: 4h }").problems).toEqual([]);
    const r = check("params: { flag: maintenance }");
    expect(r.problems).toEqual([]);
    expect(expiryTerms(r.workflow!, r.request!.params!)).toEqual({ durationMs: 3_600_000, maxMs: 4 * 3_600_000, source: { default: true } });
  });

  it("is refused at plan time, on the param's line, when it asks for longer than max", () => {
    const r = check("params: { flag: maintenance, duration: 2d }");
    expect(r.problems.map(formatProblem)).toEqual(["requests/flag.yaml:5:40: 2d is longer than this workflow allows (expires.max: 4h)"]);
  });

  it("shows the expiry in the plan", () => {
    const r = check("params: { flag: maintenance, duration: 15m }");
    const text = renderPlanText(buildPlan("requests/flag.yaml", r.request!, r.workflow!));
    expect(text).toContain("expires   15m after the run succeeds: its steps are undone then (at most 4h)");
  });

  it("extends: must name a run id of a time-bound workflow", () => {
    expect(check("params: { flag: maintenance }\nextends: not-a-run").problems.map(formatProblem).join("\n")).toContain("extends");
    expect(check("params: { flag: maintenance }\nextends: 3f1c0a52-0000-4000-8000-000000000001").problems).toEqual([]);
    const plain = buildCatalog([{ path: "workflows/flag.yaml", content: workflow("") }], registry).catalog;
    const doc = parseSource("requests/x.yaml", `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: flag\nreason: "OPS-9 again"\nparams: { flag: maintenance }\nextends: 3f1c0a52-0000-4000-8000-000000000001\n`);
    if (!doc.ok) throw new Error("unparsable");
    expect(checkRequest(doc.doc, plain, registry).problems.map(formatProblem)).toEqual(['requests/x.yaml:6:10: workflow "flag" is not time-bound (it has no expires:), so there is nothing to extend']);
  });

  it("expiryTerms refuses what the check refuses (the engine uses the same numbers)", () => {
    const w = { expires: { after: "1h", max: "4h", param: "duration" } } as Pick<WorkflowSpec, "expires">;
    expect(() => expiryTerms(w, { duration: "5h" })).toThrow(ExpiryError);
    expect(() => expiryTerms(w, { duration: 5 })).toThrow(/params.duration must be a duration/);
    expect(expiryTerms({}, {})).toBeNull();
  });
});
