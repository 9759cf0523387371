import { defaultRegistry } from "../../actions/index.js";
import { buildPlan, renderPlanMermaid, renderPlanText } from "../../formats/plan.js";
import { formatProblem } from "../../formats/problems.js";
import { loadRequestForRun } from "../../formats/validate-files.js";
import { parseCli, requireDir, requireFile } from "../args.js";
import { UsageError, type Command } from "../command.js";

const FORMATS = ["text", "mermaid", "json"] as const;

export const command: Command = {
  name: "plan",
  summary: "show the resolved DAG a request would run (text tree and Mermaid)",
  usage: `Usage: clutch-luigi plan [--workflows DIR] [--format text|mermaid|json] REQUEST

Prints the request's resolved plan: parallel stages, the DAG as an indented tree,
and a Mermaid graph TD block. With --format, only that rendering is printed.

Exit status: 0 printed, 1 the request is invalid, 2 usage error.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, { workflows: { type: "string" }, format: { type: "string" } });
    if (positionals.length !== 1) throw new UsageError("name exactly one request file");
    const format = values.format;
    if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(`--format must be one of ${FORMATS.join(", ")}`);
    }
    if (values.workflows !== undefined) requireDir(io.cwd, values.workflows, "--workflows");
    const requestPath = positionals[0]!;
    requireFile(io.cwd, requestPath);
    const loaded = await loadRequestForRun(requestPath, {
      registry: defaultRegistry(),
      cwd: io.cwd,
      ...(values.workflows ? { workflowsDir: values.workflows } : {}),
    });
    if (loaded.problems.length > 0) {
      for (const p of loaded.problems) io.stdout.write(`${formatProblem(p)}\n`);
      return 1;
    }
    const plan = buildPlan(requestPath, loaded.request, loaded.workflow);
    if (format === "json") io.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    else if (format === "mermaid") io.stdout.write(renderPlanMermaid(plan));
    else if (format === "text") io.stdout.write(renderPlanText(plan));
    else io.stdout.write(`${renderPlanText(plan)}\n\`\`\`mermaid\n${renderPlanMermaid(plan)}\`\`\`\n`);
    return 0;
  },
};
