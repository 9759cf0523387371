/**
 * Reading the audit trail for auditors: filtered listings, one run's record, and
 * page-by-page export. Everything runs inside one read-only REPEATABLE READ
 * transaction (`readSnapshot`), so a listing, a run story or a verification sees one
 * consistent chain even while workers keep appending to it.
 */
import type { Knex } from "knex";
import { AUDIT_COLUMNS, toAuditRow, type AuditRow } from "./audit.js";
import { rowsOf } from "./db.js";

export interface AuditQuery {
  runId?: string;
  /** Matches `kind` starting with this text (`step.` or `run.failed`). */
  kindPrefix?: string;
  actor?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  /** Kinds matching this POSIX regular expression (fixed by the caller, never user text). */
  kindRegex?: string;
}

function likePrefix(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`) + "%";
}

function where(q: AuditQuery): { sql: string; bindings: Knex.Value[] } {
  const parts: string[] = [];
  const bindings: Knex.Value[] = [];
  if (q.runId !== undefined) (parts.push("run_id = ?::uuid"), bindings.push(q.runId));
  if (q.kindPrefix !== undefined) (parts.push("kind like ? escape '\\'"), bindings.push(likePrefix(q.kindPrefix)));
  if (q.actor !== undefined) (parts.push("actor = ?"), bindings.push(q.actor));
  if (q.since !== undefined) (parts.push("at >= ?::timestamptz"), bindings.push(q.since.toISOString()));
  if (q.until !== undefined) (parts.push("at < ?::timestamptz"), bindings.push(q.until.toISOString()));
  if (q.kindRegex !== undefined) (parts.push("kind ~ ?"), bindings.push(q.kindRegex));
  return { sql: parts.length > 0 ? `where ${parts.join(" and ")}` : "", bindings };
}

/**
 * Run `fn` in one read-only snapshot. Verification needs it most: without it, rows
 * appended between reading the last page and reading the chain head would look
 * like a broken head.
 */
export async function readSnapshot<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (trx: Knex.Transaction) => {
    await trx.raw("set transaction isolation level repeatable read, read only");
    return fn(trx);
  });
}

/** Whether the schema holds an audit trail at all (an unmigrated database does not). */
export async function hasAuditTables(db: Knex): Promise<boolean> {
  const r = rowsOf<{ t: string | null }>(await db.raw("select to_regclass('audit_events')::text as t"))[0];
  return Boolean(r?.t);
}

/** The newest `limit` matching rows, oldest first, and whether older matches were left out. */
export async function latestAuditRows(db: Knex, q: AuditQuery, limit: number): Promise<{ rows: AuditRow[]; more: boolean }> {
  const w = where(q);
  const rows = rowsOf<Record<string, unknown>>(
    await db.raw(`select ${AUDIT_COLUMNS} from audit_events ${w.sql} order by seq desc limit ?`, [...w.bindings, limit + 1]),
  ).map(toAuditRow);
  const more = rows.length > limit;
  return { rows: rows.slice(0, limit).reverse(), more };
}

/**
 * Every matching row in chain order, a page at a time (keyset on seq, so pages never
 * overlap). A filtered read walks the chain in windows of `pageSize` seqs, each an
 * index range scan: with `order by seq limit N` alone, a filter matching few rows
 * (or one the planner has no statistics for) turns each page into a scan of the
 * whole table. Seqs have no gaps, so a window holds at most `pageSize` rows.
 */
export async function* auditRowPages(db: Knex, q: AuditQuery, pageSize = 2_000): AsyncGenerator<AuditRow[]> {
  const w = where(q);
  if (w.sql === "") {
    let after = 0;
    for (;;) {
      const page = rowsOf<Record<string, unknown>>(
        await db.raw(`select ${AUDIT_COLUMNS} from audit_events where seq > ? order by seq limit ?`, [after, pageSize]),
      ).map(toAuditRow);
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.seq;
    }
  }
  const bounds = rowsOf<{ lo: string | number | null; hi: string | number | null }>(await db.raw("select min(seq) as lo, max(seq) as hi from audit_events"))[0];
  const last = Number(bounds?.hi ?? 0);
  for (let after = Number(bounds?.lo ?? 1) - 1; after < last; after += pageSize) {
    const page = rowsOf<Record<string, unknown>>(
      await db.raw(`select ${AUDIT_COLUMNS} from audit_events ${w.sql} and seq > ? and seq <= ? order by seq`, [...w.bindings, after, after + pageSize]),
    ).map(toAuditRow);
    if (page.length > 0) yield page;
  }
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export async function chainHead(db: Knex): Promise<ChainHead> {
  const r = rowsOf<{ seq: string | number; hash: string }>(await db.raw("select seq, hash from audit_head where id = 1"))[0];
  return { seq: Number(r?.seq ?? 0), hash: r?.hash ?? "" };
}

/**
 * Run ids in the trail that start with `prefix` (at most `max`). Auditors copy the
 * short ids `audit list` prints; the audit rows, not the runs table, are searched so
 * a run whose row was deleted is still found.
 */
export async function runIdsWithPrefix(db: Knex, prefix: string, max = 5): Promise<string[]> {
  const rows = rowsOf<{ run_id: string }>(
    await db.raw("select distinct run_id::text as run_id from audit_events where run_id::text like ? order by 1 limit ?", [likePrefix(prefix.toLowerCase()), max]),
  );
  return rows.map((r) => r.run_id);
}

export interface RunRecordRow {
  id: string;
  workflow: string;
  requestPath: string;
  spec: { workflow?: { name?: string; steps?: { id: string; uses: string }[] }; request?: { reason?: string; params?: Record<string, unknown> } };
  identity: Record<string, unknown>;
  state: string;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface AttemptRecord {
  stepId: string;
  phase: string;
  attempt: number;
  worker: string;
  outcome: string;
  errorClass: string | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface StepRecord {
  stepId: string;
  state: string;
  attempt: number;
  errorClass: string | null;
}

export interface RunRecord {
  /** Null when the runs row is gone: the audit rows still tell the story. */
  run: RunRecordRow | null;
  steps: StepRecord[];
  attempts: AttemptRecord[];
  events: AuditRow[];
  head: ChainHead;
}

const ISO = (col: string): string => `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

function json<T>(v: unknown): T {
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

/** Everything the database holds about one run, read in the caller's snapshot. */
export async function loadRunRecord(db: Knex, runId: string): Promise<RunRecord> {
  const r = rowsOf<Record<string, unknown>>(
    await db.raw(
      `select id::text as id, workflow, request_path, spec, identity, state, error,
              ${ISO("created_at")} as created_at, ${ISO("finished_at")} as finished_at
       from runs where id = ?::uuid`,
      [runId],
    ),
  )[0];
  const run: RunRecordRow | null = r
    ? {
        id: String(r.id),
        workflow: String(r.workflow),
        requestPath: String(r.request_path),
        spec: json(r.spec),
        identity: json(r.identity),
        state: String(r.state),
        error: (r.error as string | null) ?? null,
        createdAt: String(r.created_at),
        finishedAt: (r.finished_at as string | null) ?? null,
      }
    : null;
  const steps = rowsOf<Record<string, unknown>>(
    await db.raw("select step_id, state, attempt, error_class from steps where run_id = ?::uuid order by ord", [runId]),
  ).map((s) => ({ stepId: String(s.step_id), state: String(s.state), attempt: Number(s.attempt), errorClass: (s.error_class as string | null) ?? null }));
  const attempts = rowsOf<Record<string, unknown>>(
    await db.raw(
      `select step_id, phase, attempt, worker, outcome, error_class, error, ${ISO("started_at")} as started_at, ${ISO("finished_at")} as finished_at
       from attempts where run_id = ?::uuid order by started_at, step_id, phase, attempt`,
      [runId],
    ),
  ).map((a) => ({
    stepId: String(a.step_id),
    phase: String(a.phase),
    attempt: Number(a.attempt),
    worker: String(a.worker),
    outcome: String(a.outcome),
    errorClass: (a.error_class as string | null) ?? null,
    error: (a.error as string | null) ?? null,
    startedAt: String(a.started_at),
    finishedAt: (a.finished_at as string | null) ?? null,
  }));
  const events: AuditRow[] = [];
  for await (const page of auditRowPages(db, { runId })) events.push(...page);
  return { run, steps, attempts, events, head: await chainHead(db) };
}

/** The stored hash of row `seq`, or null when there is no such row. */
export async function auditRowHash(db: Knex, seq: number): Promise<string | null> {
  const r = rowsOf<{ hash: string }>(await db.raw("select hash from audit_events where seq = ?", [seq]))[0];
  return r?.hash ?? null;
}

/** Stored hashes of the rows `seqs` that exist, and the last seq present (0: none). */
export async function auditHashesAt(db: Knex, seqs: number[]): Promise<{ hashes: Map<number, string>; lastSeq: number }> {
  const rows = seqs.length
    ? rowsOf<{ seq: string | number; hash: string }>(await db.raw("select seq, hash from audit_events where seq = any(?::bigint[])", [seqs.map(String)]))
    : [];
  const last = rowsOf<{ m: string | number | null }>(await db.raw("select max(seq) as m from audit_events"))[0];
  return { hashes: new Map(rows.map((r) => [Number(r.seq), r.hash])), lastSeq: Number(last?.m ?? 0) };
}
