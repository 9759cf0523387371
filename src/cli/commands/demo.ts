/**
 * `npm run demo`: a guided tour on a fresh machine with no server — validate the
 * shipped catalog, show the plan of an example request, and point at what next.
 */
import { existsSync, mkdtempSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultRegistry } from "../../actions/index.js";
import { buildPlan, renderPlanMermaid, renderPlanText } from "../../formats/plan.js";
import { formatProblem, sortProblems } from "../../formats/problems.js";
import { loadRequestForRun, validatePaths } from "../../formats/validate-files.js";
import { parseCli } from "../args.js";
import { UsageError, type CliIO, type Command } from "../command.js";
import { command as runCommand } from "./run.js";

/**
 * A self-contained repository for the run part of the tour: it needs no cluster, no
 * database server and no network, but shows parallel stages, a retry on a transient
 * error class, step outputs feeding later steps, and rollback in reverse order.
 */
const DEMO_WORKFLOW = `apiVersion: clutch-luigi/v1
kind: Workflow
name: demo-rollout
description: Roll a change out to two regions behind a canary; undo everything if verification fails
params:
  type: object
  additionalProperties: false
  required: [change]
  properties:
    change: { type: string, pattern: "^[a-z0-9-]+$" }
    verifyFailures: { type: integer, minimum: 0, default: 0 }
lock: "demo:\${{ params.change }}"
steps:
  - id: canary
    uses: fail
    with: { times: 1, code: connection, message: "canary endpoint refused the connection" }
    retry: { attempts: 3, backoff: 200ms, on: [connection] }
    rollback: { uses: log, with: { message: "canary: restored" } }
  - id: eu
    needs: [canary]
    uses: log
    with: { message: "eu: \${{ params.change }} applied" }
    rollback: { uses: log, with: { message: "eu: undone (\${{ steps.eu.outputs.message }})" } }
  - id: us
    needs: [canary]
    uses: sleep
    with: { duration: 300ms }
    rollback: { uses: log, with: { message: "us: undone" } }
  - id: verify
    needs: [eu, us]
    uses: fail
    with: { times: "\${{ params.verifyFailures }}", code: http-4xx, message: "health check answered 409" }
`;

async function runDemoRequests(io: CliIO, say: (s?: string) => void, dir: string | undefined): Promise<number> {
  // Kept after the tour (its path is printed) so the runs can be looked at; --dir picks where.
  const root = dir ? path.resolve(io.cwd, dir) : mkdtempSync(path.join(tmpdir(), "clutch-luigi-demo-"));
  mkdirSync(path.join(root, "workflows"), { recursive: true });
  mkdirSync(path.join(root, "requests"));
  writeFileSync(path.join(root, "workflows", "demo-rollout.yaml"), DEMO_WORKFLOW);
  const request = (extra: string) =>
    `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: demo-rollout\nreason: "DEMO-1 show the engine"\nparams: { change: feature-x${extra} }\n`;
  writeFileSync(path.join(root, "requests", "ok.yaml"), request(""));
  writeFileSync(path.join(root, "requests", "bad.yaml"), request(", verifyFailures: 99"));
  // The tour always uses a fresh embedded database, whatever DATABASE_URL says.
  const env: NodeJS.ProcessEnv = { ...io.env, CLUTCH_LUIGI_DATA_DIR: path.join(root, ".clutch-luigi") };
  delete env.DATABASE_URL;
  const indent = (s: string): string => s.replace(/^(?=.)/gm, "   ");
  const runIo: CliIO = {
    ...io,
    cwd: root,
    env,
    stdout: { write: (s: string) => io.stdout.write(indent(s)) },
    stderr: { write: (s: string) => io.stdout.write(indent(s)) },
  };
  say("   $ clutch-luigi run requests/ok.yaml");
  const ok = await runCommand.run(["requests/ok.yaml"], runIo);
  say();
  say("   $ clutch-luigi run requests/bad.yaml      # verification fails: completed steps are undone, leaves first");
  const bad = await runCommand.run(["requests/bad.yaml"], runIo);
  say();
  say(`   (the runs live in the embedded database under ${env.CLUTCH_LUIGI_DATA_DIR})`);
  return ok === 0 && bad === 1 ? 0 : 1;
}

/** The package root, wherever the package is installed. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export const command: Command = {
  name: "demo",
  summary: "a tour: validate the shipped catalog and plan an example request",
  usage: `Usage: clutch-luigi demo [--dir DIR]

Validates the shipped catalog, plans an example request, then runs two requests on a
fresh embedded database in DIR (default: a new temporary folder, kept and printed).`,
  async run(argv, io) {
    const { values } = parseCli(argv, { dir: { type: "string" } });
    if (values.dir !== undefined) {
      const dir = path.resolve(io.cwd, values.dir);
      if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
        throw new UsageError(`--dir ${values.dir} must be an empty folder or not exist yet`);
      }
    }
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
    say("== 3. Run requests durably on the embedded database (no server needed)");
    if ((await runDemoRequests(io, say, values.dir)) !== 0) return 1;
    say();
    say("Next: README.md explains requests, workflows, policy and running the app.");
    return 0;
  },
};
