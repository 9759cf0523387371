/**
 * A step's `check:` is validated like the step itself: a registered action, inputs
 * against its schema, expressions reading only declared dependencies; and the plan
 * says the step may be skipped.
 */
import { describe, expect, it } from "vitest";
import { ActionRegistry, builtinActions, type Action } from "../../../src/actions/index.js";
import { buildCatalog, buildPlan, checkRequest, parseSource, renderPlanMermaid, renderPlanText } from "../../../src/formats/index.js";
import { checkWorkflow } from "../../../src/formats/check-workflow.js";
import { formatProblem } from "../../../src/formats/problems.js";

const exists: Action<{ name: string }, { done: boolean }> = {
  name: "test.exists",
  description: "Reports whether a thing exists.",
  input: { type: "object", additionalProperties: false, required: ["name"], properties: { name: { type: "string" } } },
  output: { type: "object", additionalProperties: false, properties: { done: { type: "boolean" } } },
  errorCodes: ["lookup-refused"],
  async run() {
    return { done: false };
  },
};
const registry = new ActionRegistry([...builtinActions(), exists]);

const workflow = (check: string, extra = "") => `apiVersion: clutch-luigi/v1
kind: Workflow
name: grant
params:
  type: object
  properties:
    user: { type: string }
    ticket: { type: integer }
steps:
  - id: lookup
    uses: log
    with: { message: "looking" }
  - id: grant
    uses: log
    with: { message: "granting \${{ params.user }}" }
${check}${extra}`;

function problems(text: string): string[] {
  const parsed = parseSource("workflows/grant.yaml", text);
  if (!parsed.ok) throw new Error("unparsable");
  return checkWorkflow(parsed.doc, registry, { expectedName: "grant" }).problems.map(formatProblem);
}

describe("a step's check:", () => {
  it("is accepted naming a registered action with valid inputs, which may use params", () => {
    expect(problems(workflow('    check: { uses: test.exists, with: { name: "${{ params.user }}" } }\n'))).toEqual([]);
    // A production action can be a check when it can report done: http.request maps a response field to it.
    expect(problems(workflow('    check: { uses: http.request, with: { url: "https://example.test/x", outputs: { done: /exists } } }\n'))).toEqual([]);
  });

  it.each([
    ["an unknown action, with a suggestion", "    check: { uses: test.exsits, with: { name: x } }\n", 'workflows/grant.yaml:16:20: unknown action "test.exsits"; did you mean "test.exists"?'],
    ["an input its action's schema refuses", "    check: { uses: test.exists, with: { name: 7 } }\n", "test.exists: with.name must be string"],
    ["a missing required input", "    check: { uses: test.exists }\n", "test.exists: missing required key \"name\" in with"],
    ["no uses", "    check: { with: { name: x } }\n", "uses"],
    ["an unknown key", "    check: { uses: test.exists, with: { name: x }, retry: 2 }\n", "retry"],
    ["an undeclared parameter", '    check: { uses: test.exists, with: { name: "${{ params.usr }}" } }\n', 'reads undeclared parameter "usr"; did you mean "user"?'],
    [
      "a step output it does not depend on",
      '    check: { uses: test.exists, with: { name: "${{ steps.lookup.outputs.message }}" } }\n',
      'check of "grant" reads step "lookup", which it does not depend on; add it to needs',
    ],
    [
      "an output its producer does not have",
      '    needs: [lookup]\n    check: { uses: test.exists, with: { name: "${{ steps.lookup.outputs.nope }}" } }\n',
      'action log has no output "nope"',
    ],
    ["an action that cannot report done", "    check: { uses: noop }\n", 'check of "grant": noop has no output "done", so it could never skip the step'],
    ["a durable timer", "    check: { uses: wait, with: { duration: 1m } }\n", 'check of "grant": wait is a durable timer'],
  ])("is refused with %s", (_name, check, message) => {
    expect(problems(workflow(check)).join("\n")).toContain(message);
  });

  it("may read the outputs of steps its step needs", () => {
    expect(problems(workflow('    needs: [lookup]\n    check: { uses: test.exists, with: { name: "${{ steps.lookup.outputs.message }}" } }\n'))).toEqual([]);
  });

  it("lends its action's error codes to the step's retry.on: a failing check fails the step", () => {
    const check = "    check: { uses: test.exists, with: { name: x } }\n";
    expect(problems(workflow(check, "    retry: { attempts: 2, on: [lookup-refused] }\n"))).toEqual([]);
    expect(problems(workflow("", "    retry: { attempts: 2, on: [lookup-refused] }\n")).join("\n")).toContain('unknown error class "lookup-refused"');
  });
});

describe("a request to a workflow with a check", () => {
  const check = (checkWith: string, params: string) => {
    const text = workflow(`    check: { uses: test.exists, with: ${checkWith} }\n`);
    const { catalog } = buildCatalog([{ path: "workflows/grant.yaml", content: text }], registry);
    const doc = parseSource("requests/grant.yaml", `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: grant\nreason: "OPS-1 access"\nparams: ${params}\n`);
    if (!doc.ok) throw new Error("unparsable");
    return checkRequest(doc.doc, catalog, registry);
  };

  it("has the check's inputs checked with its params substituted", () => {
    // `ticket` is an integer: fine for the params schema, not for the check's `name`.
    expect(check('{ name: "${{ params.ticket }}" }', "{ user: alice }").problems).toEqual([]);
    expect(check('{ name: "${{ params.ticket }}" }', "{ user: alice, ticket: 7 }").problems.map(formatProblem)).toEqual([
      'requests/grant.yaml:5:32: step "grant (check)" (test.exists) would get invalid input: with.name must be string',
    ]);
  });

  it("shows in the plan that the step is skipped if the check reports done", () => {
    const r = check('{ name: "${{ params.user }}" }', "{ user: alice }");
    expect(r.problems).toEqual([]);
    const plan = buildPlan("requests/grant.yaml", r.request!, r.workflow!);
    expect(plan.steps.find((s) => s.id === "grant")?.check).toEqual({ uses: "test.exists", with: { name: "alice" } });
    expect(plan.steps.find((s) => s.id === "lookup")?.check).toBeUndefined();
    const text = renderPlanText(plan);
    expect(text).toContain("grant  log  [skipped if test.exists reports done]");
    expect(text).toContain('check with {"name":"alice"}');
    expect(renderPlanMermaid(plan)).toContain('s1["grant<br/>log<br/>skipped if test.exists reports done"]');
  });
});
