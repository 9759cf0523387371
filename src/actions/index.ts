import { ActionRegistry } from "./registry.js";
import { fail } from "./builtin/fail.js";
import { log } from "./builtin/log.js";
import { noop } from "./builtin/noop.js";
import { sleep } from "./builtin/sleep.js";
import { githubTeamMembership } from "./builtin/github-team-membership.js";
import { githubWorkflowDispatch } from "./builtin/github-workflow-dispatch.js";
import { httpRequest } from "./builtin/http-request.js";
import { postgresRotatePassword } from "./builtin/postgres-rotate-password.js";
import { postgresSql } from "./builtin/postgres-sql.js";
import { secretGenerate } from "./builtin/secret-generate.js";
import { shell } from "./builtin/shell.js";
import { wait } from "./builtin/wait.js";
import type { Action } from "./types.js";

/**
 * Every action that ships with Clutch Luigi. `any`: each action has its own input and
 * output types, and a list of them can only be typed by erasing those (the engine
 * checks inputs against each action's JSON Schema at run time instead).
 */
export function builtinActions(): Action<any, any>[] {
  return [
    noop, log, sleep, fail,
    httpRequest, githubWorkflowDispatch, githubTeamMembership, postgresRotatePassword, postgresSql, secretGenerate, shell, wait,
  ];
}

export function defaultRegistry(): ActionRegistry {
  return new ActionRegistry(builtinActions());
}

export { ActionRegistry } from "./registry.js";
export * from "./types.js";
