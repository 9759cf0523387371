/**
 * The action's entry point, bundled into action/dist/index.js: read the
 * runner's environment, run one command, set the exit code. Every failure
 * becomes one error annotation and a failed step, never a stack trace alone.
 */
import { defaultRegistry } from "../../src/actions/index.js";
import { InputError } from "../../src/cli/commands/policy.js";
import type { ActionContext } from "./context.js";
import { runPlan, runValidate } from "./files-commands.js";
import { runPolicy } from "./policy.js";
import { ActionInputError, getInput, Runner, type Env } from "./runner.js";

const COMMANDS: Record<string, (ctx: ActionContext) => Promise<number>> = { validate: runValidate, plan: runPlan, policy: runPolicy };

export async function main(env: Env, stdout: { write(s: string): unknown }): Promise<number> {
  const runner = new Runner({ output: env.GITHUB_OUTPUT, summary: env.GITHUB_STEP_SUMMARY }, stdout);
  try {
    const name = getInput(env, "command") || "validate";
    const run = COMMANDS[name];
    if (!run) throw new ActionInputError(`input command: "${name}" is not one of ${Object.keys(COMMANDS).join(", ")}`);
    return await run({ env, cwd: env.GITHUB_WORKSPACE || process.cwd(), runner, registry: defaultRegistry() });
  } catch (e) {
    const expected = e instanceof ActionInputError || e instanceof InputError;
    // An Octokit error's message names the route and status; the token is in no message.
    runner.command("error", { title: "Clutch Luigi" }, expected ? (e as Error).message : `unexpected failure: ${(e as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.env, process.stdout);
