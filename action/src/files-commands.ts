/**
 * `validate` and `plan`: the CLI's checks over the files of the checkout,
 * reported the way a runner shows them — one error annotation per problem on
 * the PR diff, a table (and plans) in the job summary, a failed step when
 * anything is wrong.
 */
import { buildPlan, renderPlanMermaid, renderPlanText, sortProblems, validatePaths, loadRequestForRun, type FileReport, type Problem } from "../../src/formats/index.js";
import { annotationOf, fenced, inert } from "../../src/github/render.js";
import { pathsInput, workflowsInput, type ActionContext } from "./context.js";
import { table } from "./markdown.js";

/** The runner caps a step's summary at 1 MiB; a table this long is already past reading. */
export const MAX_SUMMARY_ROWS = 500;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

interface Checked {
  reports: FileReport[];
  problems: Problem[];
  workflowsDir: string | undefined;
}

async function check(ctx: ActionContext): Promise<Checked> {
  const workflowsDir = workflowsInput(ctx);
  const reports = await validatePaths(pathsInput(ctx), { registry: ctx.registry, cwd: ctx.cwd, ...(workflowsDir ? { workflowsDir } : {}) });
  return { reports, problems: sortProblems(reports.flatMap((r) => r.problems)), workflowsDir };
}

/** Annotations, the summary table and the `problems` output. */
function report(ctx: ActionContext, heading: string, { reports, problems }: Checked): void {
  for (const p of problems) {
    const a = annotationOf(p);
    ctx.runner.command("error", { file: a.path, line: a.start_line, col: a.start_column, title: a.title }, a.message);
  }
  const bad = reports.filter((r) => r.problems.length > 0).length;
  const headline =
    problems.length === 0
      ? `${plural(reports.length, "file")} valid.`
      : `**${plural(problems.length, "problem")}** in ${bad} of ${plural(reports.length, "file")}.`;
  const out = [`## ${heading}`, "", headline];
  if (problems.length > 0) {
    const rows = problems.slice(0, MAX_SUMMARY_ROWS).map((p) => [`\`${p.file}\``, String(p.line), String(p.col), p.message]);
    out.push("", table(["File", "Line", "Col", "Problem"], rows));
    if (problems.length > MAX_SUMMARY_ROWS) out.push("", `… and ${problems.length - MAX_SUMMARY_ROWS} more: every problem is in the step's log.`);
  }
  ctx.runner.summary(`${out.join("\n")}\n`);
  ctx.runner.setOutput("problems", String(problems.length));
}

export async function runValidate(ctx: ActionContext): Promise<number> {
  const checked = await check(ctx);
  report(ctx, "Clutch Luigi: validate", checked);
  return checked.problems.length === 0 ? 0 : 1;
}

/** Validates like `validate`, then writes the plan of every valid request to the summary. */
export async function runPlan(ctx: ActionContext): Promise<number> {
  const checked = await check(ctx);
  report(ctx, "Clutch Luigi: plan", checked);
  const requests = checked.reports.filter((r) => r.kind === "Request" && r.problems.length === 0);
  const sections: string[] = [];
  for (const r of requests) {
    const loaded = await loadRequestForRun(r.file, { registry: ctx.registry, cwd: ctx.cwd, ...(checked.workflowsDir ? { workflowsDir: checked.workflowsDir } : {}) });
    if (loaded.problems.length > 0) continue; // reported above: the same file, the same checks
    const plan = buildPlan(r.file, loaded.request, loaded.workflow);
    sections.push(
      `### \`${inert(r.file)}\` → ${inert(plan.workflow)}`,
      "",
      `Reason: ${inert(plan.reason)}`,
      "",
      fenced(renderPlanMermaid(plan), "mermaid"),
      "",
      fenced(renderPlanText(plan), "text"),
      "",
    );
  }
  ctx.runner.summary(sections.length > 0 ? sections.join("\n") : "No valid request to plan.\n");
  return checked.problems.length === 0 ? 0 : 1;
}
