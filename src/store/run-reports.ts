/**
 * The reporting side of a run: which runs GitHub must be told about, claimed with
 * SKIP LOCKED and a lease so any process can publish and a process that dies
 * mid-update leaves the report to another, and the snapshot a report is drawn from.
 * The audit chain is the change log (see migration 009): nothing here is written
 * by the engine's transitions.
 */
import type { Knex } from "knex";
import type { RunState, StepState } from "../engine/states.js";
import type { StepSpec, WorkflowSpec } from "../formats/types.js";
import { rowsOf } from "./db.js";

export interface RunReportRow {
  runId: string;
  detailsUrl: string | null;
  /** Where the audit anchor goes: the ops repository's default branch. */
  defaultBranch: string | null;
  /** The policy's time zone when the run started, for times in the comment. */
  timeZone: string | null;
  checkRunId: number | null;
  /** The run state the current check run shows; null before the first one. */
  checkState: RunState | null;
  checkHash: string | null;
  commentId: number | null;
  commentHash: string | null;
  anchoredSeq: number;
  wantedSeq: number;
  failures: number;
}

export interface StepSnapshot {
  id: string;
  uses: string;
  needs: string[];
  state: StepState;
  attempt: number;
  rollbackAttempt: number;
  hasRollback: boolean;
  startedAt: Date | null;
  finishedAt: Date | null;
  errorClass: string | null;
  error: string | null;
}

