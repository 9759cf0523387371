/**
 * A small, strict argument parser: unknown flags are usage errors rather than being
 * silently ignored, because a mistyped `--resume` must not start a fresh run.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { MissingFileError, UsageError } from "./command.js";

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

/** A file argument must exist; anything else (a folder, a FIFO) is the reading command's to refuse with its own reason. */
export function requireFile(cwd: string, file: string): string {
  const abs = path.resolve(cwd, file);
  if (!existsSync(abs)) throw new MissingFileError(file);
  return abs;
}

/** Glob characters that `validate` expands itself; such an argument may match nothing without being a missing file. */
export const isGlob = (arg: string): boolean => /[*?{[]/.test(arg);
