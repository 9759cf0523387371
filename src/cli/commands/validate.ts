import { defaultRegistry } from "../../actions/index.js";
import { formatProblem, sortProblems } from "../../formats/problems.js";
import { validatePaths } from "../../formats/validate-files.js";
import { isGlob, parseCli, requireDir, requireFile } from "../args.js";
import { UsageError, type Command } from "../command.js";

export const command: Command = {
  name: "validate",
  summary: "check requests and workflows; every problem in one pass",
  usage: `Usage: clutch-luigi validate [--workflows DIR] [--quiet] PATH...

PATH may be a file, a folder (searched for *.yaml and *.yml) or a quoted glob
such as 'requests/**/*.yaml'. Every problem is printed as file:line:col: message.
Requests are checked against the nearest workflows/ folder above them, or DIR.

Exit status: 0 all valid, 1 problems found, 2 usage error.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, { workflows: { type: "string" }, quiet: { type: "boolean", short: "q" } });
    if (positionals.length === 0) throw new UsageError("name at least one file, folder or glob");
    if (values.workflows !== undefined) requireDir(io.cwd, values.workflows, "--workflows");
    for (const p of positionals) if (!isGlob(p)) requireFile(io.cwd, p);
    const reports = await validatePaths(positionals, {
      registry: defaultRegistry(),
      cwd: io.cwd,
      ...(values.workflows ? { workflowsDir: values.workflows } : {}),
    });
    const problems = sortProblems(reports.flatMap((r) => r.problems));
    for (const p of problems) io.stdout.write(`${formatProblem(p)}\n`);
    if (!values.quiet) {
      const bad = reports.filter((r) => r.problems.length > 0).length;
      io.stderr.write(
        problems.length === 0
          ? `${reports.length} file${reports.length === 1 ? "" : "s"} valid\n`
          : `${problems.length} problem${problems.length === 1 ? "" : "s"} in ${bad} of ${reports.length} file${reports.length === 1 ? "" : "s"}\n`,
      );
    }
    return problems.length === 0 ? 0 : 1;
  },
};
