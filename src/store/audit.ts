/**
 * The audit trail: an append-only hash chain. Each row's hash covers its own
 * content and the previous row's hash, so editing or deleting any row breaks every
 * hash after it. Appends happen inside the caller's transaction (no audit, no
 * action) and serialize on the one-row chain head so the chain never forks.
 */
import { createHash } from "node:crypto";
import type { Knex } from "knex";
import { rowsOf } from "./db.js";

export interface AuditEvent {
  kind: string;
  runId?: string | null;
  stepId?: string | null;
  /** Who caused it: a GitHub login, `worker:<id>`, `system`. */
  actor: string;
  /** Never secrets: callers pass ids, states, error classes, not values. */
  data?: Record<string, unknown>;
}

export interface AuditRow {
  seq: number;
  at: string;
  kind: string;
  run_id: string | null;
  step_id: string | null;
  actor: string;
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  /** The row as canonical text (Postgres' jsonb rendering); `hash` covers exactly this. */
  body: string;
}

/** JSON with object keys sorted at every level: one text per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value) ?? "null";
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** The chain link: sha256 over the previous hash and this row's body. Same formula as cl_audit. */
export function auditHash(prevHash: string, body: string): string {
  return createHash("sha256").update(`${prevHash}\n${body}`, "utf8").digest("hex");
}

/**
 * Append events in the caller's transaction. The chain head stays locked until the
 * transaction ends, so call it last before commit.
 */
export async function appendAudit(trx: Knex.Transaction, events: AuditEvent | AuditEvent[]): Promise<void> {
  const list = Array.isArray(events) ? events : [events];
  if (list.length === 0) return;
  await trx.raw("select cl_audit(?::jsonb)", [JSON.stringify(list.map(auditPayload))]);
}

/** An event as cl_audit and the transition functions take it. */
export function auditPayload(e: AuditEvent): { kind: string; run_id: string | null; step_id: string | null; actor: string; data: Record<string, unknown> } {
  return { kind: e.kind, run_id: e.runId ?? null, step_id: e.stepId ?? null, actor: e.actor, data: e.data ?? {} };
}

export interface ChainProblem {
  seq: number;
  message: string;
}

export interface ChainVerdict {
  ok: boolean;
  count: number;
  headSeq: number;
  problems: ChainProblem[];
}

/**
 * The columns of an audit row, with `at` spelled exactly as the hashed body spells it
 * (microseconds, UTC) rather than rounded through a JS Date, so a check can compare
 * the two as text.
 */
export const AUDIT_COLUMNS = `seq, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, kind, run_id, step_id, actor, data, prev_hash, hash, body`;

/** A row selected with AUDIT_COLUMNS. */
export function toAuditRow(r: Record<string, unknown>): AuditRow {
  return {
    seq: Number(r.seq),
    at: String(r.at),
    kind: String(r.kind),
    run_id: (r.run_id as string | null) ?? null,
    step_id: (r.step_id as string | null) ?? null,
    actor: String(r.actor),
    data: (typeof r.data === "string" ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
    prev_hash: String(r.prev_hash),
    hash: String(r.hash),
    body: String(r.body),
  };
}

/** Why a row's columns disagree with the body its hash covers, if they do. */
export function bodyMismatch(row: AuditRow): string | null {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(row.body) as Record<string, unknown>;
  } catch {
    return "body is not JSON";
  }
  if (Number(body.seq) !== row.seq) return "seq differs from the hashed body";
  if (body.at !== row.at) return "at differs from the hashed body";
  for (const k of ["kind", "run_id", "step_id", "actor"] as const) {
    if ((body[k] ?? null) !== row[k]) return `${k} differs from the hashed body`;
  }
  if (canonicalJson(body.data ?? {}) !== canonicalJson(row.data)) return "data differs from the hashed body";
  return null;
}

/**
 * Recompute every hash in order; report gaps, broken links, rewritten bodies and edited
 * columns. Reads one snapshot: on a live system rows are appended while it reads, and
 * the head must be compared with the rows as of the same instant.
 */
export async function verifyAuditChain(db: Knex, pageSize = 2_000, after?: { seq: number; hash: string }): Promise<ChainVerdict> {
  if (db.isTransaction) return verifyInSnapshot(db, pageSize, after);
  return db.transaction(async (trx) => {
    await trx.raw("set transaction isolation level repeatable read, read only");
    return verifyInSnapshot(trx, pageSize, after);
  });
}

/**
 * `after`: rows up to `after.seq` were archived (docs/deploy.md); the chain here
 * starts at the next row, whose prev_hash must be the archive's last hash.
 */
async function verifyInSnapshot(db: Knex, pageSize: number, after?: { seq: number; hash: string }): Promise<ChainVerdict> {
  const problems: ChainProblem[] = [];
  let prevHash = after?.hash ?? "";
  let expectSeq = (after?.seq ?? 0) + 1;
  let count = 0;
  for (;;) {
    const page = rowsOf<Record<string, unknown>>(
      await db.raw(`select ${AUDIT_COLUMNS} from audit_events where seq >= ? order by seq limit ?`, [expectSeq, pageSize]),
    ).map(toAuditRow);
    for (const row of page) {
      if (row.seq !== expectSeq) problems.push({ seq: row.seq, message: `rows ${expectSeq}..${row.seq - 1} are missing` });
      if (row.prev_hash !== prevHash) problems.push({ seq: row.seq, message: "prev_hash does not match the previous row" });
      if (auditHash(row.prev_hash, row.body) !== row.hash) problems.push({ seq: row.seq, message: "hash does not match the row's body" });
      const mismatch = bodyMismatch(row);
      if (mismatch) problems.push({ seq: row.seq, message: mismatch });
      prevHash = row.hash;
      expectSeq = row.seq + 1;
      count++;
    }
    if (page.length < pageSize) break;
  }
  const head = rowsOf<{ seq: string | number; hash: string }>(await db.raw("select seq, hash from audit_head where id = 1"))[0];
  const headSeq = Number(head?.seq ?? 0);
  if (headSeq !== expectSeq - 1 || (head?.hash ?? "") !== prevHash) {
    problems.push({ seq: headSeq, message: `chain head (seq ${headSeq}) does not match the last row (seq ${expectSeq - 1})` });
  }
  return { ok: problems.length === 0, count, headSeq, problems };
}

export async function listAuditEvents(db: Knex, filter: { runId?: string; afterSeq?: number; limit?: number } = {}): Promise<AuditRow[]> {
  const q = db("audit_events").select(db.raw(AUDIT_COLUMNS)).orderBy("seq").limit(filter.limit ?? 1_000);
  if (filter.runId) q.where("run_id", filter.runId);
  if (filter.afterSeq !== undefined) q.where("seq", ">", filter.afterSeq);
  return (await q).map((r: Record<string, unknown>) => toAuditRow(r));
}
