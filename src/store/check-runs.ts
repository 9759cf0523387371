/**
 * The current check run per (repository, head SHA, name) as the publisher
 * last wrote it (src/github/publish.ts decides what to write; this only keeps it).
 */
import type { Knex } from "knex";
import { rowsOf } from "./db.js";

export interface CheckRunKey {
  repository: string;
  headSha: string;
  name: string;
}

export interface CurrentCheckRun extends CheckRunKey {
  checkRunId: number;
  status: string;
  conclusion: string | null;
  payloadHash: string;
  annotationsHash: string;
}

/** Rows older than this are removed as new ones are written; GitHub keeps check runs, we only forget their ids. */
export const CHECK_RUN_RETENTION_DAYS = 90;

export async function currentCheckRun(db: Knex, key: CheckRunKey): Promise<CurrentCheckRun | null> {
  const row = rowsOf<{ check_run_id: string | number; status: string; conclusion: string | null; payload_hash: string; annotations_hash: string }>(
    await db.raw("select check_run_id, status, conclusion, payload_hash, annotations_hash from check_runs where repository = ? and head_sha = ? and name = ?", [
      key.repository,
      key.headSha,
      key.name,
    ]),
  )[0];
  if (!row) return null;
  return { ...key, checkRunId: Number(row.check_run_id), status: row.status, conclusion: row.conclusion, payloadHash: row.payload_hash, annotationsHash: row.annotations_hash };
}

/** Records what is now shown; `created` (a new run) also forgets rows past the retention. */
export async function recordCheckRun(db: Knex, run: CurrentCheckRun, created: boolean): Promise<void> {
  await db.raw(
    `insert into check_runs (repository, head_sha, name, check_run_id, status, conclusion, payload_hash, annotations_hash)
     values (?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (repository, head_sha, name) do update set
       check_run_id = excluded.check_run_id, status = excluded.status, conclusion = excluded.conclusion,
       payload_hash = excluded.payload_hash, annotations_hash = excluded.annotations_hash, updated_at = now()`,
    [run.repository, run.headSha, run.name, run.checkRunId, run.status, run.conclusion, run.payloadHash, run.annotationsHash],
  );
  if (created) await db.raw("delete from check_runs where updated_at < now() - make_interval(days => ?)", [CHECK_RUN_RETENTION_DAYS]);
}
