/**
 * The filesystem side of validation for the CLI: expanding paths, folders and globs,
 * and finding the `workflows/` folder a request belongs to. The app reads the same
 * files from the base branch instead and never touches this module.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ActionRegistry } from "../actions/registry.js";
import { buildCatalog, type LoadedCatalog } from "./catalog.js";

const YAML_FILE = /\.ya?ml$/;
const GLOB_CHARS = /[*?[{]/;

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile() && YAML_FILE.test(entry.name)) out.push(full);
  }
}

export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export interface CollectedFiles {
  files: string[];
  /** Arguments that named nothing. */
  missing: string[];
}

/** Expand CLI arguments (files, folders, globs) into YAML files, in a stable order. */
export function collectFiles(args: readonly string[], cwd: string): CollectedFiles {
  const files: string[] = [];
  const missing: string[] = [];
  for (const arg of args) {
    const abs = path.resolve(cwd, arg);
    if (GLOB_CHARS.test(arg)) {
      const segments = arg.split("/");
      const firstGlob = segments.findIndex((s) => GLOB_CHARS.test(s));
      const baseRel = segments.slice(0, firstGlob).join("/") || ".";
      const base = path.resolve(cwd, baseRel);
      const pattern = globToRegExp(segments.slice(firstGlob).join("/"));
      const found: string[] = [];
      if (existsSync(base) && statSync(base).isDirectory()) walk(base, found);
      const matched = found.filter((f) => pattern.test(path.relative(base, f).split(path.sep).join("/")));
      if (matched.length === 0) missing.push(arg);
      files.push(...matched);
    } else if (!existsSync(abs)) missing.push(arg);
    else if (statSync(abs).isDirectory()) {
      const before = files.length;
      walk(abs, files);
      if (files.length === before) missing.push(arg);
    } else files.push(abs);
  }
  return { files: [...new Set(files)], missing };
}

/** The nearest `workflows/` folder at or above the folder holding `file`. */
export function findWorkflowsDir(file: string): string | undefined {
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    const candidate = path.join(dir, "workflows");
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Load every workflow directly inside `dir` (not its subfolders, which hold examples). */
export async function loadCatalogDir(dir: string, registry: ActionRegistry, cwd = process.cwd()): Promise<LoadedCatalog> {
  const names = readdirSync(dir).filter((n) => YAML_FILE.test(n)).sort();
  const files = await Promise.all(
    names.map(async (n) => {
      const full = path.join(dir, n);
      return { path: path.relative(cwd, full) || full, content: await readFile(full) };
    }),
  );
  return buildCatalog(files, registry);
}
