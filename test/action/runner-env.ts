/**
 * Runs the bundled action as GitHub's runner does: a fresh `node
 * action/dist/index.js` whose inputs are `INPUT_*` variables, whose outputs
 * and job summary go to the files named by `GITHUB_OUTPUT` and
 * `GITHUB_STEP_SUMMARY`, and whose event is the JSON file at
 * `GITHUB_EVENT_PATH`. Asynchronous, so a fake GitHub served by the test
 * process keeps answering while the action runs.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const BUNDLE = path.join(ROOT, "action/dist/index.js");
export const EXAMPLE_REPO = path.join(ROOT, "docs/example-ops-repo");

export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** GITHUB_OUTPUT as the runner parses it (both `name=value` and heredoc entries). */
  outputs: Record<string, string>;
  /** Raw GITHUB_OUTPUT, to check its framing. */
  outputFile: string;
  summary: string;
}

export interface RunOptions {
  inputs: Record<string, string>;
  workspace: string;
  env?: Record<string, string>;
  /** Written to a file named by GITHUB_EVENT_PATH. */
  event?: unknown;
}

/** The runner's reading of GITHUB_OUTPUT (actions/runner's SetOutputFileCommand), written independently of the action's code. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc as unknown as [string, string, string];
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]!);
      if (i >= lines.length) throw new Error(`output ${name}: delimiter ${delim} never closes`);
      if (name in out) throw new Error(`output ${name} set twice`);
      out[name] = value.join("\n");
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`not an output line: ${JSON.stringify(line)}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The runner's reading of stdout: each line starting with `::` is one workflow command. */
export function workflowCommands(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l.startsWith("::"));
}

export async function runAction(opts: RunOptions): Promise<ActionRun> {
  const dir = mkdtempSync(path.join(tmpdir(), "cl-action-"));
  try {
    const outputPath = path.join(dir, "output");
    const summaryPath = path.join(dir, "summary");
    writeFileSync(outputPath, "");
    writeFileSync(summaryPath, "");
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      GITHUB_ACTIONS: "true",
      GITHUB_WORKSPACE: opts.workspace,
      GITHUB_OUTPUT: outputPath,
      GITHUB_STEP_SUMMARY: summaryPath,
      RUNNER_TEMP: dir,
      ...opts.env,
    };
    for (const [k, v] of Object.entries(opts.inputs)) env[`INPUT_${k.replace(/ /g, "_").toUpperCase()}`] = v;
    if (opts.event !== undefined) {
      env.GITHUB_EVENT_PATH = path.join(dir, "event.json");
      writeFileSync(env.GITHUB_EVENT_PATH, JSON.stringify(opts.event));
    }
    const child = spawn(process.execPath, [BUNDLE], { cwd: opts.workspace, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    const outputFile = readFileSync(outputPath, "utf8");
    return { code, stdout, stderr, outputs: parseOutputFile(outputFile), outputFile, summary: readFileSync(summaryPath, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A scratch copy of the example ops repository, to break on purpose. */
export function scratchRepo(files: Record<string, string> = {}): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "cl-ops-"));
  cpSync(EXAMPLE_REPO, dir, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    const full = path.join(dir, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
