import { readFileSync, statSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { checkFacts, evaluatePolicy, loadPolicyConfig, mergeConfig, type PolicyFacts } from "../../policy/index.js";
import { parseCli, requireFile } from "../args.js";
import { UsageError, type CliIO, type Command } from "../command.js";

export class InputError extends Error {}

/** Far above any real snapshot; a bound keeps a wrong path (a device, a disk image) from exhausting memory. */
const MAX_INPUT_BYTES = 64 * 1024 * 1024;

function readInput(io: CliIO, file: string): string {
  const full = requireFile(io.cwd, file);
  let size: number;
  try {
    const st = statSync(full);
    if (!st.isFile()) throw new InputError(`${file} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (size > MAX_INPUT_BYTES) throw new InputError(`${file} is ${size} bytes; inputs over ${MAX_INPUT_BYTES} bytes are refused`);
  try {
    return readFileSync(full, "utf8");
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** JSON is YAML, so one parser reads both; its errors carry line and column. */
export function readData(io: CliIO, file: string): unknown {
  const text = readInput(io, file);
  if (text.trim() === "") throw new InputError(`${file} is empty`);
  try {
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new InputError(`${file}: ${(e as Error).message.split("\n")[0]}`);
  }
}

export function checkedConfig(file: string, config: unknown): unknown {
  const r = loadPolicyConfig(config);
  if (!r.ok) throw new InputError(`${file} is not a valid policy:\n${r.errors.map((e) => `  ${e}`).join("\n")}`);
  return config;
}

export const command: Command = {
  name: "policy",
  summary: "evaluate the approval policy on a PR snapshot (facts) offline",
  usage: `Usage: clutch-luigi policy --facts FILE [--config FILE] [--org-config FILE]
                           [--codeowners FILE] [--now ISO-8601] [--explain]

Prints the verdict JSON that the clutch-luigi/policy check shows for the PR
described by the facts file (docs/policy.md describes its fields).
To try a policy change before merging it:
  --config FILE       use this .github/clutch-luigi.yml instead of facts.config
  --org-config FILE   organisation defaults, merged under the config
  --codeowners FILE   use this CODEOWNERS instead of facts.codeowners
  --now TIME          evaluate freeze windows at this time
  --explain           print the plain-words explanation instead of JSON

Exit status: 0 approved, 1 not approved, 2 usage or input error.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, {
      facts: { type: "string" },
      config: { type: "string" },
      "org-config": { type: "string" },
      codeowners: { type: "string" },
      now: { type: "string" },
      explain: { type: "boolean" },
    });
    if (!values.facts) throw new UsageError("--facts FILE is required");
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    try {
      const facts = readData(io, values.facts);
      const problems = checkFacts(facts);
      if (problems.length > 0) throw new InputError(`${values.facts} is not a valid facts snapshot:\n${problems.map((p) => `  ${p}`).join("\n")}`);
      const f = { ...(facts as PolicyFacts) };
      if (values.config !== undefined) f.config = checkedConfig(values.config, readData(io, values.config));
      if (values["org-config"] !== undefined) {
        // Replaces the snapshot's orgConfig rather than adding a third layer.
        const file = values["org-config"];
        const org = checkedConfig(file, readData(io, file));
        checkedConfig(`${file} merged under the repository's policy`, mergeConfig(org, f.config));
        f.orgConfig = org;
      }
      if (values.codeowners !== undefined) {
        f.codeowners = readInput(io, values.codeowners);
        f.codeownersPath = values.codeowners;
      }
      if (values.now !== undefined) {
        if (Number.isNaN(Date.parse(values.now))) throw new UsageError(`--now "${values.now}" is not an ISO 8601 time`);
        f.now = new Date(values.now).toISOString();
      }
      const verdict = evaluatePolicy(f);
      io.stdout.write(values.explain ? `${verdict.explanation}\n` : `${JSON.stringify(verdict, null, 2)}\n`);
      return verdict.approved ? 0 : 1;
    } catch (e) {
      if (e instanceof InputError) {
        io.stderr.write(`clutch-luigi policy: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  },
};
