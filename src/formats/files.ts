/**
 * The filesystem side of validation for the CLI: expanding paths, folders and globs,
 * and finding the `workflows/` folder a request belongs to. The app reads the same
 * files from the base branch instead and never touches this module.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { lstat, open, stat } from "node:fs/promises";
import path from "node:path";
import type { ActionRegistry } from "../actions/registry.js";
import { buildCatalog, workflowNameOf, type LoadedCatalog } from "./catalog.js";
import { MAX_FILE_BYTES } from "./source.js";

export type ReadResult = { ok: true; bytes: Uint8Array } | { ok: false; message: string };

/**
 * Read a YAML file, but never more than the size limit plus one byte: a 2 GiB file (or
 * one still growing) must not be pulled into memory to be rejected. Anything but a
 * regular file is refused before it is opened, because opening a FIFO blocks and
 * reading /dev/zero never ends.
 */
export async function readBoundedFile(file: string): Promise<ReadResult> {
  // The app reads files from git, where a link is not its target: validating the target
  // here would pass a file the app then cannot use.
  if ((await lstat(file)).isSymbolicLink()) {
    return { ok: false, message: "symbolic link: Clutch Luigi reads files from git and does not follow links" };
  }
  const info = await stat(file);
  if (!info.isFile()) return { ok: false, message: "not a regular file" };
  const tooLarge = (size: number | string): ReadResult => ({
    ok: false,
    message: `file is ${size} bytes; the limit is ${MAX_FILE_BYTES} bytes (1 MiB)`,
  });
  if (info.size > MAX_FILE_BYTES) return tooLarge(info.size);
  const handle = await open(file, "r");
  try {
    const buf = new Uint8Array(MAX_FILE_BYTES + 1);
    let used = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, used, buf.length - used, null);
      if (bytesRead === 0) break;
      used += bytesRead;
      if (used > MAX_FILE_BYTES) return tooLarge(`more than ${MAX_FILE_BYTES}`);
    }
    return { ok: true, bytes: buf.subarray(0, used) };
  } finally {
    await handle.close();
  }
}

const YAML_FILE = /\.ya?ml$/;
const GLOB_CHARS = /[*?[{]/;

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    // Links are listed too, so that validation can refuse them rather than skip them silently.
    else if ((entry.isFile() || entry.isSymbolicLink()) && YAML_FILE.test(entry.name)) out.push(full);
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
    else if (c === "{" && glob.indexOf("}", i) > i) {
      // {prod,staging}: alternatives of plain text (no nesting), as shells expand them.
      const close = glob.indexOf("}", i);
      const alts = glob.slice(i + 1, close).split(",").map((a) => a.replace(/[.+^${}()|[\]\\*?]/g, "\\$&"));
      re += `(?:${alts.join("|")})`;
      i = close;
    } else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  // lint-regex: allow — globs come from the command line of the local CLI or Action, never from a request to the server
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
  const files = [];
  const unreadable = [];
  for (const n of names) {
    const full = path.join(dir, n);
    const rel = path.relative(cwd, full) || full;
    const read = await readBoundedFile(full);
    if (read.ok) files.push({ path: rel, content: read.bytes });
    else unreadable.push({ name: n, problem: { file: rel, line: 1, col: 1, message: read.message } });
  }
  const loaded = buildCatalog(files, registry);
  if (unreadable.length === 0) return loaded;
  // A workflow file that cannot be read still exists: requests naming it are told it is invalid.
  const catalog = new Map(loaded.catalog);
  for (const u of unreadable) catalog.set(workflowNameOf(u.name), undefined);
  return { catalog, problems: [...loaded.problems, ...unreadable.map((u) => u.problem)] };
}
