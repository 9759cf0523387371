import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import type { Store } from "../../../store/db.js";
import { auditRowPages, chainHead, readSnapshot } from "../../../store/audit-query.js";
import { csvHeader, csvLine, jsonlLine, type ExportFormat } from "../../../audit/export-format.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";
import { resolveRunId, runIdOption } from "./options.js";

export const usage = `Usage: clutch-luigi audit export [--run ID] [--format jsonl|csv] [--out FILE]

Writes every audit row (or one run's) in chain order with seq, at, kind, run_id,
step_id, actor, data, prev_hash, hash and body, read in one consistent snapshot,
so anyone can re-verify it without this program: hash = sha256(prev_hash + "\\n"
+ body). docs/audit.md has the rule and a standalone verification script.
Writes to stdout unless --out is given; a summary goes to stderr.`;

export interface ExportOptions {
  run?: string;
  format: ExportFormat;
  out?: string;
}

export function parseExport(argv: string[], cwd: string): ExportOptions {
  const { values, positionals } = parseCli(argv, { run: { type: "string" }, format: { type: "string" }, out: { type: "string", short: "o" } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const format = values.format ?? "jsonl";
  if (format !== "jsonl" && format !== "csv") throw new UsageError(`--format is jsonl or csv, not "${format}"`);
  if (values.out === "") throw new UsageError("--out needs a file name");
  const run = runIdOption(values.run, "--run");
  return { ...(run ? { run } : {}), format, ...(values.out ? { out: resolve(cwd, values.out) } : {}) };
}

export async function executeExport(store: Store, opts: ExportOptions, io: CliIO): Promise<number> {
  // Written beside the target and renamed at the end, so a failed export never leaves
  // a shorter file that would still verify; opened first so a bad path fails early.
  const partial = opts.out ? `${opts.out}.partial-${process.pid}` : null;
  const fd = partial ? openSync(partial, "w") : null;
  let open = fd !== null;
  let done = false;
  const write = (text: string): void => {
    if (fd !== null) writeSync(fd, text);
    else io.stdout.write(text);
  };
  try {
    const summary = await readSnapshot(store.db, async (trx) => {
      const runId = opts.run ? await resolveRunId(trx, opts.run) : undefined;
      if (opts.format === "csv") write(csvHeader());
      let count = 0;
      let first: number | null = null;
      let last: { seq: number; hash: string } | null = null;
      for await (const page of auditRowPages(trx, runId ? { runId } : {})) {
        write(page.map(opts.format === "csv" ? csvLine : jsonlLine).join(""));
        count += page.length;
        first ??= page[0]!.seq;
        last = page[page.length - 1]!;
      }
      return { runId, count, first, last, head: await chainHead(trx) };
    });
    const range = summary.first !== null ? ` (seq ${summary.first}..${summary.last!.seq}, last hash ${summary.last!.hash})` : "";
    const what = summary.runId ? `run ${summary.runId}: ` : "";
    if (open) (closeSync(fd!), (open = false));
    if (partial) renameSync(partial, opts.out!);
    done = true;
    io.stderr.write(`${what}exported ${summary.count} rows${range}${opts.out ? ` to ${opts.out}` : ""}; chain head seq ${summary.head.seq}, hash ${summary.head.hash || "(none)"}\n`);
    return 0;
  } finally {
    if (open) closeSync(fd!);
    if (!done && partial) rmSync(partial, { force: true });
  }
}