/** A run as its report shows it, read in one snapshot. */
export interface RunSnapshot {
  runId: string;
  workflow: string;
  requestPath: string;
  repository: string;
  pullRequest: number | null;
  commit: string | null;
  requester: string;
  breakGlass: boolean;
  state: RunState;
  error: string | null;
  cancelRequested: boolean;
  lockKey: string | null;
  /** The run holding the lock this one waits for. */
  lockHolder: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  steps: StepSnapshot[];
  /** Steps whose rollback succeeded, in the order they were undone. */
  undone: string[];
  /** A time-bound run's timer: when its change is (or was) undone, and how that ended. */
  expiry: { expiresAt: Date; maxAt: Date; extensions: number; outcome: string | null } | null;
  /** A break-glass run's follow-up review, once recorded. */
  followedUp: { by: string; at: Date } | null;
  /** The run's newest audit row: what this snapshot reflects. */
  lastSeq: number;
  lastHash: string;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const date = (v: unknown): Date | null => (v ? new Date(v as string) : null);
const json = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;

function reportOf(r: Record<string, unknown>): RunReportRow {
  return {
    runId: String(r.run_id),
    detailsUrl: (r.details_url as string | null) ?? null,
    defaultBranch: (r.default_branch as string | null) ?? null,
    timeZone: (r.time_zone as string | null) ?? null,
    checkRunId: num(r.check_run_id),
    checkState: (r.check_state as RunState | null) ?? null,
    checkHash: (r.check_hash as string | null) ?? null,
    commentId: num(r.comment_id),
    commentHash: (r.comment_hash as string | null) ?? null,
    anchoredSeq: Number(r.anchored_seq),
    wantedSeq: Number(r.wanted_seq),
    failures: Number(r.failures),
  };
}

/**
 * Mark reports due from audit rows past the shared cursor. One process scans at a
 * time (the cursor row is taken with SKIP LOCKED); rows up to the committed chain
 * head are all committed, because appends serialize on the head. Returns how many
 * reports became due.
 */
export async function markReportsDue(db: Knex, batch = 5_000): Promise<number> {
  return db.transaction(async (trx) => {
    const cursor = rowsOf<{ seq: string | number }>(await trx.raw("select seq from run_report_cursor where id = 1 for update skip locked"))[0];
    if (!cursor) return 0;
    const from = Number(cursor.seq);
    const head = Number(rowsOf<{ seq: string | number }>(await trx.raw("select seq from audit_head where id = 1"))[0]?.seq ?? 0);
    if (head <= from) return 0;
    const to = Math.min(head, from + batch);
    const marked = rowsOf<{ run_id: string }>(
      await trx.raw(
        `update run_reports r set wanted_seq = greatest(r.wanted_seq, a.seq)
         from (select run_id, max(seq) as seq from audit_events where seq > ? and seq <= ? and run_id is not null group by run_id) a
         where r.run_id = a.run_id and a.seq > r.wanted_seq
         returning r.run_id`,
        [from, to],
      ),
    );
    await trx.raw("update run_report_cursor set seq = ? where id = 1", [to]);
    return marked.length;
  });
}

/**
 * Take up to `limit` due reports for `leaseMs`. A report whose run has no check yet
 * is left alone for `graceMs` after it opened: the process that started the run
 * publishes it first, and two creators would make two check runs.
 */
export async function claimDueReports(db: Knex, opts: { limit: number; leaseMs: number; graceMs: number; runId?: string }): Promise<RunReportRow[]> {
  const rows = rowsOf<Record<string, unknown>>(
    await db.raw(
      `update run_reports r set claimed_until = now() + ?::interval
       where r.run_id in (
         select run_id from run_reports
         where wanted_seq > published_seq and next_at <= now()
           and (claimed_until is null or claimed_until < now())
           and (check_run_id is not null or created_at < now() - ?::interval or ?::uuid is not null)
           and (?::uuid is null or run_id = ?::uuid)
         order by next_at
         limit ?
         for update skip locked)
       returning r.*`,
      [`${opts.leaseMs} milliseconds`, `${opts.graceMs} milliseconds`, opts.runId ?? null, opts.runId ?? null, opts.runId ?? null, opts.limit],
    ),
  );
  return rows.map(reportOf);
}

export interface PublishedReport {
  /** The snapshot's newest audit row: everything up to it is on GitHub. */
  seq: number;
  checkRunId: number;
  checkState: RunState;
  checkHash: string;
  commentId: number | null;
  commentHash: string | null;
  anchoredSeq: number;
  /** The earliest the next write for this run may go out (coalescing). */
  nextAt: Date;
}

export async function recordPublished(db: Knex, runId: string, p: PublishedReport): Promise<void> {
  await db.raw(
    `update run_reports set published_seq = greatest(published_seq, ?), check_run_id = ?, check_state = ?, check_hash = ?,
       comment_id = ?, comment_hash = ?, anchored_seq = ?, next_at = ?, claimed_until = null, failures = 0, last_error = null
     where run_id = ?`,
    [p.seq, p.checkRunId, p.checkState, p.checkHash, p.commentId, p.commentHash, p.anchoredSeq, p.nextAt, runId],
  );
}

/** What was written before the failure is kept (a check created, a comment posted), so a retry does not repeat it. */
export async function recordReportFailure(
  db: Knex,
  runId: string,
  f: { error: string; retryAt: Date; checkRunId?: number | null; checkState?: RunState | null; checkHash?: string | null; commentId?: number | null; commentHash?: string | null },
): Promise<void> {
  await db.raw(
    `update run_reports set failures = failures + 1, last_error = ?, next_at = ?, claimed_until = null,
       check_run_id = coalesce(?, check_run_id), check_state = coalesce(?, check_state), check_hash = coalesce(?, check_hash),
       comment_id = coalesce(?, comment_id), comment_hash = coalesce(?, comment_hash)
     where run_id = ?`,
    [f.error.slice(0, 2_000), f.retryAt, f.checkRunId ?? null, f.checkState ?? null, f.checkHash ?? null, f.commentId ?? null, f.commentHash ?? null, runId],
  );
}

export async function runReport(db: Knex, runId: string): Promise<(RunReportRow & { publishedSeq: number; lastError: string | null }) | null> {
  const r = rowsOf<Record<string, unknown>>(await db.raw("select * from run_reports where run_id = ?", [runId]))[0];
  return r ? { ...reportOf(r), publishedSeq: Number(r.published_seq), lastError: (r.last_error as string | null) ?? null } : null;
}

/** Reports not yet on GitHub, for /metrics and shutdown: how far behind the checks are. */
export async function pendingReports(db: Knex): Promise<number> {
  return Number(rowsOf<{ n: string | number }>(await db.raw("select count(*) as n from run_reports where wanted_seq > published_seq"))[0]?.n ?? 0);
}

interface RunRow {
  workflow: string;
  request_path: string;
  spec: unknown;
  identity: unknown;
  state: RunState;
  error: string | null;
  cancel_requested: boolean;
  lock_key: string | null;
  created_at: string;
  finished_at: string | null;
  holder: string | null;
  expires_at: string | null;
  max_at: string | null;
  extensions: number | null;
  expiry_outcome: string | null;
  followed_up_at: string | null;
  followed_up_by: string | null;
  last_seq: string | number | null;
  last_hash: string | null;
}

/** The run, its steps, what was undone and its newest audit row, in one transaction (a later change is only reported again, never lost). */
export async function loadRunSnapshot(db: Knex, runId: string): Promise<RunSnapshot | null> {
  return db.transaction(
    async (trx) => {
      const run = rowsOf<RunRow>(
        await trx.raw(
          `select r.workflow, r.request_path, r.spec, r.identity, r.state, r.error, r.cancel_requested, r.lock_key, r.created_at, r.finished_at,
             (select l.run_id::text from locks l where l.key = r.lock_key and l.run_id <> r.id) as holder,
             e.expires_at, e.max_at, e.extensions, e.outcome as expiry_outcome, r.followed_up_at, r.followed_up_by,
             a.seq as last_seq, a.hash as last_hash
           from runs r
           left join run_expiries e on e.run_id = r.id
           left join lateral (select seq, hash from audit_events where run_id = r.id order by seq desc limit 1) a on true
           where r.id = ?`,
          [runId],
        ),
      )[0];
      if (!run) return null;
      const steps = rowsOf<Record<string, unknown>>(
        await trx.raw("select step_id, state, attempt, rb_attempt, has_rollback, started_at, finished_at, error_class, error from steps where run_id = ? order by ord", [runId]),
      );
      const undone = rowsOf<{ step_id: string }>(
        await trx.raw("select step_id from attempts where run_id = ? and phase = 'rollback' and outcome = 'rolled_back' order by finished_at, step_id", [runId]),
      );
      const spec = json<{ workflow: WorkflowSpec }>(run.spec);
      const identity = json<{ repository: string; pullRequest?: number; commit?: string; requester: { login: string }; breakGlass?: boolean }>(run.identity);
      const specs = new Map<string, StepSpec>(spec.workflow.steps.map((s) => [s.id, s]));
      return {
        runId,
        workflow: run.workflow,
        requestPath: run.request_path,
        repository: identity.repository,
        pullRequest: identity.pullRequest ?? null,
        commit: identity.commit ?? null,
        requester: identity.requester.login,
        breakGlass: identity.breakGlass === true,
        state: run.state,
        error: run.error,
        cancelRequested: Boolean(run.cancel_requested),
        lockKey: run.lock_key,
        lockHolder: run.holder,
        createdAt: new Date(run.created_at),
        finishedAt: date(run.finished_at),
        steps: steps.map((s) => {
          const id = String(s.step_id);
          return {
            id,
            uses: specs.get(id)?.uses ?? "?",
            needs: specs.get(id)?.needs ?? [],
            state: s.state as StepState,
            attempt: Number(s.attempt),
            rollbackAttempt: Number(s.rb_attempt),
            hasRollback: Boolean(s.has_rollback),
            startedAt: date(s.started_at),
            finishedAt: date(s.finished_at),
            errorClass: (s.error_class as string | null) ?? null,
            error: (s.error as string | null) ?? null,
          };
        }),
        undone: undone.map((u) => u.step_id),
        expiry: run.expires_at ? { expiresAt: new Date(run.expires_at), maxAt: new Date(run.max_at!), extensions: Number(run.extensions ?? 0), outcome: run.expiry_outcome } : null,
        followedUp: run.followed_up_at ? { by: run.followed_up_by ?? "?", at: new Date(run.followed_up_at) } : null,
        lastSeq: Number(run.last_seq ?? 0),
        lastHash: run.last_hash ?? "",
      };
    },
  );
}

/** Put a claimed report back untouched, due again at `at` (another report of the repository was just written). */
export async function deferReport(db: Knex, runId: string, at: Date): Promise<void> {
  await db.raw("update run_reports set claimed_until = null, next_at = ? where run_id = ?", [at, runId]);
}

/**
 * The periodic anchor's turn: at most one process per interval gets it (the cursor
 * row, SKIP LOCKED), and only when the chain has grown since the last one. It is
 * published to the repository of the newest reported run, as that run's installation.
 */
export async function claimPeriodicAnchor(db: Knex, intervalMs: number): Promise<{ runId: string; repository: string; defaultBranch: string } | null> {
  return db.transaction(async (trx) => {
    const row = rowsOf<{ ok: boolean }>(
      await trx.raw(
        `select (anchored_at is null or anchored_at < now() - ?::interval) and anchored_seq < (select seq from audit_head where id = 1) as ok
         from run_report_cursor where id = 1 for update skip locked`,
        [`${intervalMs} milliseconds`],
      ),
    )[0];
    if (!row?.ok) return null;
    const latest = rowsOf<{ run_id: string; identity: unknown; default_branch: string | null }>(
      await trx.raw("select p.run_id, r.identity, p.default_branch from run_reports p join runs r on r.id = p.run_id order by p.created_at desc limit 1"),
    )[0];
    if (!latest) return null;
    await trx.raw("update run_report_cursor set anchored_at = now(), anchored_seq = (select seq from audit_head where id = 1) where id = 1");
    return { runId: latest.run_id, repository: json<{ repository: string }>(latest.identity).repository, defaultBranch: latest.default_branch ?? "main" };
  });
}
