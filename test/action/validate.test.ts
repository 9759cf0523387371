/**
 * `command: validate` and `command: plan`, run as the runner runs the bundle:
 * the exact annotations on stdout, the outputs file and the job summary.
 */
import { afterEach, describe, expect, it } from "vitest";
import { defaultRegistry } from "../../src/actions/index.js";
import { buildPlan, loadRequestForRun, renderPlanMermaid, sortProblems, validatePaths } from "../../src/formats/index.js";
import { EXAMPLE_REPO, runAction, scratchRepo, workflowCommands } from "./runner-env.js";

const scratch: { remove(): void }[] = [];
afterEach(() => {
  for (const s of scratch.splice(0)) s.remove();
});
function repo(files: Record<string, string>): string {
  const r = scratchRepo(files);
  scratch.push(r);
  return r.dir;
}

/** The runner's unescaping of a workflow command's message (the inverse of the toolkit's escaping). */
function unescapeData(s: string): string {
  return s.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%");
}
function unescapeProperty(s: string): string {
  return unescapeData(s.replace(/%3A/g, ":").replace(/%2C/g, ","));
}
/** Splits `::error k=v,k=v::message` as the runner does: properties end at the first `::`, split on `,` and the first `=`. */
function parseCommand(line: string): { name: string; props: Record<string, string>; message: string } {
  const m = /^::([a-z-]+)(?: ([^]*?))?::([^]*)$/.exec(line);
  if (!m) throw new Error(`not a workflow command: ${line}`);
  const props: Record<string, string> = {};
  for (const kv of (m[2] ?? "").split(",").filter((p) => p !== "")) {
    const eq = kv.indexOf("=");
    props[kv.slice(0, eq)] = unescapeProperty(kv.slice(eq + 1));
  }
  return { name: m[1]!, props, message: unescapeData(m[3]!) };
}

/** The toolkit's escaping, restated here so the test does not grade the action with its own code. */
const escData = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
const escProp = (s: string) => escData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");

/**
 * The annotations the core's problems must become, one per problem in the CLI's
 * order. Messages come from the core (their wording is its business); where each
 * lands and how it is escaped is what the action must get exactly right.
 */
async function expectedAnnotations(workspace: string, paths: string[]): Promise<string[]> {
  const reports = await validatePaths(paths, { registry: defaultRegistry(), cwd: workspace });
  return sortProblems(reports.flatMap((r) => r.problems)).map(
    (p) => `::error file=${escProp(p.file)},line=${p.line},col=${p.col},title=${escProp(`${p.file}:${p.line}:${p.col}`)}::${escData(p.message)}`,
  );
}

const RESTART = (body: string) => `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: restart-service\n${body}`;

describe("validate", () => {
  it("passes the example ops repository: no annotation, problems=0, a summary that says so", async () => {
    const r = await runAction({ workspace: EXAMPLE_REPO, inputs: { command: "validate", paths: "requests/** workflows/**" } });
    expect(r.stderr).toBe("");
    expect(workflowCommands(r.stdout)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs).toEqual({ problems: "0" });
    expect(r.summary).toBe("## Clutch Luigi: validate\n\n4 files valid.\n");
  });

  it("annotates every problem on its line, tabulates them in the summary, sets problems and fails the step (default paths)", async () => {
    const dir = repo({ "requests/2026/typo.yaml": RESTART('reason: "OPS-1 typo"\nparmas: {}\n') });
    const r = await runAction({ workspace: dir, inputs: {} });
    expect(r.code).toBe(1);
    const expected = await expectedAnnotations(dir, ["requests/**", "workflows/**"]);
    expect(workflowCommands(r.stdout)).toEqual(expected);
    // Missing params (reported at the document) and the misspelt key on line 5, column 1.
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect(expected.every((a) => a.startsWith("::error file=requests/2026/typo.yaml,"))).toBe(true);
    expect(expected.some((a) => a.startsWith("::error file=requests/2026/typo.yaml,line=5,col=1,title=requests/2026/typo.yaml%3A5%3A1::") && a.includes("parmas"))).toBe(true);
    expect(r.outputs).toEqual({ problems: String(expected.length) });
    const reports = await validatePaths(["requests/**", "workflows/**"], { registry: defaultRegistry(), cwd: dir });
    const problems = sortProblems(reports.flatMap((x) => x.problems));
    expect(r.summary).toBe(
      [
        "## Clutch Luigi: validate",
        "",
        `**${problems.length} problems** in 1 of 5 files.`,
        "",
        "| File | Line | Col | Problem |",
        "| --- | --- | --- | --- |",
        ...problems.map((p) => `| \`requests/2026/typo.yaml\` | ${p.line} | ${p.col} | ${p.message} |`),
        "",
      ].join("\n"),
    );
  });

  it("checks requests against the catalog named by the workflows input", async () => {
    const dir = repo({ "elsewhere/ops-9.yaml": RESTART('reason: "OPS-9 restart"\nparams: { service: payments-gateway, environment: production }\n') });
    const ok = await runAction({ workspace: dir, inputs: { paths: "elsewhere/ops-9.yaml", workflows: "workflows" } });
    expect([ok.code, ok.outputs]).toEqual([0, { problems: "0" }]);
    const missing = await runAction({ workspace: dir, inputs: { paths: "elsewhere/ops-9.yaml", workflows: "no-such-dir" } });
    expect(missing.code).toBe(1);
    expect(workflowCommands(missing.stdout)).toEqual(["::error title=Clutch Luigi::input workflows: no-such-dir is not a folder in the workspace"]);
  });

  it("refuses an unknown command with one annotation", async () => {
    const r = await runAction({ workspace: EXAMPLE_REPO, inputs: { command: "deploy" } });
    expect(r.code).toBe(1);
    expect(workflowCommands(r.stdout)).toEqual(['::error title=Clutch Luigi::input command: "deploy" is not one of validate, plan, policy']);
    expect(r.outputFile).toBe("");
  });
});

