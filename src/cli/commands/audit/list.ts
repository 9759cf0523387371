import type { Store } from "../../../store/db.js";
import { latestAuditRows, readSnapshot, type AuditQuery } from "../../../store/audit-query.js";
import { renderAuditTable } from "../../../audit/table.js";
import { jsonlLine } from "../../../audit/export-format.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";
import { positiveInt } from "../worker.js";
import { instantOption, resolveRunId, runIdOption } from "./options.js";

export const usage = `Usage: clutch-luigi audit list [--run ID] [--kind PREFIX] [--actor LOGIN]
                              [--since ISO] [--until ISO] [--limit N] [--json]

Audit rows in chain order: the newest N that match (default 50), oldest first.
  --run ID       one run (the full id, or the 8-character prefix list prints)
  --kind PREFIX  kinds starting with PREFIX: run. step.failed auth. lock.
  --actor LOGIN  exactly this actor: a GitHub login, worker:<id>, anonymous
  --since ISO    at or after (2026-11-29 or 2026-11-29T10:00:00Z; a zone is required)
  --until ISO    before
  --json         one JSON object per line, with prev_hash, hash and body`;

export interface ListOptions {
  run?: string;
  query: Omit<AuditQuery, "runId">;
  limit: number;
  json: boolean;
}

export function parseList(argv: string[]): ListOptions {
  const { values, positionals } = parseCli(argv, {
    run: { type: "string" },
    kind: { type: "string" },
    actor: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    limit: { type: "string", short: "n" },
    json: { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const since = instantOption(values.since, "--since");
  const until = instantOption(values.until, "--until");
  if (since && until && since >= until) throw new UsageError("--since must be before --until");
  if (values.kind === "") throw new UsageError("--kind needs a prefix");
  const run = runIdOption(values.run, "--run");
  return {
    ...(run ? { run } : {}),
    query: {
      ...(values.kind ? { kindPrefix: values.kind } : {}),
      ...(values.actor !== undefined ? { actor: values.actor } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
    },
    limit: positiveInt(values.limit, "--limit", 50),
    json: Boolean(values.json),
  };
}

export async function executeList(store: Store, opts: ListOptions, io: CliIO): Promise<number> {
  const { rows, more } = await readSnapshot(store.db, async (trx) => {
    const runId = opts.run ? await resolveRunId(trx, opts.run) : undefined;
    return latestAuditRows(trx, { ...opts.query, ...(runId ? { runId } : {}) }, opts.limit);
  });
  if (opts.json) {
    for (const r of rows) io.stdout.write(jsonlLine(r));
  } else if (rows.length === 0) {
    io.stdout.write("no audit rows match\n");
  } else {
    const width = io.stdout.isTTY ? io.stdout.columns || 120 : undefined;
    io.stdout.write(renderAuditTable(rows, width).join("\n") + "\n");
  }
  if (more) io.stderr.write(`showing the newest ${rows.length} matching rows; older ones exist (narrow with --since/--until, or raise --limit)\n`);
  return 0;
}
