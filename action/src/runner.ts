/**
 * The runner's side of a JavaScript action, as GitHub's toolkit defines it:
 * inputs arrive as `INPUT_<NAME>` variables, annotations are workflow commands
 * on stdout, outputs and the job summary are files the runner names. Written
 * here rather than taken from @actions/core: it is these few functions.
 */
import { randomBytes } from "node:crypto";
import { appendFileSync } from "node:fs";

export type Env = Readonly<Record<string, string | undefined>>;

export class ActionInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ActionInputError";
  }
}

/** The input as the runner passes it: `INPUT_` + the name upper-cased with spaces as `_`, trimmed. */
export function getInput(env: Env, name: string): string {
  return (env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}

/** A workflow command's message: only `%`, CR and LF are special there. */
export function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/** A property value: also `:` and `,`, which would end the value or the property list. */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

/** `::name key=value,…::message`, every part escaped so no text can start a second command. */
export function workflowCommand(name: string, props: Record<string, string | number | undefined>, message: string): string {
  const list = Object.entries(props)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(",");
  return `::${name}${list ? ` ${list}` : ""}::${escapeData(message)}`;
}

/** One `name<<DELIM` … `DELIM` entry, the delimiter random and checked absent from the value. */
export function outputEntry(name: string, value: string): string {
  let delim: string;
  do delim = `ghadelimiter_${randomBytes(16).toString("hex")}`;
  while (value.includes(delim) || name.includes(delim));
  return `${name}<<${delim}\n${value}\n${delim}\n`;
}

export interface RunnerFiles {
  /** `GITHUB_OUTPUT`; without it (an old runner, a local run) outputs are only logged. */
  output?: string;
  /** `GITHUB_STEP_SUMMARY`. */
  summary?: string;
}

export class Runner {
  constructor(
    private readonly files: RunnerFiles,
    private readonly stdout: { write(s: string): unknown },
  ) {}

  /** One log line; line breaks are flattened so that no text can begin a line the runner reads as a command. */
  log(line: string): void {
    this.stdout.write(`${line.replace(/[\r\n]+/g, " ")}\n`);
  }

  command(name: string, props: Record<string, string | number | undefined>, message: string): void {
    this.stdout.write(`${workflowCommand(name, props, message)}\n`);
  }

  setOutput(name: string, value: string): void {
    if (this.files.output) appendFileSync(this.files.output, outputEntry(name, value));
    else this.log(`output ${name}=${value}`);
  }

  summary(markdown: string): void {
    if (this.files.summary) appendFileSync(this.files.summary, markdown.endsWith("\n") ? markdown : `${markdown}\n`);
  }
}
