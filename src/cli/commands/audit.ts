/**
 * `clutch-luigi audit list / show / verify / export`: the audit trail, for auditors
 * answering "who changed production, and who allowed it". Read-only: every
 * subcommand reads one consistent snapshot and never writes to the database.
 */
import type { Store } from "../../store/db.js";
import { UsageError, type CliIO, type Command } from "../command.js";
import { executeExport, parseExport, usage as exportUsage } from "./audit/export.js";
import { executeList, parseList, usage as listUsage } from "./audit/list.js";
import { executeReport, parseReport, usage as reportUsage } from "./audit/report.js";
import { executeShow, parseShow, usage as showUsage } from "./audit/show.js";
import { openAuditStore } from "./audit/store.js";
import { executeVerify, parseVerify, usage as verifyUsage } from "./audit/verify.js";

interface Sub {
  usage: string;
  /** Parsed before the database is opened, so a typo costs nothing. */
  prepare(argv: string[], io: CliIO): (store: Store) => Promise<number>;
}

const SUBS: Record<string, Sub> = {
  list: { usage: listUsage, prepare: (argv, io) => { const o = parseList(argv); return (s) => executeList(s, o, io); } },
  show: { usage: showUsage, prepare: (argv, io) => { const o = parseShow(argv); return (s) => executeShow(s, o, io); } },
  verify: { usage: verifyUsage, prepare: (argv, io) => { const o = parseVerify(argv); return (s) => executeVerify(s, o, io); } },
  export: { usage: exportUsage, prepare: (argv, io) => { const o = parseExport(argv, io.cwd); return (s) => executeExport(s, o, io); } },
  report: { usage: reportUsage, prepare: (argv, io) => { const o = parseReport(argv, io.cwd); return (s) => executeReport(s, o, io); } },
};

const USAGE = `Usage: clutch-luigi audit <list|show|verify|export|report> [options]

  list     audit rows, filtered, as a table or JSON lines
  show     the story of one run: request, identity, state changes, attempts, anchors
  verify   recompute the whole hash chain; exit 1 naming the first broken row
  export   every row with prev_hash/hash/body, as JSON lines or CSV
  report   the evidence of a period: runs, approvals, outcomes, refusals (md, csv, json)

Reads DATABASE_URL, or the embedded database under CLUTCH_LUIGI_DATA_DIR
(default .clutch-luigi/). Run clutch-luigi audit <subcommand> --help for options.

${listUsage}

${showUsage}

${verifyUsage}

${exportUsage}

${reportUsage}`;

export const command: Command = {
  name: "audit",
  summary: "the audit trail for auditors: list, show RUN_ID, verify, export",
  usage: USAGE,
  async run(argv, io) {
    const [name, ...rest] = argv;
    if (!name) throw new UsageError("which subcommand? list, show, verify, export or report");
    const sub = SUBS[name];
    if (!sub) throw new UsageError(`unknown subcommand "${name}" (list, show, verify, export, report)`);
    const execute = sub.prepare(rest, io);
    const store = await openAuditStore(io);
    try {
      return await execute(store);
    } finally {
      await store.close();
    }
  },
};
