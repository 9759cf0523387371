/**
 * A small, strict argument parser: unknown flags are usage errors rather than being
 * silently ignored, because a mistyped `--resume` must not start a fresh run.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { UsageError } from "./command.js";

type Spec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

export function parseCli<S extends Spec>(argv: string[], options: S) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A folder option must name an existing folder: a typo must not read as "every request is invalid". */
export function requireDir(cwd: string, dir: string, flag: string): string {
  const abs = path.resolve(cwd, dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new UsageError(`${flag} ${dir}: no such folder`);
  return abs;
}
