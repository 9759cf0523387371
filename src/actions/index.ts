import { ActionRegistry } from "./registry.js";
import { fail } from "./builtin/fail.js";
import { log } from "./builtin/log.js";
import { noop } from "./builtin/noop.js";
import { sleep } from "./builtin/sleep.js";
import type { Action } from "./types.js";

/** Every action that ships with Clutch Luigi. */
export function builtinActions(): Action<any, any>[] {
  return [noop, log, sleep, fail];
}

export function defaultRegistry(): ActionRegistry {
  return new ActionRegistry(builtinActions());
}

export { ActionRegistry } from "./registry.js";
export * from "./types.js";
