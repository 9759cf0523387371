import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { CODEOWNERS_MAX_BYTES, compileCodeowners, findCodeownersPath, oversizeError, type CodeownersMatcher } from "../../policy/index.js";
import { parseCli, requireFile } from "../args.js";
import { UsageError, type Command } from "../command.js";

export const command: Command = {
  name: "owners",
  summary: "show who owns paths according to a CODEOWNERS file",
  usage: `Usage: clutch-luigi owners [--codeowners FILE] PATH...

Prints one JSON line per PATH: {"path","owners":[...],"line"}, where line is the
CODEOWNERS line that decided (null when no line matches: the path is unowned; a
line with no owners un-owns and shows owners []). Without --codeowners the file
is looked up as GitHub does: .github/CODEOWNERS, CODEOWNERS, docs/CODEOWNERS.
Lines GitHub would reject are reported on stderr as FILE:line:col: message.

Exit status: 0 ok, 1 the CODEOWNERS file has errors, 2 usage or input error.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, { codeowners: { type: "string" } });
    if (positionals.length === 0) throw new UsageError("name at least one PATH");
    const file = values.codeowners ?? findCodeownersPath((p) => existsSync(resolve(io.cwd, p)));
    if (!file) {
      io.stderr.write("clutch-luigi owners: no CODEOWNERS in .github/, the root or docs/; pass --codeowners FILE\n");
      return 2;
    }
    let matcher: CodeownersMatcher;
    const full = requireFile(io.cwd, file);
    try {
      const st = statSync(full);
      if (!st.isFile()) {
        io.stderr.write(`clutch-luigi owners: ${file} is not a regular file\n`);
        return 2;
      }
      // A file GitHub refuses is refused here too, without reading it into memory.
      matcher = st.size >= CODEOWNERS_MAX_BYTES ? refused(st.size) : compileCodeowners(readFileSync(full, "utf8"));
    } catch (e) {
      io.stderr.write(`clutch-luigi owners: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      return 2;
    }
    for (const e of matcher.errors) io.stderr.write(`${file}:${e.line}:${e.column}: ${e.message}${e.suggestion ? ` (${e.suggestion})` : ""}\n`);
    for (const raw of positionals) {
      const path = raw.replace(/^\.\//, "");
      const m = matcher.match(path);
      io.stdout.write(`${JSON.stringify({ path, owners: m.owners, line: m.line })}\n`);
    }
    return matcher.errors.length > 0 ? 1 : 0;
  },
};

/** What a refused file yields: no rules, so every path is unowned, and the one error. */
function refused(bytes: number): CodeownersMatcher {
  return { rules: [], errors: [oversizeError(bytes)], match: () => ({ owners: [], line: null, rule: null }) };
}
