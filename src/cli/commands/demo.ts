/**
 * `npm run demo`: a guided tour on a fresh machine with no server — validate the
 * shipped catalog, show the plan of an example request, and point at what next.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultRegistry } from "../../actions/index.js";
import { buildPlan, renderPlanMermaid, renderPlanText } from "../../spec/plan.js";
import { formatProblem, sortProblems } from "../../spec/problems.js";
import { loadRequestForRun, validatePaths } from "../../spec/validate-files.js";
import { parseCli } from "../args.js";
import type { Command } from "../command.js";

/** The package root, wherever the package is installed. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export const command: Command = {
  name: "demo",
  summary: "a tour: validate the shipped catalog and plan an example request",
  usage: "Usage: clutch-luigi demo",
  async run(argv, io) {
    parseCli(argv, {});
    const say = (s = ""): void => void io.stdout.write(`${s}\n`);
    const registry = defaultRegistry();

    say("== 1. Validate the workflow catalog and its example requests");
    say("   $ clutch-luigi validate workflows/");
    const reports = await validatePaths(["workflows"], { registry, cwd: PACKAGE_ROOT });
    const problems = sortProblems(reports.flatMap((r) => r.problems));
    for (const r of reports) say(`   ${r.problems.length ? "✗" : "✓"} ${r.file} (${r.kind ?? "?"})`);
    for (const p of problems) say(`   ${formatProblem(p)}`);
    if (problems.length) return 1;

    const example = "workflows/examples/rotate-db-credentials.yaml";
    say();
    say(`== 2. Plan an example request`);
    say(`   $ clutch-luigi plan ${example}`);
    const loaded = await loadRequestForRun(example, { registry, cwd: PACKAGE_ROOT });
    if (loaded.problems.length) {
      for (const p of loaded.problems) say(`   ${formatProblem(p)}`);
      return 1;
    }
    const plan = buildPlan(example, loaded.request, loaded.workflow);
    say(renderPlanText(plan).replace(/^/gm, "   ").trimEnd());
    say();
    say("   ```mermaid");
    say(renderPlanMermaid(plan).replace(/^/gm, "   ").trimEnd());
    say("   ```");
    say();
    say("Next: README.md explains requests, workflows, policy and running the app.");
    return 0;
  },
};
