/**
 * Time-bound runs once they have succeeded: which are in force and until when,
 * moving an expiry (an approved extension), and settling a timer once it fired.
 * The timer itself is armed by the trigger of migration 012; firing it undoes the
 * run through the same roll-back path a person's "Roll back" takes.
 */
import type { Knex } from "knex";
import { rowsOf } from "./db.js";

export interface ActiveExpiry {
  runId: string;
  workflow: string;
  requestPath: string;
  repository: string;
  pullRequest: number | null;
  requester: string;
  lockKey: string | null;
  /** When the run succeeded: the clock started then. */
  startedAt: Date;
  expiresAt: Date;
  /** No extension may move the expiry past this. */
  maxAt: Date;
  extensions: number;
}

const json = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;

function expiryOf(r: Record<string, unknown>): ActiveExpiry {
  const identity = json<{ repository: string; pullRequest?: number; requester: { login: string } }>(r.identity);
  return {
    runId: String(r.run_id),
    workflow: String(r.workflow),
    requestPath: String(r.request_path),
    repository: identity.repository,
    pullRequest: identity.pullRequest ?? null,
    requester: identity.requester.login,
    lockKey: (r.lock_key as string | null) ?? null,
    startedAt: new Date(r.started_at as string),
    expiresAt: new Date(r.expires_at as string),
    maxAt: new Date(r.max_at as string),
    extensions: Number(r.extensions),
  };
}

const ACTIVE = `select e.*, r.workflow, r.request_path, r.identity, r.lock_key
  from run_expiries e join runs r on r.id = e.run_id
  where e.fired_at is null and r.state = 'succeeded'`;

/** Time-bound changes in force, soonest to expire first. */
export async function activeExpiries(db: Knex | Knex.Transaction, filter: { lockKey?: string; repository?: string } = {}): Promise<ActiveExpiry[]> {
  const rows = rowsOf<Record<string, unknown>>(
    await db.raw(`${ACTIVE} and (?::text is null or r.lock_key = ?) order by e.expires_at limit 1000`, [filter.lockKey ?? null, filter.lockKey ?? null]),
  );
  const all = rows.map(expiryOf);
  return filter.repository ? all.filter((e) => e.repository === filter.repository) : all;
}

export async function activeExpiry(db: Knex | Knex.Transaction, runId: string): Promise<ActiveExpiry | null> {
  const r = rowsOf<Record<string, unknown>>(await db.raw(`${ACTIVE} and e.run_id = ?`, [runId]))[0];
  return r ? expiryOf(r) : null;
}

/** For /metrics: changes in force, and seconds until the next one is undone (null when none). */
export async function expiryGauges(db: Knex): Promise<{ active: number; nextSeconds: number | null }> {
  const r = rowsOf<{ n: number; next: number | null }>(
    await db.raw(
      `select count(*)::int as n, extract(epoch from min(e.expires_at) - now())::float8 as next
       from run_expiries e join runs r on r.id = e.run_id where e.fired_at is null and r.state = 'succeeded'`,
    ),
  )[0]!;
  return { active: r.n, nextSeconds: r.next === null ? null : Math.max(0, Number(r.next)) };
}

/** Due timers, taken for this transaction: the caller undoes each run and settles its row in the same transaction. */
export async function claimDueExpiries(trx: Knex.Transaction, limit = 20): Promise<{ runId: string; expiresAt: Date }[]> {
  const rows = rowsOf<{ run_id: string; expires_at: string }>(
    await trx.raw("select run_id, expires_at from run_expiries where fired_at is null and expires_at <= now() order by expires_at limit ? for update skip locked", [limit]),
  );
  return rows.map((r) => ({ runId: r.run_id, expiresAt: new Date(r.expires_at) }));
}

export type ExpiryOutcome = "expired" | "revoked" | "rolled_back" | "not_in_force";

export async function settleExpiry(trx: Knex.Transaction, runId: string, outcome: ExpiryOutcome): Promise<void> {
  await trx.raw("update run_expiries set fired_at = now(), outcome = ? where run_id = ? and fired_at is null", [outcome, runId]);
}

export class ExtensionRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExtensionRefused";
  }
}

/**
 * Move the expiry of an active time-bound run to `durationMs` from now, never past
 * its maximum from when it started. Locks the timer row, so an extension and the
 * expiry firing never both win.
 */
export async function moveExpiry(trx: Knex.Transaction, runId: string, durationMs: number): Promise<{ from: Date; to: Date; extensions: number }> {
  const row = rowsOf<{ expires_at: string; max_at: string; fired_at: string | null; state: string; to: string; extensions: number }>(
    await trx.raw(
      `select e.expires_at, e.max_at, e.fired_at, r.state, now() + ? * interval '1 millisecond' as to, e.extensions
       from run_expiries e join runs r on r.id = e.run_id where e.run_id = ? for update of e`,
      [durationMs, runId],
    ),
  )[0];
  if (!row) throw new ExtensionRefused(`run ${runId} is not a time-bound run that has succeeded`);
  if (row.fired_at !== null || row.state !== "succeeded") throw new ExtensionRefused(`run ${runId} is no longer in force (${row.state}); request it again instead`);
  const to = new Date(row.to);
  const max = new Date(row.max_at);
  if (to.getTime() > max.getTime()) {
    throw new ExtensionRefused(`extending run ${runId} to ${to.toISOString()} would pass its maximum, ${max.toISOString()} (expires.max from when it started)`);
  }
  await trx.raw("update run_expiries set expires_at = ?, extensions = extensions + 1 where run_id = ?", [to, runId]);
  return { from: new Date(row.expires_at), to, extensions: Number(row.extensions) + 1 };
}

export interface ExtensionInput {
  runId: string;
  durationMs: number;
  /** The extension request's key (repository, PR, path): it extends once. */
  requestKey: string;
  actor: string;
  /** For the audit row: the request, its PR and merge commit, its approvers. */
  evidence: Record<string, unknown>;
}

/**
 * Extend an active time-bound run on behalf of an approved, merged request: the
 * expiry moves (never past the run's maximum) and `run.extended` is audited on the
 * extended run, in one transaction. Returns null when this request already extended
 * it (a replayed merge); throws ExtensionRefused when it may not.
 */
export async function extendRun(db: Knex, x: ExtensionInput, audit: (trx: Knex.Transaction, e: { kind: string; runId: string; actor: string; data: Record<string, unknown> }) => Promise<void>): Promise<{ from: Date; to: Date; extensions: number } | null> {
  return db.transaction(async (trx: Knex.Transaction) => {
    const done = rowsOf(await trx.raw("select 1 from run_extensions where request_key = ?", [x.requestKey]));
    if (done.length > 0) return null;
    const moved = await moveExpiry(trx, x.runId, x.durationMs);
    await trx.raw("insert into run_extensions (request_key, run_id, from_at, to_at) values (?, ?, ?, ?)", [x.requestKey, x.runId, moved.from, moved.to]);
    await audit(trx, { kind: "run.extended", runId: x.runId, actor: x.actor, data: { ...x.evidence, from: moved.from.toISOString(), to: moved.to.toISOString(), extensions: moved.extensions } });
    return moved;
  });
}
