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

export function auditHash(row: Omit<AuditRow, "hash">): string {
  const body = canonicalJson({
    seq: Number(row.seq),
    at: row.at,
    kind: row.kind,
    run_id: row.run_id,
    step_id: row.step_id,
    actor: row.actor,
    data: row.data,
  });
  return createHash("sha256").update(row.prev_hash).update("\n").update(body).digest("hex");
}

/**
 * Append events in the caller's transaction. Call it last before commit: the chain
 * head stays locked until the transaction ends, so appends are serialized.
 */
export async function appendAudit(trx: Knex.Transaction, events: AuditEvent | AuditEvent[]): Promise<void> {
  const list = Array.isArray(events) ? events : [events];
  if (list.length === 0) return;
  const head = rowsOf<{ seq: string | number; hash: string }>(
    await trx.raw("update audit_head set seq = seq + ? where id = 1 returning seq - ? as seq, hash", [list.length, list.length]),
  )[0];
  if (!head) throw new Error("audit_head is missing: run migrations");
  let prev = head.hash;
  let seq = Number(head.seq);
  const at = new Date().toISOString();
  const rows: AuditRow[] = list.map((e) => {
    seq += 1;
    const row = {
      seq,
      at,
      kind: e.kind,
      run_id: e.runId ?? null,
      step_id: e.stepId ?? null,
      actor: e.actor,
      data: JSON.parse(canonicalJson(e.data ?? {})) as Record<string, unknown>,
      prev_hash: prev,
    };
    prev = auditHash(row);
    return { ...row, hash: prev };
  });
  await trx.raw(
    `with ins as (
       insert into audit_events (seq, at, kind, run_id, step_id, actor, data, prev_hash, hash)
       select seq, at, kind, run_id, step_id, actor, data, prev_hash, hash
       from jsonb_to_recordset(?::jsonb) as x(seq bigint, at timestamptz, kind text, run_id uuid, step_id text,
                                               actor text, data jsonb, prev_hash text, hash text)
       returning 1
     )
     update audit_head set hash = ? where id = 1`,
    [JSON.stringify(rows), prev],
  );
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

function toRow(r: Record<string, unknown>): AuditRow {
  return {
    seq: Number(r.seq),
    at: new Date(r.at as string | Date).toISOString(),
    kind: String(r.kind),
    run_id: (r.run_id as string | null) ?? null,
    step_id: (r.step_id as string | null) ?? null,
    actor: String(r.actor),
    data: (typeof r.data === "string" ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
    prev_hash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/** Recompute every hash in order; report gaps, broken links and rewritten rows. */
export async function verifyAuditChain(db: Knex, pageSize = 2_000): Promise<ChainVerdict> {
  const problems: ChainProblem[] = [];
  let prevHash = "";
  let expectSeq = 1;
  let count = 0;
  for (;;) {
    const page = rowsOf<Record<string, unknown>>(
      await db.raw("select * from audit_events where seq >= ? order by seq limit ?", [expectSeq, pageSize]),
    ).map(toRow);
    for (const row of page) {
      if (row.seq !== expectSeq) problems.push({ seq: row.seq, message: `rows ${expectSeq}..${row.seq - 1} are missing` });
      if (row.prev_hash !== prevHash) problems.push({ seq: row.seq, message: "prev_hash does not match the previous row" });
      if (auditHash(row) !== row.hash) problems.push({ seq: row.seq, message: "hash does not match the row's content" });
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
  const q = db("audit_events").orderBy("seq").limit(filter.limit ?? 1_000);
  if (filter.runId) q.where("run_id", filter.runId);
  if (filter.afterSeq !== undefined) q.where("seq", ">", filter.afterSeq);
  return (await q).map((r: Record<string, unknown>) => toRow(r));
}
