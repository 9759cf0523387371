import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { ActionRegistry } from "../../src/actions/registry.js";
import { ActionInputError, getInput, type Env, type Runner } from "./runner.js";

/** What every command gets: the runner's environment, the workspace (the checkout) and the I/O. */
export interface ActionContext {
  env: Env;
  /** `GITHUB_WORKSPACE`: relative inputs and annotation paths are relative to it. */
  cwd: string;
  runner: Runner;
  registry: ActionRegistry;
}

export const DEFAULT_PATHS = "requests/** workflows/**";

/** `paths`: globs, files or folders separated by spaces or newlines (YAML block scalars give newlines). */
export function pathsInput(ctx: ActionContext): string[] {
  return (getInput(ctx.env, "paths") || DEFAULT_PATHS).split(/\s+/).filter((p) => p !== "");
}

/** `workflows`: the catalog folder requests are checked against; unset, the nearest `workflows/` above each. */
export function workflowsInput(ctx: ActionContext): string | undefined {
  const dir = getInput(ctx.env, "workflows");
  if (dir === "") return undefined;
  const abs = path.resolve(ctx.cwd, dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new ActionInputError(`input workflows: ${dir} is not a folder in the workspace`);
  return dir;
}