describe("hostile file content and names cannot inject workflow commands", () => {
  it("escapes a message holding ::, %, a newline and a comma, so the runner reads one command per problem and the exact text", async () => {
    const key = "a::error::b%0A,c\n::warning::injected";
    const yamlKey = JSON.stringify(key);
    const dir = repo({ "requests/2026/bad.yaml": RESTART(`reason: "OPS-2 hostile"\nparams: { service: web, environment: production, ${yamlKey}: 1 }\n`) });
    const r = await runAction({ workspace: dir, inputs: { paths: "requests/2026/bad.yaml" } });
    expect(r.code).toBe(1);
    const lines = workflowCommands(r.stdout);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith("::error file=requests/2026/bad.yaml,line=5,col=50,title=requests/2026/bad.yaml%3A5%3A50::")).toBe(true);
    expect(lines[0]).toContain('"a::error::b%250A,c%0A::warning::injected"');
    // Every stdout line is either that command or plain log text: nothing else starts with "::".
    expect(r.stdout.split("\n").filter((l) => l.includes("::warning::") && !l.startsWith("::error "))).toEqual([]);
    const parsed = parseCommand(lines[0]!);
    expect(parsed).toEqual({
      name: "error",
      props: { file: "requests/2026/bad.yaml", line: "5", col: "50", title: "requests/2026/bad.yaml:5:50" },
      message: expect.stringContaining(`"${key}"`),
    });
    expect(lines).toEqual(await expectedAnnotations(dir, ["requests/2026/bad.yaml"]));
    // The summary cell keeps the text on one table row and renders no HTML.
    expect(r.summary).toContain('| `requests/2026/bad.yaml` | 5 | 50 | ');
    expect(r.summary).toContain('"a::error::b%0A,c<br>::warning::injected"');
  });

  it("escapes a file name holding a newline, ::, %, a comma and a colon in the file and title properties", async () => {
    const name = "requests/2026/x,y:z%25\n::error file=forged::pwned.yaml";
    // A folder, not a glob: the core's globs do not match a name with a line break.
    const r = await runAction({ workspace: repo({ [name]: "a: [\n" }), inputs: { paths: "requests" } });
    expect(r.code).toBe(1);
    const lines = workflowCommands(r.stdout);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith("::error file=requests/2026/x%2Cy%3Az%2525%0A%3A%3Aerror file=forged%3A%3Apwned.yaml,line=2,col=1,title=requests/2026/x%2Cy%3Az%2525 %3A%3Aerror file=forged%3A%3Apwned.yaml%3A2%3A1::")).toBe(true);
    expect(parseCommand(lines[0]!).props.file).toBe(name);
  });

  it("HTML and table pipes in a message stay inert in the summary", async () => {
    const r = await runAction({
      workspace: repo({ "requests/2026/html.yaml": RESTART(`reason: "OPS-3 html"\nparams: { service: web, environment: production, "<img src=x onerror=alert(1)>|x": 1 }\n`) }),
      inputs: { paths: "requests/2026/html.yaml" },
    });
    expect(r.summary).toContain('"&lt;img src=x onerror=alert(1)&gt;\\|x"');
    expect(r.summary).not.toContain("<img");
  });
});

describe("plan", () => {
  it("writes each valid request's plan, Mermaid graph included, to the summary", async () => {
    const r = await runAction({ workspace: EXAMPLE_REPO, inputs: { command: "plan", paths: "requests/**" } });
    expect(r.code).toBe(0);
    expect(workflowCommands(r.stdout)).toEqual([]);
    expect(r.outputs).toEqual({ problems: "0" });
    const registry = defaultRegistry();
    for (const [file, workflow] of [
      ["requests/2026/ops-1302-restart-payments.yaml", "restart-service"],
      ["requests/databases/ops-1234-rotate-orders.yaml", "rotate-db-credentials"],
    ] as const) {
      const loaded = await loadRequestForRun(file, { registry, cwd: EXAMPLE_REPO });
      expect(loaded.problems).toEqual([]);
      const mermaid = renderPlanMermaid(buildPlan(file, loaded.request, loaded.workflow));
      expect(mermaid.startsWith("graph TD\n")).toBe(true);
      expect(r.summary).toContain(`### \`${file}\` → ${workflow}\n\nReason: ${loaded.request.reason}\n\n\`\`\`mermaid\n${mermaid}\`\`\`\n`);
    }
    expect(r.summary.startsWith("## Clutch Luigi: plan\n\n2 files valid.\n")).toBe(true);
  });

  it("annotates an invalid request, plans the valid ones, and fails", async () => {
    const r = await runAction({
      workspace: repo({ "requests/2026/broken.yaml": RESTART('reason: "OPS-4 broken"\nparams: { service: web, environment: moon }\n') }),
      inputs: { command: "plan", paths: "requests/**" },
    });
    expect(r.code).toBe(1);
    const annotations = workflowCommands(r.stdout);
    expect(annotations).toHaveLength(1);
    expect(annotations[0]!.startsWith("::error file=requests/2026/broken.yaml,line=5,col=38,title=requests/2026/broken.yaml%3A5%3A38::")).toBe(true);
    expect(annotations[0]).toContain("environment");
    expect(r.outputs).toEqual({ problems: "1" });
    expect(r.summary).toContain("### `requests/2026/ops-1302-restart-payments.yaml` → restart-service");
    expect(r.summary).not.toContain("### `requests/2026/broken.yaml`");
  });
});
