/**
 * The `clutch-luigi` command: dispatch to a subcommand, turn usage errors into exit
 * code 2 with a message, and never show a user a stack trace for their own mistake.
 */
import { readFileSync } from "node:fs";
import { closest } from "../formats/suggest.js";
import type { CliIO, Command } from "./command.js";
import { MissingFileError, UsageError } from "./command.js";

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  validate: () => import("./commands/validate.js"),
  plan: () => import("./commands/plan.js"),
  schema: () => import("./commands/schema.js"),
  owners: () => import("./commands/owners.js"),
  policy: () => import("./commands/policy.js"),
  demo: () => import("./commands/demo.js"),
  run: () => import("./commands/run.js"),
  worker: () => import("./commands/worker.js"),
  cancel: () => import("./commands/cancel.js"),
  migrate: () => import("./commands/migrate.js"),
  audit: () => import("./commands/audit.js"),
  runs: () => import("./commands/runs.js"),
};

/** The package's version: package.json sits two folders above this file in src/ and in dist/ alike. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function help(io: CliIO): Promise<void> {
  const lines = ["Usage: clutch-luigi <command> [options]", "", "Commands:"];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const { command } = await load();
    lines.push(`  ${name.padEnd(10)} ${command.summary}`);
  }
  lines.push("", "Run clutch-luigi <command> --help for a command's options.");
  io.stdout.write(lines.join("\n") + "\n");
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    await help(io);
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    io.stdout.write(`clutch-luigi ${version()}\n`);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    const guess = closest(name, Object.keys(COMMANDS));
    io.stderr.write(`clutch-luigi: unknown command "${name}"${guess ? `; did you mean "${guess}"?` : ""}\n`);
    if (!guess) await help(io);
    return 2;
  }
  const { command } = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout.write(command.usage + "\n");
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof MissingFileError) {
      io.stderr.write(`clutch-luigi ${name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof UsageError) {
      io.stderr.write(`clutch-luigi ${name}: ${e.message}\n${command.usage}\n`);
      return 2;
    }
    const err = e as Error;
    io.stderr.write(`clutch-luigi ${name}: ${err.message}\n`);
    if (io.env.LOG_LEVEL === "debug" || io.env.LOG_LEVEL === "trace") io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
