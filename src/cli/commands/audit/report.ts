import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import type { Store } from "../../../store/db.js";
import { auditRowPages, chainHead, readSnapshot } from "../../../store/audit-query.js";
import { PeriodReport, refusalOf } from "../../../audit/report.js";
import { reportWriter, type ReportFormat } from "../../../audit/report-format.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";
import { instantOption } from "./options.js";

export const usage = `Usage: clutch-luigi audit report --since ISO [--until ISO] [--repository OWNER/REPO]
                              [--format md|csv|json] [--out FILE]

The evidence of a period, read from the hashed trail in one snapshot: every run
requested in [since, until) with requester, approvers (review ids) and the policy
that passed it, workflow, outcome, duration, break-glass and follow-up state,
failed steps and operator actions; every refusal and who was refused; and the
chain's last row in the period and head, to check with audit verify --anchor.
  --until ISO       exclusive end (default: now); rows after it are not read
  --repository R    only runs and refusals of this repository
  --format          md (default; paste into evidence), csv (a spreadsheet), json
  --out FILE        write there (atomically) instead of stdout`;

export interface ReportOptions {
  since: Date;
  until: Date;
  repository?: string;
  format: ReportFormat;
  out?: string;
}

export function parseReport(argv: string[], cwd: string, now = new Date()): ReportOptions {
  const { values, positionals } = parseCli(argv, {
    since: { type: "string" },
    until: { type: "string" },
    repository: { type: "string" },
    format: { type: "string" },
    out: { type: "string", short: "o" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const since = instantOption(values.since, "--since");
  if (!since) throw new UsageError("--since is required (the start of the period, e.g. 2026-10-01)");
  const until = instantOption(values.until, "--until") ?? now;
  if (since >= until) throw new UsageError("--since must be before --until");
  const format = values.format ?? "md";
  if (format !== "md" && format !== "csv" && format !== "json") throw new UsageError(`--format is md, csv or json, not "${format}"`);
  if (values.repository !== undefined && !/^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/.test(values.repository)) {
    throw new UsageError(`--repository takes OWNER/REPO, got "${values.repository}"`);
  }
  if (values.out === "") throw new UsageError("--out needs a file name");
  return { since, until, format, ...(values.repository ? { repository: values.repository } : {}), ...(values.out ? { out: resolve(cwd, values.out) } : {}) };
}

const REFUSAL_KINDS = "\\.(refused|rejected|denied)$";

export async function executeReport(store: Store, opts: ReportOptions, io: CliIO, now = new Date()): Promise<number> {
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
      const w = reportWriter(opts.format, write);
      const period = { since: opts.since, until: opts.until };
      w.begin({ since: opts.since.toISOString(), until: opts.until.toISOString(), repository: opts.repository ?? null, generatedAt: now.toISOString() });
      const report = new PeriodReport(opts.repository ? { repository: opts.repository } : {});
      // Rows are streamed a page at a time; the report keeps one record per run.
      for await (const page of auditRowPages(trx, period)) for (const row of page) report.add(row);
      const runs = report.result();
      w.runs(runs);
      let refusals = 0;
      for await (const page of auditRowPages(trx, { ...period, kindRegex: REFUSAL_KINDS })) {
        for (const row of page) {
          const f = refusalOf(row);
          if (opts.repository && f.repository?.toLowerCase() !== opts.repository.toLowerCase()) continue;
          w.refusal(f);
          refusals++;
        }
      }
      const head = await chainHead(trx);
      w.end({ rows: report.rows, runs: runs.length, refusals, periodEnd: report.lastRow, head });
      return { runs: runs.length, refusals, rows: report.rows, head };
    });
    if (open) (closeSync(fd!), (open = false));
    if (partial) renameSync(partial, opts.out!);
    done = true;
    io.stderr.write(`report: ${summary.runs} runs, ${summary.refusals} refusals from ${summary.rows} rows${opts.out ? ` to ${opts.out}` : ""}; chain head seq ${summary.head.seq}\n`);
    return 0;
  } finally {
    if (open) closeSync(fd!);
    if (!done && partial) rmSync(partial, { force: true });
  }
}
