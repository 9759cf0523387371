import type { Store } from "../../../store/db.js";
import { openFollowUps } from "../../../store/follow-ups.js";
import { latestAuditRows, readSnapshot, type AuditQuery } from "../../../store/audit-query.js";
import { renderAuditTable } from "../../../audit/table.js";
import { jsonlLine } from "../../../audit/export-format.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";
import { positiveInt } from "../worker.js";
import { instantOption, resolveRunId, runIdOption } from "./options.js";

export const usage = `Usage: clutch-luigi audit list [--run ID] [--kind PREFIX] [--actor LOGIN]
                              [--since ISO] [--until ISO] [--limit N] [--json]
       clutch-luigi audit list --open-follow-ups [--json]

Audit rows in chain order: the newest N that match (default 50), oldest first.
  --run ID       one run (the full id, or the 8-character prefix list prints)
  --kind PREFIX  kinds starting with PREFIX: run. step.failed auth. lock.
  --actor LOGIN  exactly this actor: a GitHub login, worker:<id>, anonymous
  --since ISO    at or after (2026-11-29 or 2026-11-29T10:00:00Z; a zone is required)
  --until ISO    before
  --json         one JSON object per line, with prev_hash, hash and body
  --open-follow-ups  break-glass runs no code owner has followed up yet, oldest first, with their age`;

export interface ListOptions {
  openFollowUps?: boolean;
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
    "open-follow-ups": { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values["open-follow-ups"]) {
    const other = ["run", "kind", "actor", "since", "until", "limit"].find((k) => values[k as keyof typeof values] !== undefined);
    if (other) throw new UsageError(`--open-follow-ups takes no --${other}: it lists every open follow-up`);
    return { openFollowUps: true, query: {}, limit: 1_000, json: Boolean(values.json) };
  }
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

function age(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  return h >= 48 ? `${Math.floor(h / 24)}d` : h >= 1 ? `${h}h` : `${Math.max(0, Math.floor(ms / 60_000))}m`;
}

async function listOpenFollowUps(store: Store, opts: ListOptions, io: CliIO): Promise<number> {
  const rows = await openFollowUps(store.db);
  if (opts.json) {
    for (const r of rows) io.stdout.write(JSON.stringify({ ...r, createdAt: r.createdAt.toISOString() }) + "\n");
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write("no break-glass run is waiting for its follow-up\n");
    return 0;
  }
  const now = Date.now();
  for (const r of rows) {
    io.stdout.write(`${r.runId.slice(0, 8)}  ${r.workflow}  ${r.requestPath}  @${r.requester}  ${r.repository}${r.pullRequest !== null ? `#${r.pullRequest}` : ""}  ${r.state}  open ${age(now - r.createdAt.getTime())}\n`);
  }
  io.stderr.write(`${rows.length} break-glass run${rows.length === 1 ? "" : "s"} without a follow-up: a code owner of the request records one with "Record follow-up" on the run check\n`);
  return 0;
}

export async function executeList(store: Store, opts: ListOptions, io: CliIO): Promise<number> {
  if (opts.openFollowUps) return listOpenFollowUps(store, opts, io);
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
